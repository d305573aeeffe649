// onnxruntime-web as a peer in the performance panel: the same comparison as `npm run bench:compare`.
// Loaded by the worker with a dynamic import, only when the panel runs it, so the page's first load
// does not grow. The entry is onnxruntime-web's plain WebAssembly build (`onnxruntime-web/wasm`:
// SIMD, no WebGL/WebGPU/JSEP); its .wasm file is emitted by Vite next to the page's other assets
// (the bundle asks for it with `new URL("ort-wasm-simd-threaded.wasm", import.meta.url)`), so nothing is
// fetched from anywhere but the page's own origin.
//
// The model is the ONNX graph of onnx-graph.js (MatMul ×3 → com.microsoft.MultiHeadAttention, causal →
// MatMul + Add), built from the attnkit layer's own state_dict, so both compute with the same weights;
// the session is ort-session.js's, with the options bench/compare uses too.
import { buildMultiHeadAttentionModel } from './onnx-graph.js';
import { ortPeer } from './ort-session.js';

let ortPromise = null;
let ortThreads = 0;

/** The onnxruntime-web module, its wasm backend set to `threads` threads (fixed once it has started). */
export async function loadOrt(threads) {
  if (ortPromise && ortThreads !== threads)
    throw new Error(`onnxruntime-web already started with ${ortThreads} thread(s)`);
  ortThreads = threads;
  ortPromise ??= (async () => {
    const ort = await import('onnxruntime-web/wasm');
    ort.env.wasm.numThreads = threads;
    ort.env.wasm.simd = true;
    ort.env.wasm.proxy = false;
    ort.env.logLevel = 'error';
    return ort;
  })();
  try {
    return await ortPromise;
  } catch (e) {
    ortPromise = null; // a later run may try again
    throw e;
  }
}

/**
 * onnxruntime-web at `threads` threads on the causal multi-head layer of shape { dIn, dOut, heads } with
 * state_dict sd ({ name: { data, shape } }, PyTorch layout), input x of shape [b, n, dIn]. The session
 * and its options are ort-session.js's. Returns { run(): Promise<Float32Array>, dispose(), version }.
 */
export async function makeOrtPeer(threads, { b, n, dIn, dOut, h }, sd, x) {
  const ort = await loadOrt(threads);
  const c = { batch: b, tokens: n, dIn, dOut, heads: h };
  const peer = await ortPeer(ort, buildMultiHeadAttentionModel(c, sd), c, x, threads, { executionProviders: ['wasm'] });
  return { ...peer, version: ort.env.versions?.web ?? null };
}
