// What wrapping a fetch costs the page, measured in the page (the budget: under 0.5 ms per
// request). Under a fetch that answers at once (no network), a same-origin POST through the
// wrapper (request ID, traceparent, headers copied, the event recorded) is timed against
// the same call to the unwrapped fetch, in interleaved rounds, alone and with the batches
// those events make sent through the same stub. Real same-origin requests, wrapped and
// not, are timed too, for scale. The page is cross-origin isolated, so performance.now() has
// 5 µs steps. Prints the figures; fails if the wrapper's cost is over budget.
import os from 'node:os';
import { browserTest, check, openPage } from './support.mjs';

const ROUNDS = 30;
const CALLS = 200;
const BUDGET_MS = 0.5;

function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const micro = (ms) => `${(ms * 1000).toFixed(1)} µs`;

browserTest('fetch_cost', 120000, async ({ world, browser }) => {
  const page = await openPage(browser, `${world.app.origin}/pages/cost.html?stub&isolated=1`);
  check(await page.evaluate(() => window.crossOriginIsolated && Boolean(window.logwire)),
    'the page is cross-origin isolated and the script loaded');

  // In the page: rounds of CALLS awaited calls, timed with performance.now(), first the
  // calls alone, then with what follows them: the wrapped round's events batched and sent
  // (through the stub), against as many timer turns with nothing to send.
  await page.evaluate((calls) => {
    const init = () => ({
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"amount":4.5}',
    });
    window.timeCalls = async (wrapped) => {
      const fetchFunction = wrapped ? window.fetch : window.stubFetch;
      const started = performance.now();
      for (let i = 0; i < calls; i++) await fetchFunction('/api/payments/process', init());
      const called = performance.now();
      if (wrapped) {
        await window.logwire.flush();
      } else {
        for (let batch = 0; batch < Math.ceil(calls / 100); batch++) {
          await new Promise((resolve) => setTimeout(resolve, 0));
        }
      }
      return { calls: (called - started) / calls, total: (performance.now() - started) / calls };
    };
  }, CALLS);
  const overhead = [];
  const perRequest = [];
  const unwrapped = [];
  for (let round = 0; round < ROUNDS + 2; round++) {
    const withScript = await page.evaluate(() => window.timeCalls(true));
    const without = await page.evaluate(() => window.timeCalls(false));
    if (round < 2) continue; // warm-up
    overhead.push(withScript.calls - without.calls);
    perRequest.push(withScript.total - without.total);
    unwrapped.push(without.calls);
  }
  const stats = await page.evaluate(() => window.logwire.stats());

  const figures = {
    machine: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, load ${os.loadavg()[0].toFixed(1)}`,
    date: new Date().toISOString().slice(0, 10),
    chromium: browser.version(),
    wrapperP50: micro(percentile(overhead, 50)),
    wrapperP90: micro(percentile(overhead, 90)),
    wrapperMax: micro(Math.max(...overhead)),
    withSendingP50: micro(percentile(perRequest, 50)),
    withSendingP90: micro(percentile(perRequest, 90)),
    unwrappedStubCall: micro(percentile(unwrapped, 50)),
  };
  console.log(`fetch wrapper cost, ${ROUNDS} rounds of ${CALLS} same-origin POSTs: ` +
    JSON.stringify(figures, null, 1));
  check(stats.sent >= (ROUNDS + 2) * CALLS && stats.queued === 0 &&
    stats.dropped === 0,
    'every event of the measured calls was batched and sent', stats);
  check(percentile(overhead, 50) < BUDGET_MS && percentile(overhead, 90) < BUDGET_MS,
    `the wrapper adds under ${BUDGET_MS} ms to a fetch call (median ${figures.wrapperP50}, ` +
    `p90 ${figures.wrapperP90} of the rounds)`, overhead.map(micro));
  check(percentile(perRequest, 50) < BUDGET_MS && percentile(perRequest, 90) < BUDGET_MS,
    `with its event batched and sent, a request costs the page under ${BUDGET_MS} ms ` +
    `(median ${figures.withSendingP50}, p90 ${figures.withSendingP90})`,
    perRequest.map(micro));

  // For scale: real requests to the page's own origin, wrapped and not.
  const real = await openPage(browser, `${world.app.origin}/pages/cost.html`);
  const network = await real.evaluate(async () => {
    const time = async (fetchFunction) => {
      const started = performance.now();
      for (let i = 0; i < 50; i++) await (await fetchFunction('/api/echo?cost')).text();
      return (performance.now() - started) / 50;
    };
    const wrapped = [];
    const native = [];
    for (let round = 0; round < 6; round++) {
      wrapped.push(await time(window.fetch));
      native.push(await time(window.nativeFetch));
      await window.logwire.flush();
    }
    return { wrapped, native };
  });
  console.log(`real same-origin GET over loopback, median of 6 rounds of 50: wrapped ` +
    `${micro(percentile(network.wrapped, 50))}, unwrapped ${micro(percentile(network.native, 50))}`);
  check(real.errors.length === 0 && page.errors.length === 0, 'no error reached either page');
});
