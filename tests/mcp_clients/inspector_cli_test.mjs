// logwire-mcp driven by the MCP Inspector's CLI mode, the tool developers use to try an
// MCP server by hand: it starts the bridge on stdio (or connects to one serving Streamable
// HTTP), runs one method and prints the result as JSON, which the test reads.
//
//   node inspector_cli_test.mjs <dir of the logwire binaries> [stdio | http]
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

import {
  ERROR_MESSAGE,
  ERROR_REQUEST_ID,
  SERVICE,
  check,
  run,
  usingLogwire,
} from './logwire_instance.mjs';

const binDir = process.argv[2];
const transportName = process.argv[3] ?? 'stdio';
if (!binDir || !['stdio', 'http'].includes(transportName)) {
  console.error('usage: node inspector_cli_test.mjs <dir of the logwire binaries> [stdio | http]');
  process.exit(2);
}

// The CLI's entry point, from the package's own bin field.
const require = createRequire(import.meta.url);
const packageFile = require.resolve('@modelcontextprotocol/inspector-cli/package.json');
const inspectorPackage = JSON.parse(readFileSync(packageFile, 'utf8'));
const inspectorCli = join(dirname(packageFile), inspectorPackage.bin['mcp-inspector-cli']);

// One CLI run: '--cli <target> --method ...', the target being the bridge's command line
// or its URL and '--transport http'; returns the JSON it printed.
async function inspect(target, methodArgs) {
  const args = [inspectorCli, '--cli', ...target, ...methodArgs];
  // 1.0.3 finds its package.json by checking "../package.json" against the working
  // directory but importing it relative to its own module; from the directory of that
  // module both name the same file.
  const result = await run(process.execPath, args, {
    timeoutMs: 30000,
    cwd: dirname(inspectorCli),
  });
  const shown = `mcp-inspector-cli ${methodArgs.join(' ')}: exit ${result.status}` +
                `${result.timedOut ? ' (killed after 30 s)' : ''}\n` +
                `stdout:\n${result.stdout}\nstderr:\n${result.stderr}`;
  check(result.status === 0, `mcp-inspector-cli ${methodArgs.join(' ')} exits 0`, shown);
  let output;
  try {
    output = JSON.parse(result.stdout);
  } catch (error) {
    check(false, 'mcp-inspector-cli prints JSON', `${error.message}\n${shown}`);
  }
  return { output, shown };
}

await usingLogwire(`inspector_cli_test ${transportName}`, binDir, 90000, async (logwire) => {
  check(inspectorPackage.version === '1.0.3', 'the Inspector CLI is the pinned 1.0.3',
        `installed: ${inspectorPackage.version}`);
  await logwire.putRecords();
  let bridge;
  if (transportName === 'http') {
    bridge = [await logwire.startHttpBridge(), '--transport', 'http'];
  } else {
    const { command, args } = await logwire.bridgeCommand();
    bridge = [command, ...args];
  }

  {
    const { output, shown } = await inspect(bridge, ['--method', 'tools/list']);
    const observe = output.tools?.find((tool) => tool.name === 'observe');
    check(observe !== undefined, 'tools/list through the Inspector offers observe', shown);
    check(observe.inputSchema?.type === 'object' &&
            observe.inputSchema.properties?.what !== undefined,
          'with an object inputSchema that has what');
  }
  {
    const { output, shown } = await inspect(bridge, [
      '--method', 'tools/call', '--tool-name', 'observe',
      '--tool-arg', 'what=backend-logs', 'level=ERROR', `service=${SERVICE}`,
    ]);
    check(output.isError !== true, 'observe through the Inspector is no error', shown);
    const logs = output.structuredContent?.logs;
    check(Array.isArray(logs) && logs.length === 1,
          `exactly the one ERROR record of ${SERVICE} comes back`, shown);
    check(logs[0].message === ERROR_MESSAGE && logs[0].requestId === ERROR_REQUEST_ID &&
            logs[0].level === 'ERROR',
          `it is '${ERROR_MESSAGE}' with requestId ${ERROR_REQUEST_ID}`, shown);
    const text = output.content?.find((item) => item.type === 'text')?.text ?? '';
    check(text.includes(ERROR_REQUEST_ID), 'the text content names the request ID');
  }
  {
    // The other spelling of the mode, and a filter by request ID.
    const { output, shown } = await inspect(bridge, [
      '--method', 'tools/call', '--tool-name', 'observe',
      '--tool-arg', 'what=backend_logs', `requestId=${ERROR_REQUEST_ID}`,
    ]);
    const logs = output.structuredContent?.logs;
    check(Array.isArray(logs) && logs.length === 1 && logs[0].message === ERROR_MESSAGE,
          "what:'backend_logs' with requestId finds the one record of that request", shown);
  }
  {
    const { output, shown } = await inspect(bridge, [
      '--method', 'tools/call', '--tool-name', 'observe',
      '--tool-arg', 'what=backend-logs', 'level=LOUD',
    ]);
    check(output.isError === true && output.structuredContent?.error?.code === 'invalid_param',
          "level:'LOUD' through the Inspector is isError with invalid_param", shown);
  }
});
