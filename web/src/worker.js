// The page's compute thread: every call into attnkit happens here, so the page never freezes.
// Protocol (main → worker): { id, type: "info" | "forward" | "decode" | "learn-create" | "learn-train" | "bench", ...payload }
//           (worker → main): { id, progress } while running, then { id, ok: true, result } or { id, ok: false, error }.
import { mulberry32 } from './prng.js';
import { load } from 'attnkit';
import { referenceForward, normaliseStateDict, maxAbsDiff } from './reference.js';
import { poolHeads } from './pool.js';
import { decode, learnCreate, learnTrain } from './worker-model.js';
import { copy } from './owned.js';

// attnkit, loaded once per build: "auto" (the playground: the pthreads build when the page is cross-origin
// isolated) or, for the performance panel, the build bench/compare uses at that thread count.
const aks = new Map();
const getAk = (threads = 'auto') => {
  if (!aks.has(threads)) aks.set(threads, load(threads === 'auto' ? {} : { threads }));
  return aks.get(threads);
};

function entries(obj) {
  if (!obj) return [];
  if (obj instanceof Map) return [...obj.entries()];
  if (Array.isArray(obj)) return obj;
  return Object.entries(obj);
}

function collectIntermediates(raw) {
  const out = {};
  for (const [name, t] of entries(raw)) out[name] = { data: copy(t.data), shape: Array.from(t.shape) };
  return out;
}

function buffersOf(result) {
  const list = [result.context?.buffer, result.weights?.buffer, result.thumbs?.data.buffer];
  for (const t of Object.values(result.intermediates || {})) list.push(t.data.buffer);
  for (const t of Object.values(result.stateDict || {})) list.push(t.data.buffer);
  return [...new Set(list.filter(Boolean))];
}

function forward(ak, msg) {
  const { mechanism, options, x, shape, forwardOptions = {}, crossCheck, wantStateDict, thumbs } = msg;
  const start = performance.now();
  const layer = ak.create(mechanism, options);
  try {
    const t0 = performance.now();
    const out = layer.forward(x, shape, forwardOptions);
    const ms = performance.now() - t0;
    const result = {
      context: copy(out.context),
      contextShape: Array.from(out.contextShape),
      weights: copy(out.weights),
      weightsShape: out.weightsShape ? Array.from(out.weightsShape) : null,
      intermediates: collectIntermediates(out.intermediates),
      ms,
    };
    if (thumbs && result.weights) {
      // The grid of heads: every (n × n) block max-pooled here, off the page's thread.
      const ws = result.weightsShape;
      const [rows, cols] = ws.slice(-2);
      result.thumbs = poolHeads(result.weights, result.weights.length / (rows * cols), rows, cols);
    }
    const dropping = forwardOptions.train && options.dropout > 0;
    if (wantStateDict || crossCheck) {
      const sd = normaliseStateDict(layer.stateDict());
      if (crossCheck && !dropping) {
        const cfg = {
          dOut: options.dOut,
          numHeads: options.numHeads ?? 1,
          causal: options.causal,
          causalRoute: options.causalRoute,
        };
        const ref = referenceForward(mechanism, cfg, sd, x, shape, {});
        result.crossCheck = maxAbsDiff(ref.context, result.context);
      }
      if (wantStateDict) result.stateDict = sd;
    }
    result.workerMs = performance.now() - start; // create, forward, copies, pooling, cross-check
    return result;
  } finally {
    layer.dispose();
  }
}

function median(times) {
  const s = [...times].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

const now = () => performance.now();
const errorText = (e) => String((e && e.message) || e);
const WARMUP_MS = 250;

/**
 * `runs` timed samples of fn (sync, or async when isAsync), after the caller's first call, which took
 * firstMs. Calls under 2 ms are timed in batches of `inner` calls (per-call time = batch time / inner),
 * so the clock's resolution (5 µs in a cross-origin-isolated page, 100 µs otherwise) does not decide
 * the result. Such calls are first warmed up for WARMUP_MS (JIT and wasm tier-up), which also measures
 * the call time that sets `inner`. The same for every column.
 */
async function timeRuns(fn, { runs, isAsync = false, firstMs = 0, onRun = () => {} }) {
  let inner = 1;
  if (firstMs < 20) {
    let k = 0;
    const t0 = now();
    do {
      isAsync ? await fn() : fn();
      k++;
    } while (now() - t0 < WARMUP_MS && k < 50000);
    const per = (now() - t0) / k;
    inner = per >= 2 ? 1 : Math.min(20000, Math.ceil(2 / Math.max(per, 1e-4)));
  }
  const times = [];
  for (let r = 0; r < runs; r++) {
    onRun(r);
    const t0 = now();
    if (isAsync) for (let i = 0; i < inner; i++) await fn();
    else for (let i = 0; i < inner; i++) fn();
    times.push((now() - t0) / inner);
  }
  return { times, medianMs: median(times), inner };
}

/**
 * One configuration of the performance panel: attnkit, then (when asked) onnxruntime-web and the
 * plain-JavaScript reference on the same input and the layer's own weights, in this worker, one after
 * the other. attnkit and onnxruntime-web run at `threads` threads; the reference is single-threaded.
 */
async function bench(ak, msg, progress) {
  const { name, b, n, d, dIn = d, dOut = d, h, flops, runs = 5, threads = 1, reference = true, ort = false } = msg;
  const x = new Float32Array(b * n * dIn);
  const next = mulberry32(42);
  for (let i = 0; i < x.length; i++) x[i] = next() * 2 - 1;
  const options = { dIn, dOut, numHeads: h, contextLength: n, causal: true, dropout: 0, seed: 123 };
  const layer = ak.create('multihead', options);
  try {
    const shape = [b, n, dIn];
    const fo = { threads };
    progress({ phase: 'wasm', i: 0, n: runs + 1 });
    let t0 = now();
    const context = copy(layer.forward(x, shape, fo).context); // warm-up, and the output the peers are checked against
    const wasm = await timeRuns(() => layer.forward(x, shape, fo), {
      runs,
      firstMs: now() - t0,
      onRun: (r) => progress({ phase: 'wasm', i: r + 1, n: runs + 1 }),
    });
    const result = {
      name,
      flops,
      threads,
      times: wasm.times,
      inner: wasm.inner,
      medianMs: wasm.medianMs,
      gflops: flops / (wasm.medianMs * 1e6),
    };
    const sd = ort || reference ? normaliseStateDict(layer.stateDict()) : null;
    if (ort) {
      progress({ phase: 'ort-load' });
      let peer = null;
      try {
        const { makeOrtPeer } = await import('./ort-peer.js');
        peer = await makeOrtPeer(threads, { b, n, dIn, dOut, h }, sd, x);
        progress({ phase: 'ort', i: 0, n: runs + 1 });
        t0 = now();
        const y = Float32Array.from(await peer.run());
        const firstMs = now() - t0;
        const maxDiff = maxAbsDiff(y, context);
        const t = await timeRuns(peer.run, {
          runs,
          isAsync: true,
          firstMs,
          onRun: (r) => progress({ phase: 'ort', i: r + 1, n: runs + 1 }),
        });
        result.ort = {
          medianMs: t.medianMs,
          times: t.times,
          inner: t.inner,
          ratio: t.medianMs / wasm.medianMs,
          maxDiff,
          version: peer.version,
        };
      } catch (e) {
        result.ort = { error: errorText(e) };
      } finally {
        try {
          peer?.dispose();
        } catch {
          /* already gone */
        }
      }
    }
    if (reference) {
      progress({ phase: 'reference' });
      const cfg = { dOut, numHeads: h, causal: true };
      let ref, refMs;
      if (flops < 1e8) {
        // Small configs: time it like attnkit (warm-up, batches, median of `runs`).
        t0 = now();
        ref = referenceForward('multihead', cfg, sd, x, shape, {});
        refMs = (
          await timeRuns(() => referenceForward('multihead', cfg, sd, x, shape, {}), { runs, firstMs: now() - t0 })
        ).medianMs;
      } else {
        // C2 and C3 take seconds in plain JavaScript: one run, with progress.
        t0 = now();
        ref = referenceForward('multihead', cfg, sd, x, shape, {
          onProgress: (f) => progress({ phase: 'reference', f }),
        });
        refMs = now() - t0;
      }
      result.refMs = refMs;
      result.refGflops = flops / (refMs * 1e6);
      result.speedup = refMs / wasm.medianMs;
      result.maxDiff = maxAbsDiff(ref.context, context);
    }
    return result;
  } finally {
    layer.dispose();
  }
}

self.onmessage = async (e) => {
  const msg = e.data;
  const { id, type } = msg;
  try {
    const ak = await getAk(type === 'bench' ? (msg.threads ?? 1) > 1 : 'auto');
    let result;
    if (type === 'info') {
      result = {
        simd: ak.simd ?? null,
        version: ak.version ?? null,
        mechanisms: Array.from(ak.mechanisms), // the core's traits (name, defaults, options that apply)
        benchConfigs: Array.from(ak.benchConfigs), // the core's C1–C4 with their FLOP counts
        threads: ak.threads ?? 1,
        multithreaded: !!ak.multithreaded,
        isolated: !!self.crossOriginIsolated,
        canTrain: typeof ak.createModel === 'function', // the #learn section's model API
        tasks: ak.tasks ? Array.from(ak.tasks, (t) => ({ ...t })) : [],
      };
    } else if (type === 'forward') {
      result = forward(ak, msg);
    } else if (type === 'learn-create') {
      result = learnCreate(ak, msg);
    } else if (type === 'learn-train') {
      result = learnTrain(msg);
    } else if (type === 'decode') {
      result = decode(ak, msg);
    } else if (type === 'bench') {
      result = await bench(ak, msg, (progress) => self.postMessage({ id, progress }));
    } else {
      throw new Error(`unknown request type '${type}'`);
    }
    self.postMessage(
      { id, ok: true, result },
      buffersOf(result).concat(result?.probe ? [result.probe.data.buffer] : []),
    );
  } catch (err) {
    const error =
      typeof err === 'object' && err
        ? { name: err.name || 'Error', message: err.message || String(err) }
        : { name: 'Error', message: String(err) };
    self.postMessage({ id, ok: false, error });
  }
};
