// What returnWeights costs in attnkit's wasm build, in one Node process (issue 14 §4: the explain path at most 1.3×
// the fused forward at C2):
//   node bench/compare/weights-cell.mjs [--reps N] [--threads N]
// module: C2's layer.forward(x, shape) against layer.forward(x, shape, { returnWeights: true }) (the (1, 12, 1024,
// 1024) weights copied out as a Float32Array). op: ak.attention at C2's attention shape as bench/bench_kernels.cpp's
// attention_op cell (12 query heads over 4 key/value heads, n 1024, d 64, causal lower-right), without and with
// returnWeights. The calls alternate, so each pair's ratio is a same-run one; the figures are medians of the
// process's CPU time per call (user + system, process.cpuUsage: what the machine's other load does not inflate, as
// long as the build is the single-thread one) and of the wall clock. Prints one JSON line.
import { load } from 'attnkit';
import { config, makeInput, makeStateDict } from './configs.mjs';
import { createBenchLayer } from './peers.mjs';
import { median } from './timing.mjs';

function cpuMs() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

// Alternates fns' calls reps times after one warm-up each; medians of CPU and wall milliseconds per fn.
function timePairs(fns, reps) {
  for (const fn of Object.values(fns)) fn();
  const cpu = Object.fromEntries(Object.keys(fns).map((k) => [k, []]));
  const wall = Object.fromEntries(Object.keys(fns).map((k) => [k, []]));
  for (let r = 0; r < reps; r++)
    for (const [name, fn] of Object.entries(fns)) {
      const c0 = cpuMs(),
        w0 = performance.now();
      fn();
      wall[name].push(performance.now() - w0);
      cpu[name].push(cpuMs() - c0);
    }
  const out = {};
  for (const name of Object.keys(fns)) out[name] = { cpu_ms: median(cpu[name]), wall_ms: median(wall[name]) };
  return out;
}

function random(count, seed) {
  let s = seed >>> 0;
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 32 - 0.5;
  }
  return out;
}

async function main() {
  const argv = process.argv.slice(2);
  const arg = (name, dflt) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : dflt);
  const reps = Number(arg('--reps', '7')),
    threads = Number(arg('--threads', '1'));
  const ak = await load({ threads: threads > 1 });
  const c = config('C2');
  const layer = createBenchLayer(ak, c, makeStateDict(c));
  const x = makeInput(c),
    shape = [c.batch, c.tokens, c.dIn];
  const n = 1024,
    d = 64,
    hq = 12,
    hkv = 4;
  const query = random(hq * n * d, 5),
    key = random(hkv * n * d, 6),
    value = random(hkv * n * d, 7);
  const op = { queryShape: [1, hq, n, d], keyShape: [1, hkv, n, d], valueShape: [1, hkv, n, d], causal: 'lower-right' };
  const t = timePairs(
    {
      forward: () => layer.forward(x, shape, { threads }).context,
      forward_weights: () => layer.forward(x, shape, { threads, returnWeights: true }).weights,
      attention: () => ak.attention(query, key, value, { ...op, threads }).output,
      attention_weights: () => ak.attention(query, key, value, { ...op, threads, returnWeights: true }).weights,
    },
    reps,
  );
  const ratio = (a, b) => Number((t[a].cpu_ms / t[b].cpu_ms).toFixed(3));
  console.log(
    JSON.stringify({
      peer: 'attnkit-wasm',
      env: `node ${process.version}`,
      simd: ak.simd,
      threads,
      reps,
      ...t,
      module_ratio: ratio('forward_weights', 'forward'),
      op_ratio: ratio('attention_weights', 'attention'),
    }),
  );
  layer.dispose();
}

main().catch((e) => {
  console.error(`weights-cell: ${e.message}`);
  process.exit(1);
});
