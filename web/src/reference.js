// A plain-JavaScript reference implementation of the book's attention mechanisms.
//
// It is deliberately simple (triple loops over Float32Arrays, no SIMD, no threads): the performance
// panel times it against the WebAssembly module on the same input, and the page uses it to
// cross-check the module's numbers. Parameters come from the module itself (layer.stateDict()), so
// both sides compute with identical weights.
//
// Layouts (as in core/include/attnkit/mechanisms.hpp): activations (b, n, features), attention tensors (b, h, n, n),
// nn.Linear weights (out, in) applied as x·Wᵀ + b, SelfAttention_v1 weights (in, out) applied as x·W.

/** Normalise a state_dict value (nested lists, {data, shape}, or a typed array) to {data, shape}. */
export function toTensor(value) {
  if (value && value.data !== undefined && value.shape !== undefined) {
    return { data: Float32Array.from(value.data), shape: Array.from(value.shape) };
  }
  if (ArrayBuffer.isView(value)) return { data: Float32Array.from(value), shape: [value.length] };
  if (Array.isArray(value)) {
    const shape = [];
    let v = value;
    while (Array.isArray(v)) {
      shape.push(v.length);
      v = v[0];
    }
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    let k = 0;
    const walk = (a) => {
      if (Array.isArray(a)) a.forEach(walk);
      else data[k++] = a;
    };
    walk(value);
    return { data, shape };
  }
  throw new Error('unsupported state_dict entry');
}

export function normaliseStateDict(sd) {
  const out = {};
  const entries = sd instanceof Map ? sd.entries() : Object.entries(sd || {});
  for (const [k, v] of entries) out[k] = toTensor(v);
  return out;
}

// y (rows × out) = x (rows × in) · Wᵀ (+ bias), W stored (out × in).
function linear(x, rows, inF, W, outF, bias) {
  const y = new Float32Array(rows * outF);
  for (let r = 0; r < rows; r++) {
    const xo = r * inF;
    for (let o = 0; o < outF; o++) {
      const wo = o * inF;
      let s = 0;
      for (let i = 0; i < inF; i++) s += x[xo + i] * W[wo + i];
      y[r * outF + o] = bias ? s + bias[o] : s;
    }
  }
  return y;
}

// y (rows × out) = x (rows × in) · W, W stored (in × out).
function matmulInOut(x, rows, inF, W, outF) {
  const y = new Float32Array(rows * outF);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < inF; i++) {
      const a = x[r * inF + i];
      const wo = i * outF;
      for (let o = 0; o < outF; o++) y[r * outF + o] += a * W[wo + o];
    }
  }
  return y;
}

// (b·n × h·hd) → (b, h, n, hd), taking columns [col0 + h·hd, col0 + (h+1)·hd).
function splitHeads(y, b, n, width, h, hd, out, headOffset = 0) {
  for (let bi = 0; bi < b; bi++)
    for (let t = 0; t < n; t++)
      for (let hh = 0; hh < h; hh++)
        for (let d = 0; d < hd; d++)
          out[((bi * out.heads + hh + headOffset) * n + t) * hd + d] = y[(bi * n + t) * width + hh * hd + d];
}

/**
 * forward(mechanism, cfg, params, x, [b, n, dIn], opts)
 *   cfg: { dOut, numHeads, causal, causalRoute: "neg-inf" | "renormalise" }; causal is required (the mechanism's
 *        default is the package's, ak.mechanisms[…].defaultCausal)
 *   params: normalised state_dict ({name: {data, shape}})
 *   opts: { intermediates, dropout: (weights Float32Array, b, h, n) => Float32Array | null, onProgress,
 *           keyPaddingMask: (b, n) of 0/1, 1 = padding, never attended (nn.MultiheadAttention's convention; a row
 *           with nothing left to attend to gets zero weights, as attnkit documents) }
 * Returns { context, contextShape, weights, weightsShape, intermediates }.
 */
export function referenceForward(mechanism, cfg, params, x, shape, opts = {}) {
  const [b, n, dIn] = shape;
  if (typeof cfg.causal !== 'boolean')
    throw new TypeError(`reference: cfg.causal must be true or false; got ${cfg.causal}`);
  const causal = cfg.causal;
  const route = cfg.causalRoute === 'renormalise' ? 'renormalise' : 'neg-inf';
  const rows = b * n;
  let h, hd, Q, K, V;

  const alloc = (heads, d) => {
    const a = new Float32Array(b * heads * n * d);
    a.heads = heads;
    return a;
  };
  const p = (name) => {
    const t = params[name];
    if (!t) throw new Error(`reference: missing parameter ${name}`);
    return t.data;
  };
  const pb = (name) => (params[name] ? params[name].data : null);

  if (mechanism === 'simplified') {
    h = 1;
    hd = dIn;
    Q = alloc(1, hd);
    splitHeads(x, b, n, dIn, 1, hd, Q);
    K = Q;
    V = Q;
  } else if (mechanism === 'self-v1') {
    h = 1;
    hd = cfg.dOut;
    Q = alloc(1, hd);
    K = alloc(1, hd);
    V = alloc(1, hd);
    splitHeads(matmulInOut(x, rows, dIn, p('W_query'), hd), b, n, hd, 1, hd, Q);
    splitHeads(matmulInOut(x, rows, dIn, p('W_key'), hd), b, n, hd, 1, hd, K);
    splitHeads(matmulInOut(x, rows, dIn, p('W_value'), hd), b, n, hd, 1, hd, V);
  } else if (mechanism === 'self' || mechanism === 'causal') {
    h = 1;
    hd = cfg.dOut;
    Q = alloc(1, hd);
    K = alloc(1, hd);
    V = alloc(1, hd);
    splitHeads(linear(x, rows, dIn, p('W_query.weight'), hd, pb('W_query.bias')), b, n, hd, 1, hd, Q);
    splitHeads(linear(x, rows, dIn, p('W_key.weight'), hd, pb('W_key.bias')), b, n, hd, 1, hd, K);
    splitHeads(linear(x, rows, dIn, p('W_value.weight'), hd, pb('W_value.bias')), b, n, hd, 1, hd, V);
  } else if (mechanism === 'multihead-wrapper') {
    h = cfg.numHeads;
    hd = cfg.dOut;
    Q = alloc(h, hd);
    K = alloc(h, hd);
    V = alloc(h, hd);
    for (let i = 0; i < h; i++) {
      const pre = `heads.${i}.`;
      splitHeads(linear(x, rows, dIn, p(pre + 'W_query.weight'), hd, pb(pre + 'W_query.bias')), b, n, hd, 1, hd, Q, i);
      splitHeads(linear(x, rows, dIn, p(pre + 'W_key.weight'), hd, pb(pre + 'W_key.bias')), b, n, hd, 1, hd, K, i);
      splitHeads(linear(x, rows, dIn, p(pre + 'W_value.weight'), hd, pb(pre + 'W_value.bias')), b, n, hd, 1, hd, V, i);
    }
  } else if (mechanism === 'multihead') {
    h = cfg.numHeads;
    const dOut = cfg.dOut;
    if (dOut % h !== 0) throw new RangeError(`d_out (${dOut}) must be divisible by num_heads (${h})`);
    hd = dOut / h;
    Q = alloc(h, hd);
    K = alloc(h, hd);
    V = alloc(h, hd);
    splitHeads(linear(x, rows, dIn, p('W_query.weight'), dOut, pb('W_query.bias')), b, n, dOut, h, hd, Q);
    opts.onProgress?.(0.2);
    splitHeads(linear(x, rows, dIn, p('W_key.weight'), dOut, pb('W_key.bias')), b, n, dOut, h, hd, K);
    opts.onProgress?.(0.4);
    splitHeads(linear(x, rows, dIn, p('W_value.weight'), dOut, pb('W_value.bias')), b, n, dOut, h, hd, V);
  } else {
    throw new Error(`reference: no implementation of mechanism '${mechanism}'`);
  }

  const report = opts.onProgress || (() => {});
  report(0.6); // the projections are ~60–75% of the work at the benchmark sizes
  const keep = !!opts.intermediates;
  const nn = n * n;
  const scale = mechanism === 'simplified' ? 1 : 1 / Math.sqrt(hd);
  const scores = keep ? new Float32Array(b * h * nn) : null;
  const scaled = keep ? new Float32Array(b * h * nn) : null;
  const masked = keep && causal && route === 'neg-inf' ? new Float32Array(b * h * nn) : null;
  const unmasked = keep && causal && route === 'renormalise' ? new Float32Array(b * h * nn) : null;
  const weights = new Float32Array(b * h * nn);
  const row = new Float64Array(n);
  const padding = opts.keyPaddingMask || null;

  for (let bh = 0; bh < b * h; bh++) {
    const qo = bh * n * hd;
    for (let i = 0; i < n; i++) {
      const limit = causal && route === 'neg-inf' ? i + 1 : n;
      for (let j = 0; j < limit; j++) {
        let s = 0;
        for (let d = 0; d < hd; d++) s += Q[qo + i * hd + d] * K[qo + j * hd + d];
        const sf = Math.fround(s);
        if (keep) {
          scores[bh * nn + i * n + j] = sf;
          scaled[bh * nn + i * n + j] = Math.fround(sf * scale);
        }
        row[j] = padding && padding[((bh - (bh % h)) / h) * n + j] ? -Infinity : Math.fround(sf * scale);
      }
      if (keep && causal && route === 'neg-inf') {
        // keep the future scores for the table view of `scores`; mask them in masked_scores
        for (let j = limit; j < n; j++) {
          let s = 0;
          for (let d = 0; d < hd; d++) s += Q[qo + i * hd + d] * K[qo + j * hd + d];
          scores[bh * nn + i * n + j] = s;
          scaled[bh * nn + i * n + j] = Math.fround(s * scale);
        }
        for (let j = 0; j < n; j++) masked[bh * nn + i * n + j] = j <= i ? scaled[bh * nn + i * n + j] : -Infinity;
      }
      let mx = -Infinity;
      for (let j = 0; j < limit; j++) if (row[j] > mx) mx = row[j];
      if (padding && mx === -Infinity) continue; // every key padded: the row's weights stay zero
      let sum = 0;
      for (let j = 0; j < limit; j++) {
        row[j] = Math.exp(row[j] - mx);
        sum += row[j];
      }
      const wo = bh * nn + i * n;
      if (causal && route === 'renormalise') {
        let kept = 0;
        for (let j = 0; j < n; j++) {
          const w = row[j] / sum;
          if (keep) unmasked[wo + j] = w;
          if (j <= i) kept += w;
        }
        for (let j = 0; j < n; j++) weights[wo + j] = j <= i ? row[j] / sum / kept : 0;
      } else {
        for (let j = 0; j < limit; j++) weights[wo + j] = row[j] / sum;
      }
    }
    if ((bh & 3) === 3) report(0.6 + (0.35 * (bh + 1)) / (b * h));
  }

  let used = weights;
  let afterDropout = null;
  if (opts.dropout) {
    afterDropout = opts.dropout(weights, b, h, n);
    if (afterDropout) used = afterDropout;
  }

  // context per head, concatenated: (b, n, h·hd)
  const width = h * hd;
  const concat = new Float32Array(b * n * width);
  for (let bi = 0; bi < b; bi++)
    for (let hh = 0; hh < h; hh++) {
      const bh = bi * h + hh;
      for (let i = 0; i < n; i++) {
        const co = (bi * n + i) * width + hh * hd;
        const limit = causal ? i + 1 : n;
        for (let j = 0; j < limit; j++) {
          const w = used[bh * nn + i * n + j];
          if (w === 0) continue;
          const vo = (bh * n + j) * hd;
          for (let d = 0; d < hd; d++) concat[co + d] += w * V[vo + d];
        }
      }
    }

  let context = concat;
  report(0.95);
  if (mechanism === 'multihead')
    context = linear(concat, rows, width, p('out_proj.weight'), width, pb('out_proj.bias'));

  const hs = [b, h, n, hd];
  const ws = [b, h, n, n];
  const result = { context, contextShape: [b, n, width], weights, weightsShape: ws, intermediates: {} };
  if (keep) {
    const I = result.intermediates;
    I.queries = { data: Q, shape: hs };
    I.keys = { data: K, shape: hs };
    I.values = { data: V, shape: hs };
    I.scores = { data: scores, shape: ws };
    I.scaled_scores = { data: scaled, shape: ws };
    if (masked) I.masked_scores = { data: masked, shape: ws };
    if (unmasked) I.unmasked_weights = { data: unmasked, shape: ws };
    I.weights = { data: weights, shape: ws };
    if (afterDropout) I.weights_after_dropout = { data: afterDropout, shape: ws };
    if (mechanism === 'multihead') I.context_before_out_proj = { data: concat, shape: [b, n, width] };
    I.context = { data: context, shape: [b, n, width] };
  }
  return result;
}

/** max |a − b| over finite entries; Infinity if shapes differ or one side is not finite where the other is. */
export function maxAbsDiff(a, b) {
  if (!a || !b || a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i],
      y = b[i];
    if (x === y) continue;
    const d = Math.abs(x - y);
    if (!(d <= m)) m = d;
  }
  return m;
}
