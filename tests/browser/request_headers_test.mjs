// logwire.js adds X-Request-ID and a fresh traceparent to fetch and XMLHttpRequest calls to
// the page's own origin and to the API origins its tag names, keeps the ones the page set
// itself, adds nothing to any other origin (whose CORS would refuse them), and reports each
// request to the broker with the IDs the server saw.
import { browserTest, check, isTraceparent, openPage, waitUntil } from './support.mjs';

browserTest('request_headers', 90000, async ({ world, browser }) => {
  const page = await openPage(browser, `${world.app.origin}/pages/app.html`);
  check(await page.evaluate(() => Boolean(window.logwire && window.logwire.pageId)),
    'the script is loaded and names its page');

  // Each call answers with the headers its server received; `label` finds it again.
  const results = await page.evaluate(async ({ api, third }) => {
    const out = {};
    const json = async (label, promise) => {
      try {
        const response = await promise;
        out[label] = { status: response.status, ...(await response.json()) };
      } catch (error) {
        out[label] = { failed: String(error) };
      }
    };
    const xhr = (label, method, url, headers = {}, body = null) =>
      new Promise((resolve) => {
        const request = new XMLHttpRequest();
        request.open(method, url);
        for (const [name, value] of Object.entries(headers)) request.setRequestHeader(name, value);
        request.onloadend = () => {
          try {
            out[label] = { status: request.status, ...JSON.parse(request.responseText) };
          } catch (error) {
            out[label] = { failed: `status ${request.status}` };
          }
          resolve();
        };
        request.send(body);
      });
    await json('fetch same-origin', fetch('/api/echo?case=1'));
    await json('fetch same-origin URL object', fetch(new URL('/api/echo?case=2', location.href)));
    await json('fetch API', fetch(`${api}/api/echo?case=3`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"a":1}',
    }));
    await json('fetch third-party', fetch(`${third}/api/echo?case=4`));
    await json('fetch third-party JSON', fetch(`${third}/api/echo?case=5`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}',
    }));
    await json('fetch page ID kept', fetch('/api/echo?case=6', {
      headers: { 'x-request-id': 'req-page-own-6' },
    }));
    await json('fetch page traceparent kept', fetch('/api/echo?case=7', {
      headers: new Headers({
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      }),
    }));
    await json('fetch Request', fetch(new Request('/api/echo?case=8', { method: 'PUT', body: 'x' })));
    await json('fetch Request with its ID', fetch(new Request(`${api}/api/echo?case=9`, {
      headers: [['X-Request-ID', 'req-page-own-9']],
    })));
    await json('fetch page ID kept, pairs', fetch(`${api}/api/echo?case=15`, {
      headers: [['Content-Type', 'text/plain'], ['X-Request-ID', 'req-page-own-15']],
    }));
    await xhr('xhr same-origin', 'GET', '/api/echo?case=10');
    await xhr('xhr API', 'POST', `${api}/api/echo?case=11`, { 'Content-Type': 'application/json' }, '{}');
    await xhr('xhr third-party', 'GET', `${third}/api/echo?case=12`);
    await xhr('xhr page ID kept', 'GET', '/api/echo?case=13', { 'X-Request-ID': 'req-page-own-13' });
    // no-cors: the browser would drop the headers, so none are added; the answer is opaque.
    try {
      const opaque = await fetch(`${third}/api/echo?case=14`, { mode: 'no-cors' });
      out['fetch no-cors'] = { type: opaque.type };
    } catch (error) {
      out['fetch no-cors'] = { failed: String(error) };
    }
    return out;
  }, { api: world.api.origin, third: world.third.origin });

  const traced = (label) => {
    const result = results[label];
    return result && result.status === 200 && /^req-[0-9a-f]{8}-\d{4,}$/.test(result.requestId ?? '') &&
      isTraceparent(result.traceparent);
  };
  for (const label of ['fetch same-origin', 'fetch same-origin URL object', 'fetch API',
    'fetch Request', 'xhr same-origin', 'xhr API']) {
    check(traced(label), `${label}: the server got X-Request-ID req-<page>-<n> and a valid traceparent`,
      results[label]);
  }
  for (const label of ['fetch third-party', 'fetch third-party JSON', 'xhr third-party']) {
    const result = results[label];
    check(result?.status === 200 && result.requestId === null && result.traceparent === null,
      `${label}: answered, with neither header added`, result);
  }
  check(world.third.seen().every((request) => !('x-request-id' in request.headers) &&
    !('traceparent' in request.headers) &&
    !/x-request-id|traceparent/i.test(request.headers['access-control-request-headers'] ?? '')),
  'the third-party server never saw the headers, not even asked for in a preflight',
  world.third.seen().map((request) => request.headers));
  check(results['fetch no-cors']?.type === 'opaque', 'a no-cors fetch still works (opaque answer)',
    results['fetch no-cors']);

  check(results['fetch page ID kept']?.requestId === 'req-page-own-6' &&
    isTraceparent(results['fetch page ID kept'].traceparent),
  "fetch: the page's own X-Request-ID is kept, a traceparent added", results['fetch page ID kept']);
  check(results['fetch page traceparent kept']?.traceparent ===
    '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' &&
    /^req-/.test(results['fetch page traceparent kept'].requestId ?? ''),
  "fetch: the page's own traceparent is kept, an X-Request-ID added",
  results['fetch page traceparent kept']);
  check(results['fetch Request with its ID']?.requestId === 'req-page-own-9' &&
    isTraceparent(results['fetch Request with its ID'].traceparent),
  "fetch(Request): the Request's own X-Request-ID is kept", results['fetch Request with its ID']);
  check(results['fetch page ID kept, pairs']?.requestId === 'req-page-own-15' &&
    isTraceparent(results['fetch page ID kept, pairs'].traceparent),
  "fetch: the page's own X-Request-ID among header pairs is kept", results['fetch page ID kept, pairs']);
  check(results['xhr page ID kept']?.requestId === 'req-page-own-13',
    "XMLHttpRequest: the page's own X-Request-ID is kept (not doubled)", results['xhr page ID kept']);

  const preflights = world.api.seen().filter((request) => request.method === 'OPTIONS');
  check(preflights.length > 0 && preflights.every((request) =>
    /x-request-id/.test(request.headers['access-control-request-headers'] ?? '') &&
    /traceparent/.test(request.headers['access-control-request-headers'] ?? '')),
  'the API origin was asked (preflight) for X-Request-ID and traceparent',
  preflights.map((request) => request.headers));

  const ids = Object.values(results).map((result) => result.requestId).filter(Boolean);
  check(new Set(ids).size === ids.length, 'every request has its own request ID', ids);
  const traces = Object.values(results).map((result) => result.traceparent).filter(Boolean);
  check(new Set(traces).size === traces.length, 'every request has its own traceparent', traces);

  // What the broker received: one request event per call, with the IDs the server saw.
  await page.evaluate(() => window.logwire.flush());
  const requestEvents = await waitUntil(10000, () => {
    const events = world.broker.events().filter((event) => event.kind === 'request');
    return events.length >= 15 ? events : null;
  });
  check(requestEvents, '15 request events (one per call) reached the broker',
    world.broker.events().filter((event) => event.kind === 'request'));
  check(world.broker.contractViolations().length === 0, 'every batch keeps the contract',
    world.broker.contractViolations());
  const byCase = new Map(requestEvents.map((event) => [new URL(event.url).searchParams.get('case'), event]));
  for (const [label, number, initiator] of [
    ['fetch same-origin', '1', 'fetch'], ['fetch API', '3', 'fetch'], ['fetch Request', '8', 'fetch'],
    ['fetch page ID kept', '6', 'fetch'], ['fetch Request with its ID', '9', 'fetch'],
    ['xhr API', '11', 'xhr'], ['xhr page ID kept', '13', 'xhr']]) {
    const event = byCase.get(number);
    check(event && event.requestId === results[label].requestId &&
      event.traceparent === results[label].traceparent && event.status === 200 &&
      event.initiator === initiator,
    `${label}: the event names the request ID and traceparent the server got, status 200`,
    { event, server: results[label] });
  }
  const api = byCase.get('3');
  check(api.method === 'POST' && api.url === `${world.api.origin}/api/echo?case=3` &&
    api.durationMs >= 0, 'a request event has method, full URL and duration', api);
  check(byCase.get('8')?.method === 'PUT', "fetch(Request): the Request's method is recorded",
    byCase.get('8'));
  for (const number of ['4', '12']) {
    const event = byCase.get(number);
    check(event && !event.requestId && !event.traceparent && event.status === 200,
      `third-party request ${number} is recorded, without IDs`, event);
  }
  check(byCase.get('14') && byCase.get('14').error === 'opaque response',
    'a no-cors request is recorded as an opaque response', byCase.get('14'));

  // A second copy of the script (two tags, or a bundle and a tag) leaves the first in charge.
  const before = world.broker.events().length;
  const twice = await page.evaluate(async (broker) => {
    const pageId = window.logwire.pageId;
    await new Promise((resolve, reject) => {
      const tag = document.createElement('script');
      tag.src = `${broker}/logwire.js`;
      tag.onload = resolve;
      tag.onerror = reject;
      document.head.appendChild(tag);
    });
    const answer = await (await fetch('/api/echo?case=twice')).json();
    await window.logwire.flush();
    return { samePage: window.logwire.pageId === pageId, requestId: answer.requestId };
  }, world.broker.origin);
  const added = world.broker.events().slice(before);
  check(twice.samePage && /^req-[0-9a-f]{8}-\d{4,}$/.test(twice.requestId) && added.length === 1,
    'loaded twice, the script still adds one X-Request-ID and records a request once',
    { twice, added });
  check(page.errors.length === 0, 'nothing reached the page as an uncaught error', page.errors);

  // data-api-origins="http://localhost:*": any port of that host, and nothing else.
  const anyPort = await openPage(browser, `${world.app.origin}/pages/any_port.html`);
  const ports = await anyPort.evaluate(async ({ api, third }) => {
    const echo = async (url) => (await fetch(url)).json();
    return { api: await echo(`${api}/api/echo?case=any-1`), third: await echo(`${third}/api/echo?case=any-2`) };
  }, { api: world.api.origin, third: world.third.origin });
  check(/^req-/.test(ports.api.requestId ?? '') && isTraceparent(ports.api.traceparent) &&
    ports.third.requestId === null && ports.third.traceparent === null,
  'data-api-origins with :* traces any port of that host, and no other host', ports);
});
