// logwire.js records what happens on the page (page load, clicks and submits with a readable
// selector and text, console errors, uncaught errors, unhandled rejections, requests that
// fail with a status or without one) and sends it in batches that keep the contract: one
// page ID, sequence numbers without gaps, the session and service from its tag; what is
// still queued when the page goes away leaves in a beacon.
import { browserTest, check, freePort, openPage, sleep, waitUntil } from './support.mjs';

browserTest('events', 90000, async ({ world, browser }) => {
  const startedAt = Date.now();
  const closedPort = await freePort(); // nothing listens there: connections are refused
  const page = await openPage(browser, `${world.app.origin}/pages/app.html`);
  const pageId = await page.evaluate(() => window.logwire.pageId);

  await page.click('#pay .icon'); // a span inside the submit button: click, then submit
  await page.click('ul.menu li:nth-of-type(2) a');
  await page.click('button.btn.primary');
  await page.evaluate(async (closed) => {
    console.error('Payment failed: %s (code %d)', 'gateway timeout', 504, { orderId: 7 });
    console.error(new Error('logged with its stack'));
    console.error('broken \ud800 string');
    const big = { items: Array.from({ length: 5000 }, (_, i) => ({ i, deep: { deeper: { deepest: i } } })) };
    big.self = big;
    console.error('state', big, document.getElementById('pay'));
    window.failLater();
    Promise.reject(new Error('payment declined'));
    Promise.reject('a plain reason');
    await new Promise((resolve) => setTimeout(resolve, 50));
    await fetch('/api/echo?status=500&case=500');
    await fetch(`${closed}/refused?case=refused`).catch(() => {});
    const controller = new AbortController();
    const aborted = fetch('/api/echo?delayMs=2000&case=abort', { signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    await aborted.catch(() => {});
    await new Promise((resolve) => {
      const request = new XMLHttpRequest();
      request.open('GET', `${closed}/refused?case=xhr-refused`);
      request.onloadend = resolve;
      request.send();
    });
    await new Promise((resolve) => {
      const request = new XMLHttpRequest();
      request.open('GET', '/api/echo?delayMs=2000&case=xhr-timeout');
      request.timeout = 30;
      request.onloadend = resolve;
      request.send();
    });
  }, `http://127.0.0.1:${closedPort}`);
  check(await page.evaluate(() => window.clicks === 1 && window.submits === 1),
    "the page's own click and submit handlers ran once each");
  check(await page.evaluate(() => window.logwire.flush()), 'flush() empties the queue');

  const events = world.broker.events();
  check(world.broker.contractViolations().length === 0, 'every batch keeps the contract',
    world.broker.contractViolations());
  check(world.broker.batches.every(({ batch, contentType }) =>
    batch.page.id === pageId && batch.page.sessionId === 'sess-42' &&
    batch.page.service === 'web-test' &&
    batch.page.url.startsWith(`${world.app.origin}/pages/app.html`) &&
    /HeadlessChrome|Chrome/.test(batch.page.userAgent) && /^text\/plain/.test(contentType)),
  'every batch names the page, its session and service, as text/plain (no preflight)',
  world.broker.batches.map(({ batch, contentType }) => ({ page: batch.page, contentType })));
  check(world.broker.seen('/events').every((request) => request.method === 'POST'),
    'the batches needed no preflight', world.broker.seen('/events').map((request) => request.method));
  check(events.every((event, index) => event.seq === index),
    'sequence numbers run from 0 without a gap', events.map((event) => event.seq));
  const endedAt = Date.now();
  check(events.every((event) => event.timestamp >= startedAt - 5000 && event.timestamp <= endedAt),
    'timestamps are the browser clock in ms since the epoch',
    events.map((event) => event.timestamp));

  const find = (predicate) => events.find(predicate);
  const load = find((event) => event.kind === 'page-load');
  check(load && load.url === `${world.app.origin}/pages/app.html` && load.durationMs > 0 &&
    load.timestamp <= events.find((event) => event.kind === 'action').timestamp,
  'the page load, with its URL and duration, before the first action', load);

  const actions = events.filter((event) => event.kind === 'action');
  const expected = [
    { action: 'click', selector: 'button#pay', text: '$ Submit Payment' },
    { action: 'submit', selector: 'form#checkout', text: '$ Submit Payment' },
    { action: 'click', selector: 'body > ul.menu > li:nth-of-type(2) > a', text: 'Second' },
    { action: 'click', selector: 'body > button.btn.primary', text: 'Plain button' },
  ];
  check(actions.length === expected.length && expected.every((want, index) =>
    actions[index].action === want.action && actions[index].selector === want.selector &&
    actions[index].text === want.text),
  'clicks and the submit, in order, with readable selectors and the text the user saw',
  { expected, actions });
  check(actions.every((event, index) => index === 0 || event.timestamp >= actions[index - 1].timestamp),
    'action timestamps follow the order of the actions', actions.map((event) => event.timestamp));
  const everything = JSON.stringify(world.broker.batches);
  check(!everything.includes('secret-pin') && !everything.includes('4111'),
    "what was typed into the form's fields is never sent");

  const consoles = events.filter((event) => event.kind === 'console');
  check(consoles[0]?.level === 'error' &&
    consoles[0].message === 'Payment failed: gateway timeout (code 504) {"orderId":7}',
  'console.error: the format string filled in, objects as JSON', consoles[0]);
  check(consoles[1]?.message === 'Error: logged with its stack' &&
    /logged with its stack\n\s+at /.test(consoles[1].stack ?? ''),
  'console.error(Error): message and stack', consoles[1]);

  check(consoles[2]?.message === 'broken \ufffd string',
    'a lone surrogate in a message is sent as U+FFFD (the batch stays UTF-8)', consoles[2]);

  check(consoles[3]?.message.startsWith('state {"items":[{"i":0,"deep":{…}},') &&
    consoles[3].message.includes('"… 4980 more"]') && consoles[3].message.endsWith('<button#pay>') &&
    consoles[3].message.length < 4000,
  'console.error(object): bounded text (3 levels, 20 items), cycles and elements fine', consoles[3]);

  const exception = find((event) => event.kind === 'exception');
  check(exception && /TypeError: boom at checkout/.test(exception.message) &&
    exception.source?.startsWith(`${world.app.origin}/pages/app.html:`) &&
    /boom at checkout/.test(exception.stack ?? ''),
  'an uncaught error: message, stack and source (file:line:column)', exception);
  const rejections = events.filter((event) => event.kind === 'rejection');
  check(rejections.length === 2 && rejections[0].message === 'Error: payment declined' &&
    /payment declined\n\s+at /.test(rejections[0].stack ?? '') &&
    rejections[1].message === 'a plain reason' && !rejections[1].stack,
  'unhandled rejections: an Error with its stack, a plain reason as text', rejections);

  const request = (name) => find((event) => event.kind === 'request' &&
    new URL(event.url).searchParams.get('case') === name);
  check(request('500')?.status === 500 && !request('500').error && /^req-/.test(request('500').requestId),
    'a request answered 500: status, no error, request ID', request('500'));
  check(request('refused') && !request('refused').status &&
    /TypeError/.test(request('refused').error ?? '') && !request('refused').requestId,
  'a refused connection to another origin: no status, the error, no request ID', request('refused'));
  check(request('abort') && !request('abort').status && /AbortError/.test(request('abort').error ?? '') &&
    request('abort').durationMs < 2000,
  'an aborted fetch: AbortError, no status', request('abort'));
  check(request('xhr-refused')?.error === 'network error' && !request('xhr-refused').status,
    'a refused XMLHttpRequest: network error', request('xhr-refused'));
  check(request('xhr-timeout')?.error === 'timeout' && request('xhr-timeout').initiator === 'xhr',
    'an XMLHttpRequest that timed out: timeout', request('xhr-timeout'));

  // Chromium reports the page's own uncaught error and its two rejections, nothing else.
  check(page.errors.length === 3 && /boom at checkout/.test(page.errors[0]) &&
    /payment declined/.test(page.errors[1]),
  "the only uncaught errors on the page are the page's own", page.errors);

  // What is queued at unload leaves in a beacon: the broker fails while the click is sent
  // (so it stays queued, the next try a second away), then the page navigates away.
  world.broker.status = 503;
  const postsBefore = world.broker.seen('/events').length;
  await page.click('button#pay');
  check(await waitUntil(5000, () => world.broker.seen('/events').length > postsBefore),
    'the click was sent and refused (503)');
  world.broker.status = 204;
  const stats = await page.evaluate(() => window.logwire.stats());
  check(stats.queued >= 2 && stats.failures === 1 && stats.retryInMs > 0,
    'after the failure the events stay queued and the next try waits', stats);
  await page.goto(`${world.app.origin}/pages/app.html?next`, { waitUntil: 'load' });
  const beacon = await waitUntil(10000, () => world.broker.batches.find(({ batch, contentType }) =>
    batch?.page.id === pageId && contentType === 'text/plain;charset=UTF-8'));
  check(beacon && beacon.batch.events.some((event) => event.kind === 'action' &&
    event.selector === 'button#pay'),
  'at pagehide the queued events left in a beacon', world.broker.batches.slice(-3));
  await sleep(100);
  const afterBeacon = world.broker.events().filter((event) => event.pageId === pageId);
  check(afterBeacon.every((event, index) => event.seq === index),
    'with the beacon, the first page\'s sequence numbers still run without a gap',
    afterBeacon.map((event) => event.seq));
  const nextPage = world.broker.batches.find(({ batch }) => batch?.page.id !== pageId);
  check(!nextPage || nextPage.batch.seq === 0, 'the next page has a page ID of its own, from 0');
});
