// `make demo` without anyone at the terminal: headless Chromium opens the checkout page,
// clicks "Submit Payment", waits for the answer and for logwire.js to hand its events to
// the broker, and prints one JSON line: {"requestId", "traceparent", "status", "eventsSent"}.
//
//   node click_submit.mjs <dir with node_modules/playwright-core> <page URL>
//
// Chromium is /usr/bin/chromium (Debian's), or $LOGWIRE_CHROMIUM. Exits 0 when the
// click was answered, 1 with the reason otherwise; it ends within 40 s whatever happens.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';

const [modulesDir, pageUrl] = process.argv.slice(2);
if (!modulesDir || !pageUrl) {
  console.error('usage: node click_submit.mjs <dir with node_modules> <page URL>');
  process.exit(2);
}
const executablePath = process.env.LOGWIRE_CHROMIUM || '/usr/bin/chromium';
if (!existsSync(executablePath)) {
  console.error(`no Chromium at ${executablePath}`);
  process.exit(1);
}
// playwright-core is installed beside the browser tests, not beside this script.
const { chromium } = createRequire(join(resolve(modulesDir), 'package.json'))('playwright-core');

const deadline = setTimeout(() => {
  console.error('headless Chromium did not finish within 40 s');
  process.exit(1);
}, 40000);

const browser = await chromium.launch({ executablePath, headless: true });
let status = 1;
try {
  const page = await browser.newPage();
  // logwire.js sends its batches as POST /events, or over a WebSocket to /events; either
  // way a batch that names the request means the broker has it.
  const batches = [];
  let requestId = '';
  let markSent;
  const eventsSent = new Promise((resolveSent) => (markSent = resolveSent));
  const sawBatch = (text) => {
    if (typeof text !== 'string') return;
    batches.push(text);
    if (requestId && text.includes(requestId)) markSent(true);
  };
  page.on('request', (request) => {
    if (new URL(request.url()).pathname === '/events') sawBatch(request.postData());
  });
  page.on('websocket', (socket) => {
    socket.on('framesent', (frame) => sawBatch(String(frame.payload)));
  });

  await page.goto(pageUrl, { waitUntil: 'load', timeout: 15000 });
  const [request] = await Promise.all([
    page.waitForRequest(
      (sent) => sent.method() === 'POST' && sent.url().endsWith('/api/payments/process'),
      { timeout: 10000 }),
    page.click('button#pay', { timeout: 10000 }),
  ]);
  const response = await request.response();
  const headers = await request.allHeaders();
  requestId = headers['x-request-id'] ?? response?.headers()['x-request-id'] ?? '';
  if (requestId && batches.some((text) => text.includes(requestId))) markSent(true);
  await page.waitForSelector('#result.failed, #result.paid', { timeout: 10000 });
  // Leaving the page makes logwire.js send what it still holds (sendBeacon on pagehide).
  const sent = await Promise.race([
    eventsSent,
    new Promise((done) => setTimeout(() => done(false), 5000)),
  ]);
  await page.goto('about:blank').catch(() => {});
  console.log(JSON.stringify({
    requestId,
    traceparent: headers.traceparent ?? null,
    status: response?.status() ?? 0,
    eventsSent: sent,
  }));
  status = 0;
} catch (error) {
  console.error(`headless Chromium: ${error.message ?? error}`);
} finally {
  await browser.close().catch(() => {});
  clearTimeout(deadline);
}
process.exit(status);
