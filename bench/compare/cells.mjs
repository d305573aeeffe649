// The cells beyond C1–C4 (issue 11 §4): D1, one decoding step against a KV cache of 4096 tokens (25 MB: it fits in
// a 32 MB L3), D2 the same over 16384 tokens (101 MB, from DRAM), and P1, a padded prefill. Their shapes, inputs and onnxruntime-node sessions; run.mjs times them against attnkit.
//
//   D1: b1, 12 heads of 64 (d 768), 4095 tokens in the cache + 1 new: the step reads decode_kv_bytes =
//       2 · b · 4096 · d · 4 bytes of keys and values (core/include/attnkit/bench_configs.hpp), timed as bandwidth.
//   P1: b8 n256 d512 h8 (C3's shape), causal, the last quarter of each row's keys padding (key_padding_mask).
import { CONFIGS, makeInput, makeStateDict } from './configs.mjs';
import { mulberry32 } from '../../web/src/prng.js';

// The shapes are the core's (core/src/bench_configs.cpp, checked by tests/core/test_bench_configs.cpp): the package's
// ak.benchConfigs lists plain forward configs only, so D1, D2 (decoding) and P1 (C3 padded) are named here as there.
export const D1 = Object.freeze({ name: 'D1', batch: 1, tokens: 4096, dIn: 768, dOut: 768, heads: 12, kind: 'decode' });
export const D2 = Object.freeze({ ...D1, name: 'D2', tokens: 16384 });
const p1 = { ...CONFIGS.C3, padding: CONFIGS.C3.tokens / 4 };
export const P1 = Object.freeze({
  name: 'P1',
  batch: p1.batch,
  tokens: p1.tokens,
  dIn: p1.dIn,
  dOut: p1.dOut,
  heads: p1.heads,
  kind: 'padded',
  paddedKeys: p1.padding,
});

export function cell(name) {
  if (name === 'D1') return D1;
  if (name === 'D2') return D2;
  if (name === 'P1') return P1;
  throw new Error(`unknown cell '${name}'; expected D1, D2 or P1`);
}

// Bytes of keys and values one decoding step reads (float32): every cached key and value once.
export function kvBytes(c) {
  return 2 * c.batch * c.tokens * c.dOut * 4;
}

// (b, n) of 0/1, 1 = padding (nn.MultiheadAttention's convention, attnkit's): the last n/4 keys of every row.
export function paddingMask(c) {
  const mask = new Uint8Array(c.batch * c.tokens);
  for (let r = 0; r < c.batch; r++) mask.fill(1, r * c.tokens + c.tokens - c.paddedKeys, (r + 1) * c.tokens);
  return mask;
}

// onnxruntime's key_padding_mask is the opposite: int32, 1 = attend.
export function ortKeyPaddingMask(mask) {
  return Int32Array.from(mask, (m) => 1 - m);
}

// The feeds of one D1 step: the new token's x (b, 1, d_in) and a cache of tokens − 1 keys and values
// (b, h, tokens − 1, head_dim), drawn uniform in [-1, 1) (their values do not change the work).
export function decodeFeeds(ort, c) {
  const hd = c.dOut / c.heads,
    past = c.tokens - 1;
  const rand = mulberry32(11);
  const draw = (n) => Float32Array.from({ length: n }, () => 2 * rand() - 1);
  return {
    x: new ort.Tensor('float32', makeInput({ ...c, tokens: 1 }), [c.batch, 1, c.dIn]),
    past_key: new ort.Tensor('float32', draw(c.batch * c.heads * past * hd), [c.batch, c.heads, past, hd]),
    past_value: new ort.Tensor('float32', draw(c.batch * c.heads * past * hd), [c.batch, c.heads, past, hd]),
  };
}

export function paddedFeeds(ort, c) {
  return {
    x: new ort.Tensor('float32', makeInput(c), [c.batch, c.tokens, c.dIn]),
    key_padding_mask: new ort.Tensor('int32', ortKeyPaddingMask(paddingMask(c)), [c.batch, c.tokens]),
  };
}

export { makeStateDict };
