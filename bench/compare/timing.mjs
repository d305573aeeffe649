// Timing shared by the Node children and the browser page: warm-up, then timed batches until a time
// budget or a run cap is reached; the result is the median (and min) of the per-call times.
// Calls far shorter than a millisecond are timed in batches of `inner` calls so the clock's resolution
// (5 µs in a cross-origin-isolated page, 100 µs otherwise) does not dominate.

const now = () => performance.now();

export function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const k = s.length;
  return k === 0 ? NaN : k % 2 ? s[(k - 1) / 2] : 0.5 * (s[k / 2 - 1] + s[k / 2]);
}

/**
 * fn: the call to time (sync, or async when isAsync). Options: warmup (calls), budgetMs (keep sampling
 * until this much time has passed…), minRuns (…and at least this many samples), maxRuns (never more).
 */
export async function measure(fn, { isAsync = false, warmup = 2, budgetMs = 2000, minRuns = 3, maxRuns = 50 } = {}) {
  const call = isAsync ? fn : async () => fn();
  for (let i = 0; i < warmup; i++) await call();
  let t0 = now();
  await call();
  const estimate = Math.max(now() - t0, 1e-4);
  // A call of 2 ms or more is its own first sample; shorter calls are batched and re-timed.
  const samples = estimate >= 2 ? [estimate] : [];
  const inner = estimate >= 2 ? 1 : Math.min(20000, Math.ceil(2 / estimate));
  const start = now() - (samples.length ? estimate : 0);
  while (samples.length < maxRuns && (samples.length < minRuns || now() - start < budgetMs)) {
    if (isAsync) {
      t0 = now();
      for (let i = 0; i < inner; i++) await fn();
    } else {
      t0 = now();
      for (let i = 0; i < inner; i++) fn();
    }
    samples.push((now() - t0) / inner);
  }
  return { median_ms: median(samples), min_ms: Math.min(...samples), runs: samples.length, inner };
}

// Timing budgets per config: big configs get few runs so the whole comparison stays bounded.
// The caller has already run the peer once (the output check), which is the first warm-up.
export function budget(c, quick) {
  const size = c.batch * c.tokens * c.tokens; // rough size of the attention part
  if (quick)
    return size > 2e5
      ? { warmup: 0, budgetMs: 0, minRuns: 1, maxRuns: 1 }
      : { warmup: 200, budgetMs: 150, minRuns: 5, maxRuns: 100 };
  if (size > 1e8) return { warmup: 0, budgetMs: 0, minRuns: 1, maxRuns: 1 }; // C5: one run after the check run
  if (size > 4e6) return { warmup: 0, budgetMs: 2000, minRuns: 3, maxRuns: 5 }; // C4
  if (size > 2e5) return { warmup: 1, budgetMs: 2500, minRuns: 3, maxRuns: 25 }; // C2, C3
  return { warmup: 500, budgetMs: 1000, minRuns: 5, maxRuns: 200 }; // C1
}
