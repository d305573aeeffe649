// A float64 reference of scaled dot-product attention for the package tests, written from the definition
// (torch.nn.functional.scaled_dot_product_attention, with grouped-query heads):
//   weights = softmax(query·keyᵀ·scale + mask), output = weights·value, per (batch, query head);
// query head h reads key/value head floor(h / (h_q / h_kv)); a row with nothing allowed gives zero weights and output.

// Index of mask element for (batch, head, i, j), the mask's shape aligned from the right (NumPy broadcasting).
function maskIndex(shape, coords) {
  let index = 0;
  const offset = 4 - shape.length;
  for (let a = 0; a < shape.length; a++) {
    const c = shape[a] === 1 ? 0 : coords[a + offset];
    index = index * shape[a] + c;
  }
  return index;
}

// query (b, h_q, n_q, d), key (b, h_kv, n_k, d), value (b, h_kv, n_k, d_v): flat arrays with their shapes.
// mask: { kind: 'boolean' | 'additive', shape, data } or undefined; causal: 'upper-left' | 'lower-right' | false.
// → { output (b, h_q, n_q, d_v), weights (b, h_q, n_q, n_k), averaged (b, n_q, n_k) } as Float64Arrays.
export function attentionReference(query, [b, hq, nq, d], key, [, hkv, nk], value, [, , , dv], options = {}) {
  const { mask, causal = false, scale = 1 / Math.sqrt(d) } = options;
  const group = hq / hkv;
  const output = new Float64Array(b * hq * nq * dv);
  const weights = new Float64Array(b * hq * nq * nk);
  const averaged = new Float64Array(b * nq * nk);
  for (let s = 0; s < b; s++) {
    for (let h = 0; h < hq; h++) {
      const kvh = Math.floor(h / group);
      for (let i = 0; i < nq; i++) {
        const scores = new Float64Array(nk);
        const allowed = new Array(nk).fill(true);
        for (let j = 0; j < nk; j++) {
          if (causal === 'upper-left' && j > i) allowed[j] = false;
          if (causal === 'lower-right' && j > i + nk - nq) allowed[j] = false;
          let dot = 0;
          for (let c = 0; c < d; c++)
            dot += query[((s * hq + h) * nq + i) * d + c] * key[((s * hkv + kvh) * nk + j) * d + c];
          scores[j] = dot * scale;
          if (mask) {
            const m = mask.data[maskIndex(mask.shape, [s, h, i, j])];
            if (mask.kind === 'boolean') {
              if (!m) allowed[j] = false;
            } else scores[j] += m;
          }
          if (scores[j] === -Infinity) allowed[j] = false;
        }
        let max = -Infinity;
        for (let j = 0; j < nk; j++) if (allowed[j] && scores[j] > max) max = scores[j];
        if (max === -Infinity) continue; // nothing to attend to: zeros
        let sum = 0;
        const e = new Float64Array(nk);
        for (let j = 0; j < nk; j++) if (allowed[j]) sum += e[j] = Math.exp(scores[j] - max);
        const row = ((s * hq + h) * nq + i) * nk;
        for (let j = 0; j < nk; j++) {
          const w = e[j] / sum;
          weights[row + j] = w;
          averaged[(s * nq + i) * nk + j] += w / hq;
          for (let c = 0; c < dv; c++)
            output[((s * hq + h) * nq + i) * dv + c] += w * value[((s * hkv + kvh) * nk + j) * dv + c];
        }
      }
    }
  }
  return { output, weights, averaged };
}

// max over elements of |actual − expected| / max(|expected|, floor)
export function relError(actual, expected, floor = 1e-3) {
  if (actual.length !== expected.length) throw new Error(`${actual.length} elements, expected ${expected.length}`);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = Math.abs(actual[i] - expected[i]) / Math.max(Math.abs(expected[i]), floor);
    if (Number.isNaN(e)) return NaN;
    if (e > worst) worst = e;
  }
  return worst;
}
