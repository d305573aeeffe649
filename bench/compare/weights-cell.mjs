// C2 with the attention weights against the fused forward, in attnkit's wasm build in Node (issue 14 §4), one process:
//   node bench/compare/weights-cell.mjs [--config C2] [--pairs 5]
// The two calls alternate, `pairs` times after one warm-up each, so both see the same state of a drifting host; the
// ratio is the median of the pairs' ratios. Before timing, the context with weights must equal the fused one and the
// weights must be a causal softmax (rows sum to 1, nothing above the diagonal), else no timing. Prints one JSON line.
import { load } from 'attnkit';
import { config, makeInput, makeStateDict, relativeError } from './configs.mjs';
import { median } from './timing.mjs';

function checkWeights(w, [b, h, n, m]) {
  let worstSum = 0,
    future = 0;
  for (let r = 0; r < b * h * n; r += 97) {
    const i = r % n,
      row = w.subarray(r * m, (r + 1) * m);
    let s = 0;
    for (let j = 0; j < m; j++) j > i ? (future = Math.max(future, Math.abs(row[j]))) : (s += row[j]);
    worstSum = Math.max(worstSum, Math.abs(s - 1));
  }
  return { worstSum, future };
}

async function main() {
  const argv = process.argv.slice(2);
  const arg = (name, dflt) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : dflt);
  const c = config(arg('--config', 'C2'));
  const pairs = Number(arg('--pairs', '5'));
  const ak = await load({ threads: false });
  const layer = ak.create('multihead', {
    dIn: c.dIn,
    dOut: c.dOut,
    numHeads: c.heads,
    contextLength: c.tokens,
    causal: true,
    qkvBias: false,
    dropout: 0,
    stateDict: makeStateDict(c),
  });
  const x = makeInput(c),
    shape = [c.batch, c.tokens, c.dIn];
  const fused = () => layer.forward(x, shape, { threads: 1 });
  const weights = () => layer.forward(x, shape, { threads: 1, returnWeights: true });
  const result = { config: c.name, simd: ak.simd, how: `wasm in Node, ${pairs} alternating pairs, wall clock` };
  const a = fused(),
    b = weights();
  const context_rel_error = relativeError(b.context, a.context);
  const { worstSum, future } = checkWeights(b.weights, b.weightsShape);
  Object.assign(result, { context_rel_error, weights_row_sum_error: worstSum, weights_above_diagonal: future });
  if (!(context_rel_error <= 1e-5) || !(worstSum <= 1e-4) || future !== 0)
    result.error = `the weights path's answer is wrong (context ${context_rel_error}, row sums ${worstSum}, future ${future}); not timed`;
  else {
    const f = [],
      w = [];
    for (let k = 0; k < pairs; k++) {
      let t0 = performance.now();
      fused();
      f.push(performance.now() - t0);
      t0 = performance.now();
      weights();
      w.push(performance.now() - t0);
    }
    Object.assign(result, {
      fused_ms: median(f),
      weights_ms: median(w),
      ratio: median(w.map((t, k) => t / f[k])),
      fused_samples_ms: f,
      weights_samples_ms: w,
    });
  }
  layer.dispose();
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((e) => {
  process.stdout.write(JSON.stringify({ error: String(e?.message ?? e) }) + '\n');
  process.exit(1);
});
