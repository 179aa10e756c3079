// logwire-mcp driven by the official MCP TypeScript SDK's client, as an agent's host would
// drive it: over stdio (StdioClientTransport starts the bridge) or over Streamable HTTP
// (the bridge runs with --http, StreamableHTTPClientTransport connects), Client
// negotiates, lists the tools and calls observe against a real broker holding known
// records.
//
//   node sdk_client_test.mjs <dir of the logwire binaries> [stdio | http]
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  LATEST_PROTOCOL_VERSION,
  McpError,
  SUPPORTED_PROTOCOL_VERSIONS,
} from '@modelcontextprotocol/sdk/types.js';

import {
  ERROR_MESSAGE,
  ERROR_REQUEST_ID,
  SERVICE,
  check,
  usingLogwire,
  within,
} from './logwire_instance.mjs';

const REQUEST_TIMEOUT_MS = 10000;
const options = { timeout: REQUEST_TIMEOUT_MS };

const binDir = process.argv[2];
const transportName = process.argv[3] ?? 'stdio';
if (!binDir || !['stdio', 'http'].includes(transportName)) {
  console.error('usage: node sdk_client_test.mjs <dir of the logwire binaries> [stdio | http]');
  process.exit(2);
}

function isRunning(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function checkNegotiation(client, negotiated) {
  check(negotiated.version === LATEST_PROTOCOL_VERSION,
        `the bridge agrees to the SDK's newest protocol version ${LATEST_PROTOCOL_VERSION}`,
        `negotiated: ${negotiated.version}`);
  check(SUPPORTED_PROTOCOL_VERSIONS.includes(negotiated.version),
        'the negotiated version is one the SDK supports');
  const server = client.getServerVersion();
  check(server?.name === 'logwire' && typeof server.version === 'string' &&
          server.version.length > 0,
        'serverInfo names logwire and its version', JSON.stringify(server));
  check(client.getServerCapabilities()?.tools !== undefined,
        'the bridge declares the tools capability');
  check((client.getInstructions() ?? '').includes('observe'),
        'the instructions tell the agent about observe');
}

async function checkToolsList(client) {
  const { tools } = await client.listTools({}, options);
  const observe = tools.find((tool) => tool.name === 'observe');
  check(observe !== undefined, 'tools/list offers observe',
        `tools: ${tools.map((tool) => tool.name).join(', ')}`);
  check(typeof observe.description === 'string' && observe.description.length > 0,
        'observe has a description');
  const schema = observe.inputSchema;
  check(schema?.type === 'object' && typeof schema.properties === 'object',
        'observe has an object inputSchema with properties');
  check(Array.isArray(schema.properties.what?.enum) &&
          schema.properties.what.enum.includes('backend-logs'),
        "the schema's what accepts 'backend-logs'");
  check(Array.isArray(schema.properties.level?.enum) &&
          schema.properties.level.enum.includes('ERROR'),
        "the schema's level lists ERROR");
}

async function checkErrorRecordFound(client) {
  const result = await client.callTool(
    { name: 'observe', arguments: { what: 'backend-logs', level: 'ERROR' } }, undefined,
    options);
  const shown = JSON.stringify(result);
  check(result.isError !== true, 'observe level:ERROR is no error', shown);
  const logs = result.structuredContent?.logs;
  check(Array.isArray(logs), 'structuredContent has logs', shown);
  check(logs.every((log) => log.level === 'ERROR' || log.level === 'FATAL'),
        'level is a minimum severity: no INFO or WARN record comes back');
  const record = logs.find((log) => log.message === ERROR_MESSAGE);
  check(record !== undefined, `structuredContent.logs holds '${ERROR_MESSAGE}'`, shown);
  check(record.requestId === ERROR_REQUEST_ID && record.service === SERVICE,
        `the record carries requestId ${ERROR_REQUEST_ID} and service ${SERVICE}`,
        JSON.stringify(record));
  check(record.fields?.paymentId === 'pay-77' && record.fields?.attempt === 2,
        'the record keeps its typed fields', JSON.stringify(record));
  check(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(record.timestamp ?? ''),
        'timestamp is RFC 3339 UTC with milliseconds', record.timestamp);
  const text = result.content?.find((item) => item.type === 'text')?.text ?? '';
  check(text.includes(ERROR_REQUEST_ID) && text.includes(ERROR_MESSAGE),
        'the text content names the request ID and the message too');
  check(text.split('\n')[0].length > 0 && !text.startsWith('{'),
        'the text opens with a human-readable summary line');
}

async function checkBadArgument(client) {
  const result = await client.callTool(
    { name: 'observe', arguments: { what: 'backend-logs', level: 'LOUD' } }, undefined,
    options);
  const shown = JSON.stringify(result);
  check(result.isError === true, "level:'LOUD' gives isError", shown);
  check(result.structuredContent?.error?.code === 'invalid_param',
        'with error code invalid_param', shown);
  const text = result.content?.find((item) => item.type === 'text')?.text ?? '';
  check(text.includes('invalid_param'), 'and the text says invalid_param', text);
}

async function checkUnknownTool(client) {
  let error = null;
  try {
    const result = await client.callTool({ name: 'no-such-tool', arguments: {} }, undefined,
                                         options);
    error = result.isError === true ? result : null;
    check(error !== null, 'calling an unknown tool is an error', JSON.stringify(result));
    return;
  } catch (thrown) {
    error = thrown;
  }
  check(error instanceof McpError && Number.isInteger(error.code),
        'an unknown tool is answered with a JSON-RPC error', String(error));
  check(String(error.message).includes('no-such-tool'),
        'the error names the tool', error.message);
}

// The stdio bridge: the SDK starts it and ends it by closing its input.
async function overStdio(logwire, body) {
  const { command, args } = await logwire.bridgeCommand();
  const transport = new StdioClientTransport({ command, args, stderr: 'pipe' });
  let bridgeStderr = '';
  transport.stderr?.on('data', (chunk) => (bridgeStderr += chunk));
  let closeMs = 0;
  try {
    await body(transport);
  } catch (error) {
    if (bridgeStderr) console.error(`logwire-mcp stderr:\n${bridgeStderr}`);
    throw error;
  } finally {
    const pid = transport.pid;
    const closing = Date.now();
    await within(10000, 'closing the client', transport.close()).catch(() => {});
    closeMs = Date.now() - closing;
    if (pid !== null && pid !== undefined && isRunning(pid)) {
      process.kill(pid, 'SIGKILL');
      check(false, 'logwire-mcp is gone once the client has closed');
    }
  }
  // The SDK ends the bridge's stdin, waits 2 s for it to exit, then sends SIGTERM.
  check(closeMs < 2000, 'logwire-mcp exits at end of its input, without a signal',
        `the SDK's close took ${closeMs} ms`);
}

// The HTTP bridge: a server of its own; the client ends its session (DELETE) and the
// bridge stops cleanly on SIGTERM.
async function overHttp(logwire, body) {
  const url = await logwire.startHttpBridge();
  const transport = new StreamableHTTPClientTransport(new URL(url));
  try {
    await body(transport);
    check(typeof transport.sessionId === 'string' && transport.sessionId.length > 0,
          'the bridge gave the client an Mcp-Session-Id', String(transport.sessionId));
    await within(10000, 'ending the session', transport.terminateSession());
    check(transport.sessionId === undefined, 'the client ended its session with DELETE');
  } catch (error) {
    console.error(`logwire-mcp stderr:\n${logwire.httpBridgeLog}`);
    throw error;
  } finally {
    await within(10000, 'closing the client', transport.close()).catch(() => {});
  }
  const ended = await logwire.stopHttpBridge();
  check(ended?.status === 0, 'logwire-mcp --http stops on SIGTERM with status 0',
        `${JSON.stringify(ended)}\n${logwire.httpBridgeLog}`);
}

await usingLogwire(`sdk_client_test ${transportName}`, binDir, 90000, async (logwire) => {
  await logwire.putRecords();
  const over = transportName === 'http' ? overHttp : overStdio;
  await over(logwire, async (transport) => {
    // The SDK tells the transport the version it negotiated (the HTTP transport sends it
    // as a header from then on); the test listens there too.
    const negotiated = { version: null };
    const setProtocolVersion = transport.setProtocolVersion?.bind(transport);
    transport.setProtocolVersion = (version) => {
      negotiated.version = version;
      setProtocolVersion?.(version);
    };
    const client = new Client({ name: 'logwire-sdk-client-test', version: '1.0.0' });
    await within(REQUEST_TIMEOUT_MS, 'initialize', client.connect(transport, options));
    await checkNegotiation(client, negotiated);
    await checkToolsList(client);
    await checkErrorRecordFound(client);
    await checkBadArgument(client);
    await checkUnknownTool(client);
    const ping = await client.ping(options);
    check(typeof ping === 'object', 'the bridge still answers ping after the errors');
  });
  // The records reached the agent through the SDK; the broker is still the one that holds
  // them (the bridge did not start another).
  const query = await logwire.logwire(['query', '--request-id', ERROR_REQUEST_ID]);
  check(query.status === 0 && query.stdout.includes(ERROR_MESSAGE),
        'the test broker still answers after the bridge is gone');
});
