// What the MCP client tests share: a real logwire-broker in a private runtime directory,
// known records put in with `logwire send`, bounded waits, and a clean-up that runs
// whatever happens (a failed check, an exception, a signal, the test's own deadline).
import { spawn } from 'node:child_process';
import {
  closeSync, existsSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export class CheckFailed extends Error {}

// Fails the test with `message` and `detail` (what was seen) unless `condition` holds;
// says "ok - <message>" otherwise, so the log shows how far a failing run got.
export function check(condition, message, detail = '') {
  if (!condition) throw new CheckFailed(detail ? `${message}\n${detail}` : message);
  console.log(`ok - ${message}`);
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// Rejects with `what` when `promise` takes longer than `ms`.
export async function within(ms, what, promise) {
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new CheckFailed(`${what}: no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

// Runs a program to its end, killed after `timeoutMs` with whatever it started (its own
// process group: the Inspector CLI runs node, which runs the bridge); resolves to its exit
// status and output, never rejects.
export function run(command, args, { timeoutMs = 20000, env = process.env, cwd } = {}) {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      env, cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      resolve({ status: -1, stdout, stderr: `${stderr}${error.message}`, timedOut });
    });
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status: status ?? -1, signal, stdout, stderr, timedOut });
    });
  });
}

// Asks `attempt` until it returns a truthy value or `timeoutMs` passes; returns the last
// value it gave.
export async function waitUntil(timeoutMs, attempt) {
  const deadline = Date.now() + timeoutMs;
  let value;
  for (;;) {
    value = await attempt();
    if (value || Date.now() >= deadline) return value;
    await sleep(100);
  }
}

// The records every client test looks for: the ERROR one carries a request ID and fields.
export const SERVICE = 'checkout-api';
export const ERROR_REQUEST_ID = 'req-mcp-4242';
export const ERROR_MESSAGE = 'Payment declined by gateway';
export const RECORDS = [
  { level: 'INFO', message: 'GET /api/cart', args: ['--request-id', 'req-mcp-4241'] },
  { level: 'WARN', message: 'Cart total recalculated', args: ['--field', 'items=3'] },
  {
    level: 'ERROR',
    message: ERROR_MESSAGE,
    args: ['--request-id', ERROR_REQUEST_ID, '--field', 'paymentId=pay-77', '--field',
           'attempt=2'],
  },
];

// "logwire-" and the 64-bit FNV-1a of the runtime dir's path in hex, as runtime_dir names
// its shared-memory segments.
function shmPrefix(runtimeDir) {
  let hash = 0xcbf29ce484222325n;
  for (const byte of Buffer.from(runtimeDir)) {
    hash = ((hash ^ BigInt(byte)) * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return `logwire-${hash.toString(16).padStart(16, '0')}-`;
}

// A broker of its own in a temporary runtime directory. Use with `usingLogwire`, which
// stops it and removes everything it made.
export class LogwireInstance {
  constructor(binDir) {
    this.binDir = binDir;
    this.root = mkdtempSync(join(tmpdir(), 'lw-mcp-clients-'));
    this.runtimeDir = join(this.root, 'rt');
    this.brokerLog = join(this.root, 'broker.log');
    this.broker = null;
    this.httpBridge = null;
  }

  binary(name) {
    return join(this.binDir, name);
  }

  // The logwire-mcp command line an MCP client is to start. --no-start-broker where the
  // bridge has it: the test's broker is the one to ask, and a bridge must not leave a
  // detached broker behind if that one has died.
  async bridgeCommand() {
    const bridge = this.binary('logwire-mcp');
    check(existsSync(bridge), `logwire-mcp is built (${bridge})`);
    const help = await run(bridge, ['--help'], { timeoutMs: 10000 });
    const args = ['--runtime-dir', this.runtimeDir];
    if (help.stdout.includes('--no-start-broker')) args.push('--no-start-broker');
    return { command: bridge, args };
  }

  // logwire-mcp serving Streamable HTTP on a free loopback port (--http 127.0.0.1:0) for
  // the test's broker; resolves to its endpoint, read from the line it writes to stderr.
  // cleanUp() stops it.
  async startHttpBridge() {
    const { command, args } = await this.bridgeCommand();
    this.httpBridge = spawn(command, [...args, '--http', '127.0.0.1:0'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.httpBridgeLog = '';
    this.httpBridgeExit = new Promise((resolve) => {
      this.httpBridge.on('exit', (status, signal) => resolve({ status, signal }));
      this.httpBridge.on('error', (error) => resolve({ status: -1, signal: null, error }));
    });
    const url = await within(10000, 'logwire-mcp --http naming its endpoint', new Promise(
      (resolve) => {
        this.httpBridge.stderr.on('data', (chunk) => {
          this.httpBridgeLog += chunk;
          const found = /serving MCP at (http:\/\/\S+\/mcp)/.exec(this.httpBridgeLog);
          if (found) resolve(found[1]);
        });
        this.httpBridgeExit.then(() => resolve(null));
      }));
    check(url, 'logwire-mcp --http 127.0.0.1:0 serves MCP and says where',
          `its stderr:\n${this.httpBridgeLog}`);
    return url;
  }

  // Stops the HTTP bridge with SIGTERM; resolves to how it ended.
  async stopHttpBridge() {
    if (!this.httpBridge) return null;
    const bridge = this.httpBridge;
    this.httpBridge = null;
    if (bridge.exitCode === null && bridge.signalCode === null) bridge.kill('SIGTERM');
    const ended = await Promise.race([this.httpBridgeExit, sleep(5000).then(() => null)]);
    if (!ended) {
      bridge.kill('SIGKILL');
      await Promise.race([this.httpBridgeExit, sleep(2000)]);
    }
    return ended;
  }

  async logwire(args, timeoutMs = 10000) {
    return run(this.binary('logwire'), ['--runtime-dir', this.runtimeDir, ...args], {
      timeoutMs,
    });
  }

  async startBroker() {
    const log = openSync(this.brokerLog, 'w');
    try {
      this.broker = spawn(
        this.binary('logwire-broker'),
        ['--runtime-dir', this.runtimeDir, '--listen', 'none'],
        { stdio: ['ignore', log, log] },
      );
    } finally {
      closeSync(log);
    }
    this.brokerExit = new Promise((resolve) => {
      this.broker.on('exit', (status, signal) => resolve({ status, signal }));
      this.broker.on('error', (error) => resolve({ status: -1, signal: null, error }));
    });
    // It answers queries once it is up: an empty store gives totalCount 0, not an error.
    const answer = await waitUntil(10000, async () => {
      if (this.broker.exitCode !== null) return null;
      const query = await this.logwire(['query', '--limit', '1'], 3000);
      return query.status === 0 ? query : null;
    });
    check(answer, `logwire-broker answers in ${this.runtimeDir}`, this.brokerOutput());
  }

  // Logs RECORDS through the shared-memory path and waits until the broker holds them.
  async putRecords() {
    for (const record of RECORDS) {
      const sent = await this.logwire([
        'send', '--service', SERVICE, '--level', record.level, ...record.args, record.message,
      ]);
      check(sent.status === 0, `logwire send ${record.level} '${record.message}' exits 0`,
            sent.stderr);
    }
    let last = null;
    const stored = await waitUntil(10000, async () => {
      last = await this.logwire(['query', '--service', SERVICE, '--level', 'INFO']);
      if (last.status !== 0) return false;
      return last.stdout.includes(ERROR_REQUEST_ID) && last.stdout.includes('GET /api/cart') &&
             last.stdout.includes('Cart total recalculated');
    });
    check(stored, `the broker holds the ${RECORDS.length} records sent`,
          `last query:\n${last?.stdout}${last?.stderr}`);
  }

  brokerOutput() {
    try {
      return `broker log:\n${readFileSync(this.brokerLog, 'utf8')}`;
    } catch {
      return '';
    }
  }

  // Stops the broker (SIGTERM, then SIGKILL), forgets its shared memory and removes the
  // temporary directory. Safe to call twice.
  async cleanUp() {
    await this.stopHttpBridge();
    if (this.broker && this.broker.exitCode === null && this.broker.signalCode === null) {
      this.broker.kill('SIGTERM');
      const stopped = await Promise.race([this.brokerExit, sleep(5000).then(() => null)]);
      if (!stopped) {
        this.broker.kill('SIGKILL');
        await Promise.race([this.brokerExit, sleep(2000)]);
      }
    }
    this.broker = null;
    if (existsSync(this.runtimeDir)) {
      const clear = await this.logwire(['clear'], 10000);
      if (clear.status !== 0) console.error(`logwire clear failed: ${clear.stderr}`);
    }
    // Whatever `logwire clear` left (it failed, or the broker could not be stopped): the
    // segments are named for the runtime dir (producer/src/runtime_dir.cc), and a store
    // segment alone holds 256 MiB of /dev/shm.
    const prefix = shmPrefix(this.runtimeDir);
    for (const name of existsSync('/dev/shm') ? readdirSync('/dev/shm') : []) {
      if (!name.startsWith(prefix)) continue;
      console.error(`removing /dev/shm/${name}, left after logwire clear`);
      rmSync(join('/dev/shm', name), { force: true });
    }
    rmSync(this.root, { recursive: true, force: true });
  }
}

// Runs `body(instance)` with a started broker and clean-up whatever happens; exits the
// process: 0 when every check passed, 1 with the reason otherwise. `deadlineMs` bounds
// the whole test (below the ctest TIMEOUT, so the clean-up still runs).
export async function usingLogwire(name, binDir, deadlineMs, body) {
  const instance = new LogwireInstance(binDir);
  let exiting = false;
  const finish = async (status, reason) => {
    if (exiting) return;
    exiting = true;
    if (reason) console.error(`FAIL ${name}: ${reason}`);
    try {
      await instance.cleanUp();
    } catch (error) {
      console.error(`${name}: clean-up failed: ${error.stack ?? error}`);
      status = 1;
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
    await instance.startBroker();
    await body(instance);
    clearTimeout(deadline);
    await finish(0);
  } catch (error) {
    clearTimeout(deadline);
    const reason = error instanceof CheckFailed ? error.message : (error.stack ?? String(error));
    await finish(1, `${reason}\n${instance.brokerOutput()}`);
  }
}
