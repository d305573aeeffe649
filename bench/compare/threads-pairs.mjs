// Two threads against one as a same-run ratio, in whichever JavaScript engine imports this (Node, or the Chromium page
// of browser.mjs): one layer per build, calls alternating single-thread build at 1 thread, pthreads build at 1 thread,
// pthreads build at 2 threads, so that a drift of the shared host's speed reaches all three alike (the bench cells
// time each build in its own page, minutes apart). Per configuration: the medians of each and the ratios of the
// medians. Run by threads-paired.mjs.
import { config, makeStateDict, makeInput } from './configs.mjs';
import { createBenchLayer } from './peers.mjs';
import { median } from './timing.mjs';

// single, pthreads: instances of the package loaded with { threads: false } and { threads: true }.
export function threadsPairs(single, pthreads, names, { pairs = 15, warmup = 2 } = {}) {
  const rows = [];
  for (const name of names) {
    const c = config(name);
    const sd = makeStateDict(c),
      x = makeInput(c);
    const shape = [c.batch, c.tokens, c.dIn];
    const a = createBenchLayer(single, c, sd),
      b = createBenchLayer(pthreads, c, sd);
    const calls = [
      () => a.forward(x, shape, { threads: 1 }),
      () => b.forward(x, shape, { threads: 1 }),
      () => b.forward(x, shape, { threads: 2 }),
    ];
    const ms = calls.map(() => []);
    for (let i = 0; i < warmup; i++) for (const call of calls) call();
    for (let i = 0; i < pairs; i++)
      calls.forEach((call, k) => {
        const t0 = performance.now();
        call();
        ms[k].push(performance.now() - t0);
      });
    const [single1, pthreads1, pthreads2] = ms.map(median);
    rows.push({
      config: name,
      pairs,
      single_1_thread_ms: single1,
      pthreads_1_thread_ms: pthreads1,
      pthreads_2_threads_ms: pthreads2,
      speedup_over_single: single1 / pthreads2, // what a user gets: load({ threads: true }) and 2 threads, against load()
      speedup_same_build: pthreads1 / pthreads2,
    });
    a.dispose();
    b.dispose();
  }
  return rows;
}
