// onnxruntime (node or web) running the model of onnx-graph.js: one InferenceSession with the options of every
// comparison (the page's performance panel and bench/compare). Takes the already-imported library, so the
// caller decides where it comes from. No imports, so bench/compare's Chromium page loads it as is.

/**
 * An InferenceSession on modelBytes for config c ({ batch, tokens, dIn }) and input x (batch, tokens, d_in).
 * Returns { run(): Promise<Float32Array>, isAsync: true, dispose() }.
 */
export async function ortPeer(ort, modelBytes, c, x, threads, extra = {}) {
  const session = await ort.InferenceSession.create(modelBytes, {
    graphOptimizationLevel: 'all',
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    ...extra,
  });
  const dims = [c.batch, c.tokens, c.dIn];
  return {
    isAsync: true,
    run: async () => {
      const out = await session.run({ x: new ort.Tensor('float32', x, dims) });
      const y = out.y.data;
      out.y.dispose?.();
      return y;
    },
    dispose: () => session.release(),
  };
}
