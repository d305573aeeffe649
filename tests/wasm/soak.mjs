// attnkit — a long-running soak of the package: decode sessions stepped token by token (step, reset when the cache
// is full, a new session every `sessionSteps`, dispose), measuring wasm memory, malloc's bytes in use and the
// process's RSS at the start, the middle and the end. Memory must stay flat: the KV cache grows in place and a step
// allocates nothing that outlives it (core/include/attnkit/decoder.hpp).
//
//   node --expose-gc tests/wasm/soak.mjs [--steps N] [--threads] [--train] [--only-threads] [--only-train]
//   (npm run test:soak: 100 000 steps, both builds, decode and training; --only-* run one build or one kind)
//
// tests/wasm/soak.test.mjs runs the same function for 2 000 steps in the suite. Bounds (checked by assertFlat):
//   wasm memory      no growth at all from the start to the end (the linear memory never shrinks, so any growth stays)
//   bytes in use     no growth from the start to the end (training: at most TRAIN_IN_USE_SLACK_BYTES), and back to
//                    the level before the layer after dispose()
//                    (measured after one warm-up session: the per-thread scratch and worker stacks it allocates stay)
//   RSS              at most RSS_BOUND_BYTES more at the end than at the start (V8's own heap and code move around)
import { load } from '../../wasm/index.mjs';

export const RSS_BOUND_BYTES = 16 * 1024 * 1024;
// Training: between steps the bytes in use wander by a few dozen bytes around one level with no trend (275 232 to
// 275 320 over 2 500 steps in the single-thread build; 100 000 steps ended 8 bytes above the start), so the end may
// be this much above the start; a leak of 16 bytes every 100 steps exceeds it in under 2 000 steps. After dispose()
// the bytes in use must still be back to the level before the layer exactly.
export const TRAIN_IN_USE_SLACK_BYTES = 256;

// Deterministic inputs: a small LCG, values in [-1, 1).
function tokens(count, seed) {
  const x = new Float32Array(count);
  let s = seed >>> 0;
  for (let i = 0; i < count; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    x[i] = s / 2 ** 31 - 1;
  }
  return x;
}

function sample(ak, step) {
  if (typeof globalThis.gc === 'function') globalThis.gc();
  const m = ak.memory();
  return { step, wasmBytes: m.wasmBytes, inUseBytes: m.inUseBytes, rssBytes: process.memoryUsage().rss };
}

// Runs `steps` decode steps on a multihead layer (dIn 64, 8 heads, batch 2, cache 1024 tokens;
// the pthreads build on 2 threads); returns the samples
// and a check that every session's first step gave the same bits (the cache's state does not leak across resets).
export async function decodeSoak({ steps = 2000, threads = false, sessionSteps = 10000 } = {}) {
  const ak = await load({ threads });
  if (threads) ak.threads = Math.min(2, ak.maxThreads);
  const dIn = 64,
    batch = 2,
    maxTokens = 1024; // 4 chunks of kDecodeChunk keys: the split-KV path (core/src/decoder_attention.cpp)
  const inputs = [0, 1, 2, 3].map((i) => tokens(batch * dIn, 100 + i));
  // One full session first: the kernels keep a per-thread row of scratch scores between calls (docs/reliability.md
  // §3) and the pthreads build starts its worker threads (their stacks) at the first parallel step; both are
  // allocated once and kept, so the baseline is taken after it.
  const warm = ak.create('multihead', { dIn, dOut: dIn, numHeads: 8, seed: 11 });
  const warmDecoder = warm.decoder({ maxTokens, batch });
  for (let i = 0; i < maxTokens; i++) warmDecoder.step(inputs[i % 4], [batch, 1, dIn]);
  warm.dispose();
  const before = sample(ak, -1);
  const layer = ak.create('multihead', { dIn, dOut: dIn, numHeads: 8, seed: 11 });
  let decoder = layer.decoder({ maxTokens, batch });
  let firstStep = null,
    sameFirstSteps = true,
    sessions = 1;
  const samples = [];
  const warmUp = Math.min(500, Math.floor(steps / 4));
  for (let step = 0; step < steps; step++) {
    if (step > 0 && step % sessionSteps === 0) {
      decoder.dispose();
      decoder = layer.decoder({ maxTokens, batch });
      sessions++;
    } else if (decoder.length === maxTokens) {
      decoder.reset();
    }
    const atStart = decoder.length === 0;
    const { context } = decoder.step(inputs[step % 4], [batch, 1, dIn]);
    if (atStart && step % 4 === 0) {
      if (firstStep === null) firstStep = Float32Array.from(context);
      else sameFirstSteps &&= context.every((v, i) => Object.is(v, firstStep[i]));
    }
    if (step === warmUp || step === Math.floor(steps / 2) || step === steps - 1) samples.push(sample(ak, step));
  }
  decoder.dispose();
  layer.dispose();
  const after = sample(ak, steps);
  return { build: threads ? 'pthreads' : 'single-thread', steps, sessions, before, samples, after, sameFirstSteps, ak };
}

// Training steps: `ak.createModel({ task: 'copy-previous' }).trainStep()` (batch 8, dModel 16) and, on a layer,
// forward({ grad }) → backward → optimizer.step → zeroGrad, alternating, then dispose; the same samples.
// onProgress(step, sample or null): called every 10 000 steps and at each sample (the command line prints it).
export async function trainSoak({ steps = 2000, threads = false, onProgress = () => {} } = {}) {
  const ak = await load({ threads });
  if (threads) ak.threads = Math.min(2, ak.maxThreads);
  const x = tokens(2 * 8 * 16, 7);
  // The warm-up runs the loop's own calls a few times (optimizer included): with threads, which worker runs which
  // part varies, and each keeps the scratch it first grows.
  const warmModel = ak.createModel({ task: 'copy-previous', batch: 8, dModel: 16, heads: 2, evalBatch: 8 });
  const warmLayer = ak.create('multihead', { dIn: 16, dOut: 16, numHeads: 2, seed: 3 });
  const warmOptimizer = ak.optimizer('adamw', warmLayer, { lr: 1e-3 });
  for (let i = 0; i < 16; i++) {
    warmModel.trainStep();
    warmLayer.forward(x, [2, 8, 16], { grad: true });
    warmOptimizer.step(warmLayer.backward(new Float32Array(2 * 8 * 16).fill(0.01)));
    warmOptimizer.zeroGrad();
  }
  warmOptimizer.dispose();
  warmLayer.dispose();
  warmModel.dispose();
  const before = sample(ak, -1);
  const model = ak.createModel({ task: 'copy-previous', batch: 8, dModel: 16, heads: 2, evalBatch: 8 });
  const layer = ak.create('multihead', { dIn: 16, dOut: 16, numHeads: 2, seed: 3 });
  const optimizer = ak.optimizer('adamw', layer, { lr: 1e-3 });
  const gradContext = new Float32Array(2 * 8 * 16).fill(0.01);
  const samples = [];
  let finite = true;
  const warmUp = Math.min(500, Math.floor(steps / 4));
  for (let step = 0; step < steps; step++) {
    if (step % 2 === 0) {
      const { loss } = model.trainStep();
      finite &&= Number.isFinite(loss);
    } else {
      layer.forward(x, [2, 8, 16], { grad: true });
      optimizer.step(layer.backward(gradContext));
      optimizer.zeroGrad();
    }
    if (step === warmUp || step === Math.floor(steps / 2) || step === steps - 1) {
      samples.push(sample(ak, step));
      onProgress(step, samples.at(-1));
    } else if (step % 10000 === 0) onProgress(step, null);
  }
  optimizer.dispose();
  layer.dispose();
  model.dispose();
  const after = sample(ak, steps);
  return {
    build: threads ? 'pthreads' : 'single-thread',
    steps,
    sessions: 1,
    before,
    samples,
    after,
    sameFirstSteps: finite,
    inUseSlack: TRAIN_IN_USE_SLACK_BYTES,
    ak,
  };
}

// Throws an Error naming the figure that grew beyond its bound.
export function assertFlat({ before, samples, after, sameFirstSteps, inUseSlack = 0 }) {
  const [start, , end] = samples;
  if (!sameFirstSteps)
    throw new Error(
      'a session after reset() gave other bits than the first (decode), or a loss was not finite (train)',
    );
  if (end.wasmBytes !== start.wasmBytes)
    throw new Error(`wasm memory grew from ${start.wasmBytes} to ${end.wasmBytes} bytes; expected no growth`);
  if (end.inUseBytes > start.inUseBytes + inUseSlack)
    throw new Error(
      `bytes in use grew from ${start.inUseBytes} to ${end.inUseBytes}; expected no growth` +
        (inUseSlack ? ` beyond ${inUseSlack} bytes` : ''),
    );
  if (after.inUseBytes > before.inUseBytes)
    throw new Error(
      `bytes in use after dispose() are ${after.inUseBytes}, before the layer ${before.inUseBytes}; expected no more`,
    );
  if (end.rssBytes - start.rssBytes > RSS_BOUND_BYTES)
    throw new Error(
      `RSS grew by ${end.rssBytes - start.rssBytes} bytes (from ${start.rssBytes} to ${end.rssBytes}); expected at most ${RSS_BOUND_BYTES}`,
    );
}

export function describe(r, seconds) {
  const mb = (b) => (b / 2 ** 20).toFixed(2);
  const row = (s) => `step ${s.step}: wasm ${mb(s.wasmBytes)} MiB, in use ${s.inUseBytes} B, RSS ${mb(s.rssBytes)} MiB`;
  return [
    `${r.kind ?? 'decode'} soak (${r.build}): ${r.steps} steps, ${r.sessions} sessions, ${seconds.toFixed(1)} s` +
      (typeof globalThis.gc === 'function' ? '' : ' (no --expose-gc: RSS includes uncollected garbage)'),
    `  before the layer: in use ${r.before.inUseBytes} B`,
    ...r.samples.map((s) => '  ' + row(s)),
    `  after dispose(): in use ${r.after.inUseBytes} B, RSS ${mb(r.after.rssBytes)} MiB`,
  ].join('\n');
}

// A line on stderr per progress report: the step, the elapsed and CPU seconds, and the sample when there is one.
function progress(threads, t0) {
  return (step, s) =>
    console.error(
      `  ${threads ? 'pthreads' : 'single-thread'} train step ${step}: ${((performance.now() - t0) / 1000).toFixed(0)} s,` +
        ` CPU ${(process.cpuUsage().user / 1e6).toFixed(0)} s` +
        (s ? `, wasm ${s.wasmBytes} B, in use ${s.inUseBytes} B, RSS ${s.rssBytes} B` : ''),
    );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const at = args.indexOf('--steps');
  const steps = at === -1 ? 100000 : Number(args[at + 1]);
  if (!Number.isInteger(steps) || steps < 8) {
    console.error('soak: --steps must be an integer >= 8');
    process.exit(2);
  }
  let failed = false;
  const builds = args.includes('--only-threads') ? [true] : args.includes('--threads') ? [false, true] : [false];
  const kinds = args.includes('--only-train') ? ['train'] : args.includes('--train') ? ['decode', 'train'] : ['decode'];
  for (const threads of builds) {
    for (const kind of kinds) {
      const t0 = performance.now();
      const cpu0 = process.cpuUsage();
      const r =
        kind === 'train'
          ? { ...(await trainSoak({ steps, threads, onProgress: progress(threads, t0) })), kind }
          : await decodeSoak({ steps, threads });
      console.log(describe(r, (performance.now() - t0) / 1000));
      const cpu = process.cpuUsage(cpu0);
      console.log(`  CPU time ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s (all threads of the process)`);
      try {
        assertFlat(r);
        console.log('  flat: yes');
      } catch (e) {
        console.log(`  FAILED: ${e.message}`);
        failed = true;
      }
      r.ak.terminate();
    }
  }
  process.exit(failed ? 1 : 0);
}
