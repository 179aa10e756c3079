// logwire.js served by the real broker (GET /logwire.js, the file built in) and sending to
// it: a page's click, submit, failing request and console error are stored and come back
// through observe({what: 'frontend'}) in logwire-mcp; the broker killed (SIGKILL) while the
// page goes on, and started again on the same port, receives what the page kept, once.
import { readFileSync } from 'node:fs';
import { RealBroker } from './real_broker.mjs';
import { browserTest, check, openPage, waitUntil } from './support.mjs';

browserTest('real_broker', 120000, async ({ world, browser, scriptPath, args, onCleanUp }) => {
  const [binDir] = args;
  const broker = new RealBroker(binDir);
  onCleanUp(() => broker.cleanUp());
  const origin = await broker.start();
  const port = new URL(origin).port;

  const served = await fetch(`${origin}/logwire.js`);
  const text = await served.text();
  check(served.status === 200 && /^text\/javascript/.test(served.headers.get('content-type')),
    'GET /logwire.js: 200, text/javascript', { status: served.status, type: served.headers.get('content-type') });
  check(text === readFileSync(scriptPath, 'utf8'),
    'the broker serves tools/browser/logwire.js as it is now (rebuild logwire-broker if not)');

  world.brokerOrigin = origin;
  const page = await openPage(browser, `${world.app.origin}/pages/app.html`);
  const answers = [];
  page.on('response', (response) => {
    if (response.url() === `${origin}/events`) answers.push(response.status());
  });
  check(await page.evaluate(() => window.logwire?.broker), 'the script loaded from the broker');
  const pageId = await page.evaluate(() => window.logwire.pageId);

  await page.click('#pay');
  const failed = await page.evaluate(async () => {
    const response = await fetch('/api/echo?status=500&case=real');
    console.error('checkout failed: %s', 'gateway timeout');
    return response.json();
  });
  check(await page.evaluate(() => window.logwire.flush()), 'the broker took the batches');
  check(answers.length > 0 && answers.every((status) => status === 204),
    'every POST /events was answered 204', answers);

  const byRequest = await broker.observe({ what: 'frontend', requestId: failed.requestId });
  const request = byRequest.events?.find((event) => event.kind === 'request');
  check(request && request.status === 500 && request.method === 'GET' &&
    request.url === `${world.app.origin}/api/echo?status=500&case=real` &&
    request.requestId === failed.requestId,
  `observe frontend by requestId ${failed.requestId}: the request, answered 500`, byRequest);
  const all = await broker.observe({ what: 'frontend' });
  const kinds = (all.events ?? []).map((event) => `${event.kind}:${event.selector ?? event.message ?? event.url ?? ''}`);
  check(['page-load:', 'action:button#pay', 'action:form#checkout',
    'console:checkout failed: gateway timeout'].every((want) =>
    kinds.some((kind) => kind.startsWith(want) || (want === 'page-load:' && kind.startsWith('page-load')))),
  'the broker holds the page load, the click, the submit and the console error', kinds);

  // Killed while the page goes on; started again on the same port.
  await broker.stop('SIGKILL');
  await page.click('button.btn.primary');
  const status = await page.evaluate(async () => (await fetch('/api/echo?case=down')).status);
  check(status === 200 && (await page.evaluate(() => window.clicks)) === 1,
    'with the broker killed, the page works');
  check(await page.evaluate(() => window.logwire.flush()) === false,
    'flush() says the broker is not there');
  await broker.start(Number(port));
  const seen = await waitUntil(40000, async () => {
    const actions = await broker.observe({ what: 'frontend', kind: 'action' });
    const plain = (actions.events ?? []).filter((event) =>
      event.selector === 'body > button.btn.primary');
    return plain.length ? plain : null;
  });
  check(seen && seen.length === 1 && (seen[0].pageId === undefined || seen[0].pageId === pageId),
    'the click made while the broker was down arrives once it is back, once', seen);
  check(page.errors.length === 0, 'nothing reached the page as an uncaught error', page.errors);
});
