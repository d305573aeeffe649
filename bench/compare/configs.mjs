// The benchmark configurations and the FLOP count shared by every peer in the comparison: the core's
// (attnkit::bench_configs and forward_flops, core/include/attnkit/bench_configs.hpp), read once through the
// package's ak.benchConfigs, so they are the ones `attnkit bench` and the page's panel use: all causal
// multi-head attention, forward, float32, no qkv bias, dropout 0, out_proj with bias.
// The generator is the page's (web/src/prng.js).
import { load } from 'attnkit';
import { mulberry32 } from '../../web/src/prng.js';

async function loadBenchConfigs() {
  let ak;
  try {
    ak = await load({ threads: false }); // the single-thread build: nothing keeps the process alive
  } catch (e) {
    throw new Error(
      `bench/compare reads the bench configurations from the attnkit package; build it first (npm run build:wasm): ${e.message}`,
    );
  }
  return ak.benchConfigs;
}

// { C1: { name, batch, tokens, dIn, dOut, heads, flops }, ... }
export const CONFIGS = Object.freeze(
  Object.fromEntries(
    (await loadBenchConfigs()).map((c) => [
      c.name,
      Object.freeze({
        name: c.name,
        batch: c.batch,
        tokens: c.tokens,
        dIn: c.dIn,
        dOut: c.dOut,
        heads: c.numHeads,
        flops: c.flops,
      }),
    ]),
  ),
);

export function config(name) {
  const c = CONFIGS[name];
  if (!c) throw new Error(`unknown config '${name}'; expected one of ${Object.keys(CONFIGS).join(', ')}`);
  return c;
}

// Multiply-adds count as 2 FLOPs; only the useful work (causal pairs), the same for every peer (the core's
// forward_flops; see core/include/attnkit/bench_configs.hpp).
export function flopCount(c) {
  return c.flops;
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
  const bIn = 1 / Math.sqrt(dIn),
    bOut = 1 / Math.sqrt(d);
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
  let num = 0,
    den = 0;
  for (let i = 0; i < b.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / Math.max(den, 1e-30);
}
