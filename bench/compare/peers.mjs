// The wasm-capable implementations, written once for Node and for the browser page. Each factory
// takes the already-imported library, so the caller decides where it comes from (npm in Node, served
// files in the page). Each returns { run(): Float32Array | Promise<Float32Array>, isAsync, dispose() }.
// onnxruntime's session is the page's (web/src/ort-session.js).
export { ortPeer } from '../../web/src/ort-session.js';

/** The package's causal multihead layer for a bench configuration, with the given state_dict (every peer's own). */
export function createBenchLayer(ak, c, sd) {
  return ak.create('multihead', {
    dIn: c.dIn,
    dOut: c.dOut,
    numHeads: c.heads,
    contextLength: c.tokens,
    causal: true,
    qkvBias: false,
    dropout: 0,
    stateDict: sd,
  });
}

/**
 * attnkit (the npm package `attnkit`, wasm). `threads` is passed to every forward(). `intoOut`: the context is written
 * into one Float32Array the peer keeps (forward's `out` option) instead of a new one per call.
 */
export function attnkitPeer(ak, c, sd, x, threads, intoOut = false) {
  const layer = createBenchLayer(ak, c, sd);
  const shape = [c.batch, c.tokens, c.dIn];
  const opts = intoOut ? { threads, out: new Float32Array(c.batch * c.tokens * c.dOut) } : { threads };
  return {
    isAsync: false,
    run: () => layer.forward(x, shape, opts).context,
    dispose: () => layer.dispose(),
  };
}

/**
 * tfjs (tfjs-core + tfjs-backend-wasm): the seed's forward pass written with tf ops, the way a tfjs user
 * would: projections, split into heads, q·kᵀ/√d_k + causal mask, softmax, ·v, merge heads, out_proj.
 */
export function tfjsPeer(tf, c, sd, x) {
  const { batch: B, tokens: N, dIn, dOut: D, heads: H } = c;
  const hd = D / H;
  const w = (name, rows, cols) => tf.transpose(tf.tensor2d(sd[name].data, [rows, cols])); // (d_in × d_out)
  const Wq = w('W_query.weight', D, dIn),
    Wk = w('W_key.weight', D, dIn),
    Wv = w('W_value.weight', D, dIn);
  const Wo = w('out_proj.weight', D, D),
    bo = tf.tensor1d(sd['out_proj.bias'].data);
  const maskData = new Float32Array(N * N);
  for (let i = 0; i < N; i++) for (let j = i + 1; j < N; j++) maskData[i * N + j] = -Infinity;
  const mask = tf.tensor2d(maskData, [N, N]);
  const scale = tf.scalar(1 / Math.sqrt(hd));
  const xt = tf.tensor2d(x, [B * N, dIn]);
  const heads = (t) => tf.transpose(tf.reshape(t, [B, N, H, hd]), [0, 2, 1, 3]);
  const forward = () =>
    tf.tidy(() => {
      const q = heads(tf.mul(tf.matMul(xt, Wq), scale));
      const k = heads(tf.matMul(xt, Wk));
      const v = heads(tf.matMul(xt, Wv));
      const scores = tf.add(tf.matMul(q, k, false, true), mask);
      const weights = tf.softmax(scores);
      const context = tf.reshape(tf.transpose(tf.matMul(weights, v), [0, 2, 1, 3]), [B * N, D]);
      return tf.add(tf.matMul(context, Wo), bo);
    });
  return {
    isAsync: false,
    run: () => {
      const y = forward();
      const data = y.dataSync();
      y.dispose();
      return data;
    },
    dispose: () => tf.dispose([Wq, Wk, Wv, Wo, bo, mask, scale, xt]),
  };
}

/**
 * A plain JavaScript loop (Float32Arrays allocated once, no SIMD, no wasm): the bar for C1 "from JavaScript".
 * A peer, not a reference: written the way a JS developer would write it for speed. Outputs are checked
 * against the page's reference (web/src/reference.js), which allocates per call and is 3–4× slower at C1.
 * Only sensible for tiny configs.
 */
export function plainJsPeer(c, sd, x) {
  const { batch: B, tokens: N, dIn, dOut: D, heads: H } = c;
  const hd = D / H,
    scale = 1 / Math.sqrt(hd);
  const Wq = sd['W_query.weight'].data,
    Wk = sd['W_key.weight'].data,
    Wv = sd['W_value.weight'].data;
  const Wo = sd['out_proj.weight'].data,
    bo = sd['out_proj.bias'].data;
  const q = new Float32Array(B * N * D),
    k = new Float32Array(B * N * D),
    v = new Float32Array(B * N * D);
  const ctx = new Float32Array(B * N * D),
    w = new Float32Array(N);
  const run = () => {
    const y = new Float32Array(B * N * D);
    for (let t = 0; t < B * N; t++) {
      for (let o = 0; o < D; o++) {
        let sq = 0,
          sk = 0,
          sv = 0;
        for (let i = 0; i < dIn; i++) {
          const xi = x[t * dIn + i];
          sq += xi * Wq[o * dIn + i];
          sk += xi * Wk[o * dIn + i];
          sv += xi * Wv[o * dIn + i];
        }
        q[t * D + o] = sq;
        k[t * D + o] = sk;
        v[t * D + o] = sv;
      }
    }
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < H; h++) {
        for (let i = 0; i < N; i++) {
          const qi = (b * N + i) * D + h * hd;
          let max = -Infinity;
          for (let j = 0; j <= i; j++) {
            const kj = (b * N + j) * D + h * hd;
            let s = 0;
            for (let e = 0; e < hd; e++) s += q[qi + e] * k[kj + e];
            w[j] = s * scale;
            if (w[j] > max) max = w[j];
          }
          let sum = 0;
          for (let j = 0; j <= i; j++) {
            w[j] = Math.exp(w[j] - max);
            sum += w[j];
          }
          for (let e = 0; e < hd; e++) {
            let s = 0;
            for (let j = 0; j <= i; j++) s += w[j] * v[(b * N + j) * D + h * hd + e];
            ctx[qi + e] = s / sum;
          }
        }
      }
    }
    for (let t = 0; t < B * N; t++) {
      for (let o = 0; o < D; o++) {
        let s = bo[o];
        for (let i = 0; i < D; i++) s += ctx[t * D + i] * Wo[o * D + i];
        y[t * D + o] = s;
      }
    }
    return y;
  };
  return { isAsync: false, run, dispose: () => {} };
}
