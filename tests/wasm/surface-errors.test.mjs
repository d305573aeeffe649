// Bad input on the module inputs and the KV cache that the per-feature tables (module-inputs.test.mjs,
// decoder.test.mjs, attention-errors.test.mjs) leave out: each row the exact input and the Error or RangeError with
// its whole message. Counts per interface: docs/reliability.md §8.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { load } from '../../wasm/index.mjs';
import { expectError } from './helpers.mjs';

const ak = await load({ threads: false });
const filled = (n, v = 0.5) => new Float32Array(n).fill(v);

test('forward with kv and masks: bad input gets one Error naming the problem and the expected value', () => {
  const layer = ak.create('multihead', { dIn: 4, dOut: 4, numHeads: 2, seed: 1 });
  const x = filled(2 * 3 * 4);
  const S = [2, 3, 4];
  const rows = [
    [
      'kv NaN',
      { kv: filled(2 * 5 * 4, NaN), kvShape: [2, 5, 4] },
      Error,
      'kv contains NaN at index [0, 0, 0]; expected finite numbers',
    ],
    [
      'kv width',
      { kv: filled(2 * 5 * 3), kvShape: [2, 5, 3] },
      Error,
      'kv has 3 features (shape [2, 5, 3]); expected k_dim 4',
    ],
    [
      'value of other keys',
      { kv: filled(2 * 5 * 4), kvShape: [2, 5, 4], value: filled(2 * 4 * 4), valueShape: [2, 4, 4] },
      Error,
      'value_input has 4 tokens but kv has 5; expected 5',
    ],
    [
      'attnMask rank 4',
      { attnMask: new Array(9).fill(false), attnMaskShape: [1, 1, 3, 3] },
      Error,
      'attn_mask has shape [1, 1, 3, 3]; expected [3, 3] (n_q, n_k) or [4, 3, 3] (b·h, n_q, n_k)',
    ],
    [
      'attnMask of another b·h',
      { attnMask: new Array(27).fill(false), attnMaskShape: [3, 3, 3] },
      Error,
      'attn_mask has shape [3, 3, 3]; expected [3, 3] (n_q, n_k) or [4, 3, 3] (b·h, n_q, n_k)',
    ],
    [
      'attnMask +Infinity',
      { attnMask: filled(9, Infinity), attnMaskShape: [3, 3] },
      Error,
      'attn_mask has inf at flat index 0; expected finite numbers or -inf',
    ],
    [
      'attnMask NaN',
      { attnMask: filled(9, NaN), attnMaskShape: [3, 3] },
      Error,
      'attn_mask has nan at flat index 0; expected finite numbers or -inf',
    ],
    [
      'keyPaddingMask NaN',
      { keyPaddingMask: filled(6, NaN) },
      Error,
      'key_padding_mask has nan at flat index 0; expected finite numbers or -inf',
    ],
    [
      'keyPaddingMask Infinity in an Array',
      { keyPaddingMask: new Array(6).fill(Infinity) },
      Error,
      'keyPaddingMask has number Infinity at index [0]; expected an Array of booleans (true = padding, ignored) of shape [6], or a Float32Array of values added to the scores',
    ],
  ];
  for (const [name, options, type, message] of rows) {
    expectError(() => layer.forward(x, S, options), type, message, name);
  }
  layer.dispose();
});

test('kDim or vDim without kv is refused (vDim used to read x through part of W_value)', () => {
  const x = filled(2 * 3 * 4);
  const byValue = ak.create('multihead', { dIn: 4, dOut: 4, numHeads: 2, vDim: 6, seed: 1 });
  expectError(
    () => byValue.forward(x, [2, 3, 4]),
    Error,
    'W_value reads v_dim 6 features but no kv was given; expected kv (b, n_k, 6)',
  );
  // With a kv of kDim features and a value of vDim features it runs.
  const r = byValue.forward(x, [2, 3, 4], {
    kv: filled(2 * 5 * 4),
    kvShape: [2, 5, 4],
    value: filled(2 * 5 * 6),
    valueShape: [2, 5, 6],
  });
  assert.deepEqual(r.contextShape, [2, 3, 4]);
  byValue.dispose();
  const byKey = ak.create('multihead', { dIn: 4, dOut: 4, numHeads: 2, kDim: 6, seed: 1 });
  expectError(
    () => byKey.forward(x, [2, 3, 4]),
    Error,
    'W_key reads k_dim 6 features but no kv was given; expected kv (b, n_k, 6)',
  );
  byKey.dispose();
});

test('decoder options: bad sizes get a RangeError or Error naming the value', () => {
  const layer = ak.create('multihead', { dIn: 4, dOut: 4, numHeads: 2, seed: 1 });
  expectError(() => layer.decoder({ maxTokens: 3, batch: 0 }), RangeError, 'batch must be at least 1 (got 0)');
  expectError(() => layer.decoder({ maxTokens: 2.5 }), Error, 'option maxTokens must be an integer; got number 2.5');
  expectError(
    () => layer.decoder({ maxTokens: 2 ** 31 }),
    RangeError,
    'tensor of shape [1, 2, 2147483648, 2] needs 34359738368 bytes; expected at most 2147483647 bytes',
  );
  const byValue = ak.create('multihead', { dIn: 4, dOut: 4, numHeads: 2, vDim: 6, seed: 1 });
  expectError(
    () => byValue.decoder({ maxTokens: 4 }),
    Error,
    'self-attention decoding projects keys and values from x_new, but this module reads k_dim 4 and v_dim 6 features; expected k_dim, v_dim 0 or 4, or a DecodeMemory (cross-attention)',
  );
  const decoder = layer.decoder({ maxTokens: 2, batch: 2 });
  expectError(
    () => decoder.step(filled(2 * 3 * 4), [2, 3, 4]),
    RangeError,
    'the KV cache holds max_tokens (2) tokens; this step adds 3 to 0; expected at most 2 new tokens or reset()',
  );
  assert.equal(decoder.length, 0, 'a refused step leaves the cache as it was');
  byValue.dispose();
  layer.dispose();
});
