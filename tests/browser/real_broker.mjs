// A real logwire-broker with its HTTP server on a free loopback port, in a private runtime
// directory, and observe() asked through a real logwire-mcp on stdio: what the browser
// tests need to check that the events the script sends are the events the broker stores.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CheckFailed, check, sleep, waitUntil } from './support.mjs';

// "logwire-" and the 64-bit FNV-1a of the runtime dir's path in hex, as runtime_dir names
// its shared-memory segments (producer/src/runtime_dir.cc).
function shmPrefix(runtimeDir) {
  let hash = 0xcbf29ce484222325n;
  for (const byte of Buffer.from(runtimeDir)) {
    hash = ((hash ^ BigInt(byte)) * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return `logwire-${hash.toString(16).padStart(16, '0')}-`;
}

// Runs a program to its end (killed after `timeoutMs`); resolves to its status and output.
function run(command, args, { timeoutMs = 10000, input = null } = {}) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      resolve({ status: -1, stdout, stderr: `${stderr}${error.message}` });
    });
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status: status ?? -1, stdout, stderr });
    });
    if (input !== null) child.stdin.write(input);
    child.stdin.end();
  });
}

export class RealBroker {
  constructor(binDir) {
    this.binDir = binDir;
    this.root = mkdtempSync(join(tmpdir(), 'lw-browser-'));
    this.runtimeDir = join(this.root, 'rt');
    this.process = null;
    this.output = '';
    this.origin = '';
  }

  binary(name) {
    return join(this.binDir, name);
  }

  // Starts the broker with `--http 127.0.0.1:<port>` (0: a free one) and waits for its line
  // "http: serving on http://127.0.0.1:PORT".
  async start(port = 0) {
    const broker = this.binary('logwire-broker');
    check(existsSync(broker), `logwire-broker is built (${broker})`);
    this.output = '';
    this.process = spawn(broker, ['--runtime-dir', this.runtimeDir, '--listen', 'none',
      '--http', `127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    const collect = (chunk) => (this.output += chunk);
    this.process.stdout.on('data', collect);
    this.process.stderr.on('data', collect);
    this.exited = new Promise((resolve) => this.process.on('exit', resolve));
    const serving = await waitUntil(10000, () =>
      this.output.match(/http: serving on (http:\/\/127\.0\.0\.1:\d+)/) ?? this.process.exitCode !== null);
    check(Array.isArray(serving), 'logwire-broker serves HTTP', this.output);
    this.origin = serving[1];
    return this.origin;
  }

  async stop(signal = 'SIGTERM') {
    if (!this.process || this.process.exitCode !== null || this.process.signalCode !== null) return;
    this.process.kill(signal);
    const stopped = await Promise.race([this.exited.then(() => true), sleep(5000)]);
    if (!stopped) {
      this.process.kill('SIGKILL');
      await Promise.race([this.exited, sleep(2000)]);
    }
  }

  // observe(args) through logwire-mcp on stdio; resolves to the call's structuredContent.
  async observe(args) {
    const lines = [
      { jsonrpc: '2.0', id: 1, method: 'initialize', params: {
        protocolVersion: '2025-06-18', capabilities: {},
        clientInfo: { name: 'logwire-browser-test', version: '0' } } },
      { jsonrpc: '2.0', method: 'notifications/initialized' },
      { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'observe', arguments: args } },
    ].map((message) => `${JSON.stringify(message)}\n`).join('');
    const result = await run(this.binary('logwire-mcp'),
      ['--runtime-dir', this.runtimeDir, '--no-start-broker'], { input: lines, timeoutMs: 15000 });
    const reply = result.stdout.split('\n').filter(Boolean).map((line) => {
      try {
        return JSON.parse(line);
      } catch {
        return null;
      }
    }).find((message) => message?.id === 2);
    if (!reply?.result) {
      throw new CheckFailed(`logwire-mcp did not answer observe(${JSON.stringify(args)})\n` +
        `${result.stdout}\n${result.stderr}`);
    }
    return reply.result.structuredContent ?? {};
  }

  // Stops the broker, clears its runtime dir's shared memory, removes the directory.
  async cleanUp() {
    await this.stop();
    if (existsSync(this.runtimeDir)) {
      const clear = await run(this.binary('logwire'), ['--runtime-dir', this.runtimeDir, 'clear']);
      if (clear.status !== 0) console.error(`logwire clear failed: ${clear.stderr}`);
    }
    const prefix = shmPrefix(this.runtimeDir);
    for (const name of existsSync('/dev/shm') ? readdirSync('/dev/shm') : []) {
      if (name.startsWith(prefix)) rmSync(join('/dev/shm', name), { force: true });
    }
    rmSync(this.root, { recursive: true, force: true });
  }
}
