// The benchmark configurations and the FLOP count shared by every peer in the comparison.
// Same configurations and same formula as the native CLI (`attnkit bench`, native/cli_bench.cpp):
// all causal multi-head attention, forward, float32, no qkv bias, dropout 0, out_proj with bias.

export const CONFIGS = Object.freeze({
  C1: { name: 'C1', batch: 2, tokens: 6, dIn: 3, dOut: 2, heads: 2 },
  C2: { name: 'C2', batch: 1, tokens: 1024, dIn: 768, dOut: 768, heads: 12 },
  C3: { name: 'C3', batch: 8, tokens: 256, dIn: 512, dOut: 512, heads: 8 },
  C4: { name: 'C4', batch: 1, tokens: 4096, dIn: 768, dOut: 768, heads: 12 },
});

export function config(name) {
  const c = CONFIGS[name];
  if (!c) throw new Error(`unknown config '${name}'; expected one of ${Object.keys(CONFIGS).join(', ')}`);
  return c;
}

// Multiply-adds count as 2 FLOPs. Projections q, k, v = x·Wᵀ: 3·2·b·n·d_in·d_out; out_proj: 2·b·n·d_out·d_out;
// causal attention, q·kᵀ and weights·v over the n(n+1)/2 unmasked (query, key) pairs of each head:
// 2·2·b·h·(n(n+1)/2)·head_dim. Softmax, scaling and masking are not counted. (Peers that compute the full
// n×n score matrix do more work than this; the count is of the useful work, the same for everyone.)
export function flopCount(c) {
  const { batch: b, tokens: n, dIn, dOut: d, heads: h } = c;
  const headDim = d / h;
  return 3 * 2 * b * n * dIn * d + 2 * b * n * d * d + 2 * 2 * b * h * (n * (n + 1) / 2) * headDim;
}

export function gflops(c, ms) {
  return flopCount(c) / (ms * 1e-3) / 1e9;
}

// A small deterministic PRNG (mulberry32): the same numbers in Node and in the browser page.
export function mulberry32(seed) {
  let a = seed >>> 0;
  return function next() {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function uniform(rand, count, bound) {
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = (2 * rand() - 1) * bound;
  return out;
}

// The module's parameters as a PyTorch state_dict of the seed's MultiHeadAttention (nn.Linear layout:
// weight is d_out×d_in, y = x·Wᵀ + b), drawn like nn.Linear's default init range U(-1/√fan_in, 1/√fan_in).
// Entries are { shape, data: Float32Array }, which attnkit's JS `create(..., { stateDict })` accepts.
export function makeStateDict(c, seed = 2024) {
  const rand = mulberry32(seed);
  const { dIn, dOut: d } = c;
  const bIn = 1 / Math.sqrt(dIn), bOut = 1 / Math.sqrt(d);
  return {
    'W_query.weight': { shape: [d, dIn], data: uniform(rand, d * dIn, bIn) },
    'W_key.weight': { shape: [d, dIn], data: uniform(rand, d * dIn, bIn) },
    'W_value.weight': { shape: [d, dIn], data: uniform(rand, d * dIn, bIn) },
    'out_proj.weight': { shape: [d, d], data: uniform(rand, d * d, bOut) },
    'out_proj.bias': { shape: [d], data: uniform(rand, d, bOut) },
  };
}

// The input x (batch, tokens, d_in), uniform in [0, 1).
export function makeInput(c, seed = 7) {
  const rand = mulberry32(seed);
  const x = new Float32Array(c.batch * c.tokens * c.dIn);
  for (let i = 0; i < x.length; i++) x[i] = rand();
  return x;
}

// A (rows×cols) row-major matrix transposed to (cols×rows).
export function transpose(data, rows, cols) {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let k = 0; k < cols; k++) out[k * rows + r] = data[r * cols + k];
  return out;
}

// A float64 reference of the seed's MultiHeadAttention forward (causal, dropout 0), for small configs.
export function referenceForward(c, sd, x) {
  const { batch: B, tokens: N, dIn, dOut: D, heads: H } = c;
  const hd = D / H;
  const proj = (w) => {
    const y = new Float64Array(B * N * D);
    for (let t = 0; t < B * N; t++)
      for (let o = 0; o < D; o++) {
        let s = 0;
        for (let i = 0; i < dIn; i++) s += x[t * dIn + i] * w[o * dIn + i];
        y[t * D + o] = s;
      }
    return y;
  };
  const q = proj(sd['W_query.weight'].data), k = proj(sd['W_key.weight'].data), v = proj(sd['W_value.weight'].data);
  const ctx = new Float64Array(B * N * D);
  const scores = new Float64Array(N);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let i = 0; i < N; i++) {
        let max = -Infinity;
        for (let j = 0; j <= i; j++) {
          let s = 0;
          for (let e = 0; e < hd; e++) s += q[(b * N + i) * D + h * hd + e] * k[(b * N + j) * D + h * hd + e];
          scores[j] = s / Math.sqrt(hd);
          if (scores[j] > max) max = scores[j];
        }
        let sum = 0;
        for (let j = 0; j <= i; j++) { scores[j] = Math.exp(scores[j] - max); sum += scores[j]; }
        for (let e = 0; e < hd; e++) {
          let s = 0;
          for (let j = 0; j <= i; j++) s += scores[j] * v[(b * N + j) * D + h * hd + e];
          ctx[(b * N + i) * D + h * hd + e] = s / sum;
        }
      }
  const wo = sd['out_proj.weight'].data, bo = sd['out_proj.bias'].data;
  const y = new Float64Array(B * N * D);
  for (let t = 0; t < B * N; t++)
    for (let o = 0; o < D; o++) {
      let s = bo[o];
      for (let i = 0; i < D; i++) s += ctx[t * D + i] * wo[o * D + i];
      y[t * D + o] = s;
    }
  return y;
}

// max |a−b| / max(max |b|, tiny): one relative error for a whole output tensor.
export function relativeError(a, b) {
  let num = 0, den = 0;
  for (let i = 0; i < b.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / Math.max(den, 1e-30);
}
