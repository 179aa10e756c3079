// The page keeps working when the broker is gone: requests, clicks and console output
// behave as without the script, nothing is thrown into the page, the script retries less and
// less often, keeps at most 1000 events and counts the ones it dropped, and delivers what it
// kept once the broker is back. A page whose script cannot be loaded at all works too.
import { browserTest, check, openPage, sleep, waitUntil } from './support.mjs';

browserTest('broker_down', 120000, async ({ world, browser }) => {
  const page = await openPage(browser, `${world.app.origin}/pages/app.html`);
  const pageId = await page.evaluate(() => window.logwire.pageId);
  check(await page.evaluate(() => window.logwire.flush()), 'the broker takes the first events');
  const brokerPort = world.broker.port;
  const sentBefore = world.broker.events().length;

  await world.broker.close();
  const attempts = [];
  page.on('request', (request) => {
    if (request.url() === `${world.broker.origin}/events`) attempts.push(Date.now());
  });
  const downAt = Date.now();

  const results = await page.evaluate(async (api) => {
    const out = {};
    const echo = await fetch('/api/echo?case=down-1');
    out.fetch = { status: echo.status, ...(await echo.json()) };
    const viaApi = await fetch(`${api}/api/echo?case=down-2`, { method: 'POST', body: '{}' });
    out.api = viaApi.status;
    out.xhr = await new Promise((resolve) => {
      const request = new XMLHttpRequest();
      request.open('GET', '/api/echo?case=down-3');
      request.onload = () => resolve(request.status);
      request.onerror = () => resolve('error');
      request.send();
    });
    return out;
  }, world.api.origin);
  check(results.fetch.status === 200 && /^req-/.test(results.fetch.requestId) &&
    results.api === 200 && results.xhr === 200,
  'fetch and XMLHttpRequest work as before (and still carry their IDs)', results);
  await page.click('button.btn.primary');
  await page.click('#pay');
  check(await page.evaluate(() => window.clicks === 1 && window.submits === 1),
    "the page's click and submit handlers run");

  // More events than the queue holds: it keeps the newest 1000 and counts the rest.
  const flooded = await page.evaluate(() => {
    for (let i = 0; i < 3000; i++) console.error(`flood ${i}`);
    return window.logwire.stats();
  });
  check(flooded.queued === 1000 && flooded.dropped >= 2000,
    'the queue holds 1000 events; the rest are counted as dropped', flooded);
  await page.click('button.btn.primary'); // after the flood: kept

  await sleep(7000 - (Date.now() - downAt));
  const spacing = attempts.slice(1).map((at, index) => at - attempts[index]);
  check(attempts.length >= 2 && attempts.length <= 5 &&
    spacing.every((gap, index) => index === 0 || gap >= spacing[index - 1] * 1.1),
  'in 7 s the script tried 2 to 5 times, each wait longer than the one before',
  { attempts: attempts.map((at) => at - downAt), spacing });
  const waiting = await page.evaluate(() => window.logwire.stats());
  check(waiting.failures >= attempts.length - 1 && waiting.failures <= attempts.length &&
    waiting.retryInMs > 0,
    'stats() counts the failures and the wait before the next try', waiting);
  check(page.errors.length === 0, 'nothing was thrown into the page', page.errors);
  check(page.consoleLines.filter((line) => line.startsWith('error: flood ')).length === 3000,
    "the page's console.error output is untouched");

  // The broker comes back on the same port: what was kept arrives by itself.
  world.broker.batches = [];
  await world.broker.listen(brokerPort);
  const delivered = await waitUntil(45000, () => {
    const events = world.broker.events().filter((event) => event.pageId === pageId);
    return events.some((event) => event.kind === 'action' && event.timestamp > downAt &&
      event.selector === 'body > button.btn.primary' && event.seq > 3000) ? events : null;
  });
  check(delivered, 'once the broker is back the queued events arrive without help',
    world.broker.events().slice(-5));
  await page.evaluate(() => window.logwire.flush());
  const after = world.broker.events().filter((event) => event.pageId === pageId);
  const last = after[after.length - 1];
  check(after.length === 1000 && last.kind === 'action' &&
    last.seq === sentBefore + waiting.dropped + 999,
  'the 1000 kept events arrive, the newest among them',
  { count: after.length, last, sentBefore, dropped: waiting.dropped });
  check(world.broker.batches.every(({ batch }) => batch.dropped >= 2000),
    'each batch tells the broker how many events were dropped',
    world.broker.batches.map(({ batch }) => batch.dropped));
  check(world.broker.contractViolations().length === 0, 'every batch keeps the contract',
    world.broker.contractViolations());

  // The queue is bounded in bytes too: 8 KiB messages fill 4 Mi characters before 1000.
  await world.broker.close();
  const big = await page.evaluate(() => {
    for (let i = 0; i < 1000; i++) console.error(`${i} ${'x'.repeat(8200)}`);
    return window.logwire.stats();
  });
  check(big.queued > 400 && big.queued < 510, 'a queue of large events stops at about 4 Mi characters',
    big);

  // A broker that is down before the page loads: the tag fails, the page does not.
  const orphan = await openPage(browser, `${world.app.origin}/pages/app.html?no-broker`);
  check(await orphan.evaluate(() => typeof window.logwire === 'undefined'),
    'with no broker the script is not there');
  await orphan.click('button.btn.primary');
  const status = await orphan.evaluate(async () => (await fetch('/api/echo')).status);
  check(status === 200 && (await orphan.evaluate(() => window.clicks)) === 1 &&
    orphan.errors.length === 0, 'and the page works without it');
});
