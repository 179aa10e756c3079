// The payment demo end to end, in real headless Chromium: the checkout page (served by
// logwire-demo-payment, with the broker's logwire.js) clicks "Submit Payment", the backend
// fails with 500, and observe({what: 'timeline', requestId}) through logwire-mcp returns
// the click, the request, the backend's records and the 500, in that order, the backend's
// joined with correlation "exact".
//
//   node payment_demo_test.mjs <dir with node_modules/playwright-core> <dir of the binaries>
//
// Chromium is /usr/bin/chromium (Debian's), or $LOGWIRE_CHROMIUM. Exits 0 when every check
// passed, 1 with the reason otherwise; stops everything it started and removes its
// runtime directory whatever happens, within its own deadline (90 s).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const DEADLINE_MS = 90000;
const [modulesDir, binDir] = process.argv.slice(2);
if (!modulesDir || !binDir) {
  console.error('usage: node payment_demo_test.mjs <dir with node_modules> <dir of the binaries>');
  process.exit(2);
}
const chromiumPath = process.env.LOGWIRE_CHROMIUM || '/usr/bin/chromium';
const { chromium } = createRequire(join(resolve(modulesDir), 'package.json'))('playwright-core');

class CheckFailed extends Error {}

function check(condition, message, detail = '') {
  if (!condition) throw new CheckFailed(detail ? `${message}\n${detail}` : message);
  console.log(`ok - ${message}`);
}

const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

async function waitUntil(timeoutMs, attempt) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await attempt();
    if (value || Date.now() >= deadline) return value;
    await sleep(100);
  }
}

// "logwire-" and the 64-bit FNV-1a of the runtime dir's path in hex: the prefix of the
// shared-memory segments of that runtime dir (producer/src/runtime_dir.cc).
function shmPrefix(runtimeDir) {
  let hash = 0xcbf29ce484222325n;
  for (const byte of Buffer.from(runtimeDir)) {
    hash = ((hash ^ BigInt(byte)) * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return `logwire-${hash.toString(16).padStart(16, '0')}-`;
}

// A process of the test, its output kept; stop() ends it (SIGTERM, then SIGKILL).
class Child {
  constructor(name, command, args, { stdin = false } = {}) {
    this.name = name;
    this.output = '';
    this.process = spawn(command, args, { stdio: [stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    this.exited = new Promise((done) => {
      this.process.on('exit', (status, signal) => done({ status, signal }));
      this.process.on('error', (error) => done({ status: -1, error }));
    });
    this.process.stderr.on('data', (chunk) => (this.output += chunk));
    if (!stdin) this.process.stdout.on('data', (chunk) => (this.output += chunk));
  }

  running() {
    return this.process.exitCode === null && this.process.signalCode === null;
  }

  // The first group of `pattern` in the output, once it appears (null after `timeoutMs`).
  async find(pattern, timeoutMs) {
    return waitUntil(timeoutMs, () => pattern.exec(this.output)?.[1] ?? (this.running() ? null : ''))
      .then((found) => found || null);
  }

  async stop() {
    if (!this.running()) return;
    this.process.kill('SIGTERM');
    if (!(await Promise.race([this.exited, sleep(5000).then(() => null)]))) {
      this.process.kill('SIGKILL');
      await Promise.race([this.exited, sleep(2000)]);
    }
  }
}

// logwire-mcp on stdio, spoken to line by line as an agent's host does.
class Bridge extends Child {
  constructor(runtimeDir) {
    super('logwire-mcp', join(binDir, 'logwire-mcp'),
          ['--runtime-dir', runtimeDir, '--no-start-broker'], { stdin: true });
    this.pending = '';
    this.lines = [];
    this.process.stdout.on('data', (chunk) => {
      this.pending += chunk;
      let newline;
      while ((newline = this.pending.indexOf('\n')) >= 0) {
        this.lines.push(this.pending.slice(0, newline));
        this.pending = this.pending.slice(newline + 1);
      }
    });
    this.nextId = 1;
  }

  async call(method, params) {
    const id = this.nextId++;
    this.process.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id, method, params })}\n`);
    const line = await waitUntil(10000, () => {
      const index = this.lines.findIndex((text) => {
        try {
          return JSON.parse(text).id === id;
        } catch {
          return false;
        }
      });
      return index < 0 ? null : this.lines.splice(index, 1)[0];
    });
    check(line, `logwire-mcp answers ${method} within 10 s`, this.output);
    return JSON.parse(line);
  }

  async initialize() {
    const reply = await this.call('initialize', {
      protocolVersion: '2025-06-18', capabilities: {},
      clientInfo: { name: 'payment-demo-test', version: '1' },
    });
    check(reply.result?.protocolVersion === '2025-06-18', 'logwire-mcp initializes',
          JSON.stringify(reply));
    this.process.stdin.write('{"jsonrpc":"2.0","method":"notifications/initialized"}\n');
  }

  async observe(args) {
    const reply = await this.call('tools/call', { name: 'observe', arguments: args });
    return reply.result ?? { isError: true, error: reply.error };
  }
}

const BACKEND_RECORDS = [
  ['INFO', 'POST /api/payments/process'],
  ['DEBUG', 'User 987 processing payment'],
  ['ERROR', 'Payment gateway timeout'],
  ['ERROR', 'Returning 500 to client'],
];

// Where in the timeline's entries each step of the story is; -1 when it is not there.
// (Shapes: broker/include/logwire/query_protocol.h, observe timeline.)
function findSteps(entries, requestId) {
  const isBrowser = (entry) => entry.source === 'browser';
  const isOurRequest = (entry, kind) => isBrowser(entry) && entry.kind === kind &&
    entry.requestId === requestId && entry.method === 'POST' &&
    new URL(entry.url ?? 'about:blank').pathname === '/api/payments/process';
  return {
    click: entries.findIndex((entry) => isBrowser(entry) && entry.kind === 'action' &&
      entry.action === 'click' && entry.selector === 'button#pay' &&
      entry.text === 'Submit Payment'),
    sent: entries.findIndex((entry) => isOurRequest(entry, 'request-sent')),
    backend: BACKEND_RECORDS.map(([level, message]) => entries.findIndex(
      (entry) => entry.source === 'backend' && entry.level === level &&
        entry.message === message)),
    answered: entries.findIndex((entry) => isOurRequest(entry, 'request-answered')),
  };
}

const complete = (steps) =>
  steps.click >= 0 && steps.sent >= 0 && steps.answered >= 0 && steps.backend.every((i) => i >= 0);

let finishing = false;
const children = [];
let browser = null;
const root = mkdtempSync(join(tmpdir(), 'lw-payment-demo-'));
const runtimeDir = join(root, 'rt');

async function cleanUp() {
  if (browser) await browser.close().catch(() => {});
  for (const child of children.reverse()) await child.stop();
  if (existsSync(runtimeDir)) {
    const clear = new Child('logwire clear', join(binDir, 'logwire'),
                            ['--runtime-dir', runtimeDir, 'clear']);
    await Promise.race([clear.exited, sleep(10000)]);
    await clear.stop();
  }
  const prefix = shmPrefix(runtimeDir);
  for (const name of existsSync('/dev/shm') ? readdirSync('/dev/shm') : []) {
    if (name.startsWith(prefix)) rmSync(join('/dev/shm', name), { force: true });
  }
  rmSync(root, { recursive: true, force: true });
}

async function finish(status, reason) {
  if (finishing) return;
  finishing = true;
  if (reason) console.error(`FAIL payment_demo_test: ${reason}`);
  if (status !== 0) {
    for (const child of children) console.error(`--- ${child.name}:\n${child.output}`);
  }
  try {
    await cleanUp();
  } catch (error) {
    console.error(`clean-up failed: ${error.stack ?? error}`);
    status = 1;
  }
  if (status === 0) console.log('PASS payment_demo_test');
  process.exit(status);
}

setTimeout(() => finish(1, `the test did not end within ${DEADLINE_MS} ms`), DEADLINE_MS)
  .unref();
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => finish(1, `stopped by ${signal}`));
}

async function test() {
  const broker = new Child('logwire-broker', join(binDir, 'logwire-broker'),
                           ['--runtime-dir', runtimeDir, '--listen', 'none', '--http', '127.0.0.1:0']);
  children.push(broker);
  const brokerPort = await broker.find(/http: serving on http:\/\/127\.0\.0\.1:(\d+)/, 10000);
  check(brokerPort, 'logwire-broker --http 127.0.0.1:0 serves HTTP and names its port');
  const brokerOrigin = `http://127.0.0.1:${brokerPort}`;

  const app = new Child('logwire-demo-payment', join(binDir, 'logwire-demo-payment'),
                        ['--runtime-dir', runtimeDir, '--serve', '127.0.0.1:0',
                         '--broker-http', brokerOrigin]);
  children.push(app);
  const pageUrl = await app.find(/serving the checkout page on (http:\/\/\S+)/, 10000);
  check(pageUrl, 'logwire-demo-payment --serve names the page it serves');

  browser = await chromium.launch({ executablePath: chromiumPath, headless: true });
  const page = await browser.newPage();
  const pageErrors = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));
  const scriptLoaded = page.waitForResponse(
    (answer) => answer.url() === `${brokerOrigin}/logwire.js`, { timeout: 10000 });
  await page.goto(pageUrl, { waitUntil: 'load', timeout: 15000 });
  check((await scriptLoaded).status() === 200, 'the page loads logwire.js from the broker');

  const [request] = await Promise.all([
    page.waitForRequest((sent) => sent.method() === 'POST' &&
                          sent.url() === new URL('/api/payments/process', pageUrl).href,
                        { timeout: 10000 }),
    page.click('button#pay', { timeout: 10000 }),
  ]);
  const response = await request.response();
  check(response?.status() === 500, 'the click posts to /api/payments/process, answered 500',
        `status ${response?.status()}`);
  const headers = await request.allHeaders();
  const requestId = headers['x-request-id'] ?? '';
  const traceparent = headers.traceparent ?? '';
  check(requestId.length > 0, `logwire.js gave the request an X-Request-ID (${requestId})`);
  check(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[0-9a-f]$/.test(traceparent),
        `and a W3C traceparent (${traceparent})`);
  check(response.headers()['x-request-id'] === requestId,
        'the backend answers with the X-Request-ID it was given');
  await page.waitForSelector('#result.failed', { timeout: 10000 });
  check(/500/.test(await page.textContent('#result')), 'the page shows the payment failed (500)');
  check(pageErrors.length === 0, 'the page threw nothing', pageErrors.join('\n'));

  const bridge = new Bridge(runtimeDir);
  children.push(bridge);
  await bridge.initialize();
  const args = { what: 'timeline', requestId };
  // The page's events reach the broker in batches, the backend's records through its ring:
  // ask until the whole story is in (the page stays open, so its batches keep flowing).
  let result = null;
  let steps = null;
  await waitUntil(15000, async () => {
    result = await bridge.observe(args);
    if (result.isError) return true;
    steps = findSteps(result.structuredContent?.entries ?? [], requestId);
    return complete(steps);
  });
  const shown = JSON.stringify(result, null, 1);
  check(!result.isError, `observe(${JSON.stringify(args)}) answers`, shown);
  const entries = result.structuredContent.entries;
  check(complete(steps), 'the timeline holds the click, the request sent, the four backend ' +
        'records and the request answered', shown);
  const order = [steps.click, steps.sent, ...steps.backend, steps.answered];
  check(order.every((index, i) => i === 0 || index > order[i - 1]),
        'in that order: click, POST sent, INFO, DEBUG, ERROR, ERROR, 500 answered',
        `indexes ${order.join(', ')}\n${shown}`);
  check(entries[steps.answered].status === 500, 'the request is answered with status 500',
        JSON.stringify(entries[steps.answered]));
  const timestamps = entries.map((entry) => entry.timestamp);
  check(timestamps.every((time, i) => i === 0 || time >= timestamps[i - 1]),
        'the entries are in time order', timestamps.join('\n'));
  const traceId = traceparent.split('-')[1];
  for (const index of steps.backend) {
    const entry = entries[index];
    check(entry.correlation === 'exact' && entry.service === 'api-server' &&
            entry.requestId === requestId,
          `backend '${entry.message}' is api-server's, joined by request ID: correlation exact`,
          JSON.stringify(entry));
    check(entry.traceId === traceId, `  and carries the browser's trace ${traceId}`,
          JSON.stringify(entry));
  }
  // The story as the product spec's "Developer's view" tells it: click -> POST with the
  // request ID -> the backend's lines -> 500; first in the answer's JSON, and first in the
  // text the agent reads.
  const story = new RegExp(`^click "Submit Payment".*→ POST /api/payments/process ${requestId} → ` +
                           'api-server: INFO .*DEBUG .*ERROR .*ERROR .*→ 500');
  const summary = result.structuredContent.summary ?? '';
  check(story.test(summary), `the timeline's summary tells the story: ${summary}`);
  const firstLine = result.content?.[0]?.text?.split('\n')[0] ?? '';
  check(firstLine.includes(summary), `the text the agent reads opens with it: ${firstLine}`);
}

try {
  if (!existsSync(chromiumPath)) throw new CheckFailed(`no Chromium at ${chromiumPath}`);
  await test();
  await finish(0);
} catch (error) {
  await finish(1, error instanceof CheckFailed ? error.message : (error.stack ?? String(error)));
}
