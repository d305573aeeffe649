// What one C1 forward costs, step by step, in whichever JavaScript engine imports this (Node, or the Chromium page of
// browser.mjs): the whole call through the package in its usual forms, the same call's parts one at a time (the wasm
// export alone: the core's forward and the C entry; the copies in and out; allocating the result), and the plain
// JavaScript loop (peers.mjs) beside them (timed first and last of the steps).
import { config, makeStateDict, makeInput } from './configs.mjs';
import { createBenchLayer, plainJsPeer } from './peers.mjs';

// One batch of calls of one step. Each step gets its own copy of this loop (a function of its own, with its own type
// feedback), so the engine optimises every step's call on its own, as it does a caller's loop; one shared loop that
// calls ten different functions is deoptimised into something slower than any of them.
const batchLoop = () =>
  new Function(
    'fn',
    'calls',
    'const t0 = performance.now(); for (let i = 0; i < calls; i++) fn(); return performance.now() - t0;',
  );

// The steps are interleaved batch by batch (about a millisecond each) so that a drift of the host's speed reaches them
// all alike; a step's figure is the median over its `batches` batches, which leaves out the batches another process
// preempted (the machine is shared), as timing.mjs does for the bench cells.
function timeAll(fns, calls, batches) {
  const loops = fns.map(batchLoop);
  const samples = fns.map(() => []);
  for (let k = 0; k < fns.length; k++) loops[k](fns[k], calls * 4); // warm-up
  for (let b = 0; b < batches; b++)
    for (let k = 0; k < fns.length; k++) samples[k].push((loops[k](fns[k], calls) / calls) * 1000); // µs
  return samples.map((s) => s.sort((a, b) => a - b)[(s.length - 1) >> 1]);
}

// ak: a loaded instance; internals: the package's wasm/src/layer.mjs (rawLayer reaches the wasm module the steps
// call directly). → [{ step, us }] and the ratios of the plain loop to the package's calls.
export function c1Steps(ak, internals, { calls = 500, batches = 200 } = {}) {
  const c = config('C1');
  const sd = makeStateDict(c),
    x = makeInput(c);
  const layer = createBenchLayer(ak, c, sd);
  const shape = [c.batch, c.tokens, c.dIn];
  const plain = plainJsPeer(c, sd, x);
  const numel = c.batch * c.tokens * c.dOut;
  const out = new Float32Array(numel);
  const { raw, runtime } = internals.rawLayer(layer);
  const m = runtime.m;
  const self = raw.address();
  const options = { threads: 1 };
  const outOptions = { threads: 1, out };
  const f32 = new Float32Array(4096);
  const steps = [
    ['plain JavaScript loop (peers.mjs)', plain.run],
    ['forward(x, shape)', () => layer.forward(x, shape)],
    ['forward(x, shape, { threads: 1 }) (the bench cell)', () => layer.forward(x, shape, options)],
    ['forward(x, shape, { threads: 1, out })', () => layer.forward(x, shape, outOptions)],
    [
      '  the wasm export alone (core forward + C entry)',
      () => m._attnkit_forward_fast(self, 3, c.batch, c.tokens, c.dIn, 0, 1),
    ],
    ['  copy x in (Float32Array.set, 36 floats)', () => f32.set(x, 64)],
    ['  copy the context out (slice: a new Float32Array)', () => f32.slice(128, 128 + numel)],
    ['  copy the context out into `out` (set(subarray))', () => out.set(f32.subarray(128, 128 + numel))],
    ['  new Float32Array(24)', () => new Float32Array(numel)],
  ];
  const runs = (fn) => {
    try {
      fn();
      return true;
    } catch {
      return false; // a package without the `out` option
    }
  };
  const fns = [...steps.map(([, fn]) => fn), plain.run];
  const ok = fns.map(runs);
  const us = timeAll(
    fns.filter((f, k) => ok[k]),
    calls,
    batches,
  );
  const rows = [...steps.map(([step]) => step), 'plain JavaScript loop, again'].map((step, k) => ({
    step,
    us: ok[k] ? us[ok.slice(0, k).filter(Boolean).length] : null,
  }));
  layer.dispose();
  const loop = (rows[0].us + rows[rows.length - 1].us) / 2;
  return {
    rows,
    plainOverPackage: rows[2].us > 0 ? loop / rows[2].us : NaN,
    plainOverPackageOut: rows[3].us > 0 ? loop / rows[3].us : null,
  };
}
