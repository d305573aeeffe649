// The page's compute thread: every call into attnkit happens here, so the page never freezes.
// Protocol (main → worker): { id, type: "info" | "forward" | "bench", ...payload }
//           (worker → main): { id, progress } while running, then { id, ok: true, result } or { id, ok: false, error }.
import { mulberry32 } from "./prng.js";
import { load } from "attnkit";
import { referenceForward, normaliseStateDict, multiheadFlops, maxAbsDiff } from "./reference.js";

let akPromise = null;
const getAk = () => (akPromise ??= load());

const copy = (a) => (a ? Float32Array.from(a) : null);

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
  const list = [result.context?.buffer, result.weights?.buffer];
  for (const t of Object.values(result.intermediates || {})) list.push(t.data.buffer);
  for (const t of Object.values(result.stateDict || {})) list.push(t.data.buffer);
  return [...new Set(list.filter(Boolean))];
}

function forward(ak, msg) {
  const { mechanism, options, x, shape, forwardOptions = {}, crossCheck, wantStateDict } = msg;
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
    const dropping = forwardOptions.train && options.dropout > 0;
    if (wantStateDict || crossCheck) {
      const sd = normaliseStateDict(layer.stateDict());
      if (crossCheck && !dropping) {
        const cfg = { dOut: options.dOut, numHeads: options.numHeads ?? 1, causal: options.causal, causalRoute: options.causalRoute };
        const ref = referenceForward(mechanism, cfg, sd, x, shape, {});
        result.crossCheck = maxAbsDiff(ref.context, result.context);
      }
      if (wantStateDict) result.stateDict = sd;
    }
    return result;
  } finally {
    layer.dispose();
  }
}


function median(times) {
  const s = [...times].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function bench(ak, msg, progress) {
  const { name, b, n, d, dIn = d, dOut = d, h, runs = 5, reference = true } = msg;
  const x = new Float32Array(b * n * dIn);
  const next = mulberry32(42);
  for (let i = 0; i < x.length; i++) x[i] = next() * 2 - 1;
  const options = { dIn, dOut, numHeads: h, contextLength: n, causal: true, dropout: 0, seed: 123 };
  const layer = ak.create("multihead", options);
  const flops = multiheadFlops({ b, n, dIn, dOut, h, causal: true });
  try {
    const shape = [b, n, dIn];
    progress({ phase: "wasm", i: 0, n: runs + 1 });
    let out = layer.forward(x, shape, {}); // warm-up
    const times = [];
    for (let r = 0; r < runs; r++) {
      progress({ phase: "wasm", i: r + 1, n: runs + 1 });
      const t0 = performance.now();
      out = layer.forward(x, shape, {});
      times.push(performance.now() - t0);
    }
    const medianMs = median(times);
    const result = { name, flops, times, medianMs, gflops: flops / (medianMs * 1e6) };
    if (reference) {
      progress({ phase: "reference" });
      const context = copy(out.context);
      const sd = normaliseStateDict(layer.stateDict());
      // Small configs: warm the JIT up and take the median of several runs, as for attnkit.
      const refRuns = flops < 1e8 ? runs : 1;
      const cfg = { dOut, numHeads: h, causal: true };
      if (refRuns > 1) referenceForward("multihead", cfg, sd, x, shape, {});
      const refTimes = [];
      let ref;
      for (let r = 0; r < refRuns; r++) {
        const t0 = performance.now();
        ref = referenceForward("multihead", cfg, sd, x, shape, refRuns === 1 ? { onProgress: (f) => progress({ phase: "reference", f }) } : {});
        refTimes.push(performance.now() - t0);
      }
      result.refMs = median(refTimes);
      result.refGflops = flops / (result.refMs * 1e6);
      result.speedup = result.refMs / medianMs;
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
    const ak = await getAk();
    let result;
    if (type === "info") {
      result = {
        simd: ak.simd ?? null,
        version: ak.version ?? null,
        mechanisms: ak.mechanisms ? Array.from(ak.mechanisms) : null,
        threads: ak.threads ?? 1,
        multithreaded: !!ak.multithreaded,
        isolated: !!self.crossOriginIsolated,
      };
    } else if (type === "forward") {
      result = forward(ak, msg);
    } else if (type === "bench") {
      result = bench(ak, msg, (progress) => self.postMessage({ id, progress }));
    } else {
      throw new Error(`unknown request type '${type}'`);
    }
    self.postMessage({ id, ok: true, result }, buffersOf(result));
  } catch (err) {
    const error = typeof err === "object" && err ? { name: err.name || "Error", message: err.message || String(err) } : { name: "Error", message: String(err) };
    self.postMessage({ id, ok: false, error });
  }
};
