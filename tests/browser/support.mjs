// What the browser tests share: headless Chromium (Debian's, driven by playwright-core), the
// loopback HTTP servers that play the page's world (the page's origin, a configured API
// origin, a third-party origin, and a stand-in for the broker that records every batch it
// receives and checks it against the contract), bounded waits, and a clean-up that runs
// whatever happens.
import { chromium } from 'playwright-core';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';

export class CheckFailed extends Error {}

// Fails the test with `message` and `detail` (what was seen) unless `condition` holds;
// says "ok - <message>" otherwise, so the log shows how far a failing run got.
export function check(condition, message, detail = '') {
  if (!condition) {
    const seen = typeof detail === 'string' ? detail : JSON.stringify(detail, null, 1);
    throw new CheckFailed(seen ? `${message}\n${seen}` : message);
  }
  console.log(`ok - ${message}`);
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// Asks `attempt` until it returns a truthy value or `timeoutMs` passes; returns the last
// value it gave.
export async function waitUntil(timeoutMs, attempt) {
  const deadline = Date.now() + timeoutMs;
  let value;
  for (;;) {
    value = await attempt();
    if (value || Date.now() >= deadline) return value;
    await sleep(50);
  }
}

export const CHROMIUM = process.env.LOGWIRE_CHROMIUM || '/usr/bin/chromium';

const TRACEPARENT = /^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-01$/;
export function isTraceparent(text) {
  return typeof text === 'string' && TRACEPARENT.test(text);
}

// A loopback port nothing listens on (it was free a moment ago).
export async function freePort() {
  const server = http.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

// One loopback HTTP server: an origin of the test page's world. `handle(request, response,
// body)` answers; every request is recorded (method, path, headers, body).
export class Origin {
  constructor(name, handle, { host = '127.0.0.1' } = {}) {
    this.name = name;
    this.host = host; // the name the page uses for it: 127.0.0.1 or localhost
    this.handle = handle;
    this.requests = [];
    this.sockets = new Set();
    this.port = 0;
  }

  get origin() {
    return `http://${this.host}:${this.port}`;
  }

  async listen(port = 0) {
    this.server = http.createServer((request, response) => {
      const chunks = [];
      request.on('data', (chunk) => chunks.push(chunk));
      request.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const url = new URL(request.url, 'http://x');
        this.requests.push({
          method: request.method, path: url.pathname, query: url.searchParams,
          headers: request.headers, body,
        });
        try {
          this.handle(request, response, body, url);
        } catch (error) {
          response.writeHead(500, { 'Content-Type': 'text/plain' });
          response.end(String(error.stack ?? error));
        }
      });
    });
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', resolve);
    });
    this.port = this.server.address().port;
    return this;
  }

  // Stops listening and drops every open connection (keep-alive ones too), as a process
  // that died would.
  async close() {
    if (!this.server) return;
    const closed = new Promise((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
    this.server = null;
  }

  // Requests to `path` (or all).
  seen(path) {
    return this.requests.filter((request) => !path || request.path === path);
  }
}

// An application origin: serves the test pages (tests/browser/pages, with {{BROKER}} (the
// stand-in's origin, or world.brokerOrigin when set: a real broker),
// {{API}}, {{THIRD}} and {{APP}} filled in) and /api/echo, which answers with the
// correlation headers it received and the status asked for (?status=500). CORS: `cors` is
// 'page' (same origin only), 'api' (the page's origin, with X-Request-ID and traceparent
// allowed) or 'third-party' (any origin, no extra request headers allowed: a request that
// carried them would fail its preflight).
export function appOrigin(name, { pagesDir, cors, host, world }) {
  const handle = (request, response, body, url) => {
    const origin = request.headers.origin;
    const corsHeaders = {};
    if (cors === 'api' && origin) {
      corsHeaders['Access-Control-Allow-Origin'] = origin;
      corsHeaders['Access-Control-Allow-Headers'] = 'content-type, x-request-id, traceparent';
      corsHeaders['Access-Control-Allow-Methods'] = 'GET, POST, PUT';
      corsHeaders.Vary = 'Origin';
    } else if (cors === 'third-party') {
      corsHeaders['Access-Control-Allow-Origin'] = '*';
      corsHeaders['Access-Control-Allow-Headers'] = 'content-type';
      corsHeaders['Access-Control-Allow-Methods'] = 'GET, POST, PUT';
    }
    if (request.method === 'OPTIONS') {
      response.writeHead(204, corsHeaders);
      response.end();
      return;
    }
    if (url.pathname.startsWith('/pages/') && pagesDir) {
      const file = join(pagesDir, url.pathname.slice('/pages/'.length).replace(/\.\./g, ''));
      if (!existsSync(file)) {
        response.writeHead(404, { 'Content-Type': 'text/plain' });
        response.end('no such page');
        return;
      }
      const text = readFileSync(file, 'utf8')
        .replaceAll('{{BROKER}}', world.brokerOrigin ?? world.broker.origin)
        .replaceAll('{{API}}', world.api.origin)
        .replaceAll('{{THIRD}}', world.third.origin)
        .replaceAll('{{APP}}', world.app.origin);
      const headers = { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' };
      if (url.searchParams.get('isolated')) {
        // crossOriginIsolated: performance.now() to 5 µs instead of 100 µs.
        headers['Cross-Origin-Opener-Policy'] = 'same-origin';
        headers['Cross-Origin-Embedder-Policy'] = 'require-corp';
      }
      response.writeHead(200, headers);
      response.end(text);
      return;
    }
    if (url.pathname.startsWith('/api/')) {
      const status = Number(url.searchParams.get('status') || 200);
      const answer = () => {
        response.writeHead(status, { ...corsHeaders, 'Content-Type': 'application/json' });
        response.end(JSON.stringify({
          origin: name,
          requestId: request.headers['x-request-id'] ?? null,
          traceparent: request.headers.traceparent ?? null,
        }));
      };
      const delay = Number(url.searchParams.get('delayMs') || 0);
      if (delay > 0) setTimeout(answer, delay);
      else answer();
      return;
    }
    response.writeHead(404, { ...corsHeaders, 'Content-Type': 'text/plain' });
    response.end('not found');
  };
  return new Origin(name, handle, { host });
}

const KINDS = new Set(['request', 'action', 'console', 'exception', 'rejection', 'page-load']);

// What is wrong with one batch, by the contract (POST /events body); [] when nothing.
export function contractErrors(batch) {
  const errors = [];
  const fail = (what) => errors.push(what);
  if (!batch || typeof batch !== 'object') return ['the batch is not a JSON object'];
  if (batch.v !== 1) fail(`v is ${JSON.stringify(batch.v)}, not 1`);
  // A lone surrogate ("\ud800") is not UTF-8: the broker refuses the whole batch.
  const strings = [];
  const walk = (value) => {
    if (typeof value === 'string') strings.push(value);
    else if (value && typeof value === 'object') Object.values(value).forEach(walk);
  };
  walk(batch);
  const broken = strings.find((text) => !text.isWellFormed());
  if (broken !== undefined) fail(`a string with a lone surrogate: ${JSON.stringify(broken)}`);
  if (!batch.page || typeof batch.page.id !== 'string' || !batch.page.id) fail('no page.id');
  if (batch.page && typeof batch.page.url !== 'string') fail('no page.url');
  if (!Number.isSafeInteger(batch.seq) || batch.seq < 0) fail(`seq ${batch.seq} is not a count`);
  if (!Array.isArray(batch.events) || batch.events.length === 0) fail('no events');
  if (Array.isArray(batch.events) && batch.events.length > 1000) fail('over 1000 events');
  for (const [index, event] of (batch.events ?? []).entries()) {
    const at = `events[${index}] (${event?.kind})`;
    if (!KINDS.has(event?.kind)) fail(`${at}: unknown kind`);
    if (typeof event?.timestamp !== 'number' || !(event.timestamp > 1.5e12)) {
      fail(`${at}: timestamp ${event?.timestamp} is not ms since the epoch`);
    }
    const strings = {
      request: ['method', 'url', 'initiator'], action: ['action', 'selector'],
      console: ['level', 'message'], exception: ['message'], rejection: ['message'],
      'page-load': ['url'],
    }[event?.kind] ?? [];
    for (const key of strings) {
      if (typeof event[key] !== 'string' || !event[key]) fail(`${at}: no ${key}`);
    }
    if (event?.kind === 'request') {
      if (typeof event.durationMs !== 'number' || event.durationMs < 0) fail(`${at}: durationMs`);
      if ('status' in event && !(Number.isInteger(event.status) && event.status > 0)) {
        fail(`${at}: status ${event.status}`);
      }
      if (!event.status && !event.error) fail(`${at}: neither status nor error`);
      if ('traceparent' in event && typeof event.traceparent !== 'string') fail(`${at}: traceparent`);
    }
    const limits = { url: 2048, message: 8192, stack: 16384, selector: 512, text: 512 };
    for (const [key, limit] of Object.entries(limits)) {
      if (typeof event?.[key] === 'string' && Buffer.byteLength(event[key]) > limit) {
        fail(`${at}: ${key} over ${limit} bytes`);
      }
    }
  }
  return errors;
}

// Stands in for the broker: serves /logwire.js from the source tree and takes POST /events
// as the contract says (text/plain or application/json, CORS for the page's origin), keeping
// every batch and what was wrong with it. `status` set to a number answers every POST with
// it instead (a broker that fails).
export class BrokerStandIn extends Origin {
  constructor(scriptPath) {
    super('broker', (request, response, body) => this.answer(request, response, body));
    this.scriptPath = scriptPath;
    this.batches = []; // {batch, contentType, origin, errors}
    this.status = 204;
  }

  answer(request, response, body) {
    const origin = request.headers.origin;
    const cors = origin ? { 'Access-Control-Allow-Origin': origin, Vary: 'Origin' } : {};
    const path = new URL(request.url, 'http://x').pathname;
    if (request.method === 'GET' && path === '/logwire.js') {
      response.writeHead(200, {
        'Content-Type': 'text/javascript', 'Cache-Control': 'no-store',
        'Cross-Origin-Resource-Policy': 'cross-origin',
      });
      response.end(readFileSync(this.scriptPath));
      return;
    }
    if (path === '/events' && request.method === 'OPTIONS') {
      response.writeHead(204, {
        ...cors, 'Access-Control-Allow-Methods': 'POST',
        'Access-Control-Allow-Headers': 'content-type', 'Access-Control-Max-Age': '600',
      });
      response.end();
      return;
    }
    if (path === '/events' && request.method === 'POST') {
      if (this.status !== 204) {
        response.writeHead(this.status, { ...cors, 'Content-Type': 'application/json' });
        response.end('{"error":"unavailable","message":"the stand-in fails on purpose"}');
        return;
      }
      let batch = null;
      let errors;
      try {
        batch = JSON.parse(body);
        errors = contractErrors(batch);
      } catch (error) {
        errors = [`not JSON: ${error.message}`];
      }
      const contentType = request.headers['content-type'] ?? '';
      if (!/^(text\/plain|application\/json)\b/.test(contentType)) {
        errors.push(`Content-Type ${contentType}`);
      }
      this.batches.push({ batch, contentType, origin, errors });
      response.writeHead(errors.length ? 400 : 204, cors);
      response.end(errors.length ? JSON.stringify({ error: 'bad_batch', message: errors[0] }) : '');
      return;
    }
    response.writeHead(404, { 'Content-Type': 'text/plain' });
    response.end('not found');
  }

  // Every batch that broke the contract, with what was wrong.
  contractViolations() {
    return this.batches.filter((entry) => entry.errors.length);
  }

  // The events received, each once by (page id, sequence) as the broker stores them, in
  // sequence order, with `seq` and `pageId` added.
  events() {
    const byKey = new Map();
    for (const { batch, errors } of this.batches) {
      if (errors.length) continue;
      batch.events.forEach((event, index) => {
        const key = `${batch.page.id}/${batch.seq + index}`;
        if (!byKey.has(key)) byKey.set(key, { ...event, seq: batch.seq + index, pageId: batch.page.id });
      });
    }
    return [...byKey.values()].sort((a, b) => a.seq - b.seq);
  }
}

// The page's world: the app origin (127.0.0.1), an API origin the script is told about
// (localhost, another port), a third-party origin it is not told about, and the broker.
export async function startWorld({ scriptPath, pagesDir }) {
  const world = {};
  world.broker = await new BrokerStandIn(scriptPath).listen();
  world.app = await appOrigin('app', { pagesDir, cors: 'page', host: '127.0.0.1', world }).listen();
  world.api = await appOrigin('api', { cors: 'api', host: 'localhost', world }).listen();
  world.third = await appOrigin('third', { cors: 'third-party', host: '127.0.0.1', world }).listen();
  world.close = async () => {
    for (const origin of [world.broker, world.app, world.api, world.third]) await origin.close();
  };
  return world;
}

// Headless Chromium with the page's uncaught errors and console kept per page.
export async function launchChromium() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // localhost and 127.0.0.1 both reach the loopback servers.
    args: ['--disable-gpu', '--no-first-run', '--disable-dev-shm-usage'],
    timeout: 60000,
  });
}

// Opens `url` in a new context; `page.errors` collects what reached the page as uncaught
// errors (the script must add none), `page.consoleLines` the console.
export async function openPage(browser, url) {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.errors = [];
  page.consoleLines = [];
  page.on('pageerror', (error) => page.errors.push(String(error.stack ?? error)));
  page.on('console', (message) => page.consoleLines.push(`${message.type()}: ${message.text()}`));
  await page.goto(url, { waitUntil: 'load' });
  return page;
}

// Runs `body({world, browser, scriptPath, pagesDir, args})` (args: the command line's
// after the script and pages) and exits: 0 when every check passed, 1 with
// the reason otherwise, 77 (skip) when Chromium is not installed. Every server and the
// browser are stopped whatever happens; `deadlineMs` bounds the whole test.
export async function browserTest(name, deadlineMs, body) {
  const [scriptPath, pagesDir, ...args] = process.argv.slice(2);
  if (!existsSync(CHROMIUM)) {
    console.log(`skipped: ${CHROMIUM} not found; tools/install-deps.sh installs it (Debian package chromium)`);
    process.exit(77);
  }
  let world = null;
  let browser = null;
  let exiting = false;
  const cleanUps = []; // the body's own (onCleanUp), run last first
  const finish = async (status, reason) => {
    if (exiting) return;
    exiting = true;
    if (reason) console.error(`FAIL ${name}: ${reason}`);
    try {
      if (browser) await browser.close();
    } catch (error) {
      console.error(`closing Chromium: ${error.message}`);
    }
    for (const cleanUp of cleanUps.reverse()) {
      try {
        await cleanUp();
      } catch (error) {
        console.error(`clean-up: ${error.stack ?? error}`);
        status = 1;
      }
    }
    try {
      if (world) await world.close();
    } catch (error) {
      console.error(`closing the servers: ${error.message}`);
    }
    if (status === 0) console.log(`PASS ${name}`);
    process.exit(status);
  };
  const deadline = setTimeout(
    () => finish(1, `the test did not end within ${deadlineMs} ms`), deadlineMs);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(signal, () => finish(1, `stopped by ${signal}`));
  }
  try {
    world = await startWorld({ scriptPath, pagesDir });
    browser = await launchChromium();
    await body({
      world, browser, scriptPath, pagesDir, args,
      onCleanUp: (cleanUp) => cleanUps.push(cleanUp),
    });
    clearTimeout(deadline);
    await finish(0);
  } catch (error) {
    clearTimeout(deadline);
    await finish(1, error instanceof CheckFailed ? error.message : (error.stack ?? String(error)));
  }
}
