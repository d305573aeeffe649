// The benchmark configurations and the FLOP count shared by every peer in the comparison.
// Same configurations and same formula as the native CLI (`attnkit bench`, native/cli_bench.cpp):
// all causal multi-head attention, forward, float32, no qkv bias, dropout 0, out_proj with bias.
// The generator and the plain-JS reference are the page's (web/src/prng.js, web/src/reference.js).
import { mulberry32 } from '../../web/src/prng.js';

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

// max |a−b| / max(max |b|, tiny): one relative error for a whole output tensor.
export function relativeError(a, b) {
  let num = 0, den = 0;
  for (let i = 0; i < b.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / Math.max(den, 1e-30);
}
