// ak.attention on bad input: every shape mismatch, wrong mask dtype and rank, h_q not a multiple of h_kv, bad
// options (a table of exact errors), and hostile arguments under the read-once rule (issue "Reliability" §2):
// getters and Proxies that change between reads or terminate the instance mid-call get an Error or the right answer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import vm from 'node:vm';
import { load } from '../../wasm/index.mjs';
import { DIST, rng, randomArray } from './helpers.mjs';
import { attentionReference, relError } from './attention-reference.mjs';

const ak = await load({ threads: false });
const next = rng(4242);
const f = (n) => randomArray(n, next);
const S = { queryShape: [1, 2, 3, 4], keyShape: [1, 2, 5, 4], valueShape: [1, 2, 5, 3] };
const Q = f(24),
  K = f(40),
  V = f(30);

function assertError(thunk, type, message) {
  let error;
  try {
    thunk();
  } catch (e) {
    error = e;
  }
  assert.ok(error !== undefined, 'expected an error, got a result');
  assert.equal(error.constructor, type, `expected ${type.name}, got ${error.constructor.name}: ${error.message}`);
  if (message instanceof RegExp) assert.match(error.message, message);
  else assert.equal(error.message, message);
}

// [what, query, key, value, options, type, message]
const TABLE = [
  [
    'query of rank 3',
    f(24),
    K,
    V,
    { ...S, queryShape: [2, 3, 4] },
    Error,
    'query must have shape (b, h_q, n_q, d); got rank 3 shape [2, 3, 4]',
  ],
  [
    'key of rank 5',
    Q,
    K,
    V,
    { ...S, keyShape: [1, 1, 2, 5, 4] },
    Error,
    /^key must have shape \(b, h_kv, n_k, d\); got rank 5/,
  ],
  [
    'value of rank 2',
    Q,
    K,
    V,
    { ...S, valueShape: [10, 3] },
    Error,
    /^value must have shape \(b, h_kv, n_k, d_v\); got rank 2/,
  ],
  [
    'no query tokens',
    f(0),
    K,
    V,
    { ...S, queryShape: [1, 2, 0, 4] },
    RangeError,
    'query has 0 tokens (shape [1, 2, 0, 4] (b, h_q, n_q, d)); expected at least 1',
  ],
  [
    'batch of key ≠ query',
    Q,
    f(80),
    f(60),
    { ...S, keyShape: [2, 2, 5, 4], valueShape: [2, 2, 5, 3] },
    Error,
    "key's batch is 2 but query's is 1 (shapes [2, 2, 5, 4] and [1, 2, 3, 4]); expected 1",
  ],
  [
    'batch of value ≠ key',
    Q,
    K,
    f(60),
    { ...S, valueShape: [2, 2, 5, 3] },
    Error,
    /^value's batch is 2 but key's is 1/,
  ],
  [
    'd of key ≠ query',
    Q,
    f(50),
    V,
    { ...S, keyShape: [1, 2, 5, 5] },
    Error,
    "key's d is 5 but query's is 4 (shapes [1, 2, 5, 5] and [1, 2, 3, 4]); expected 4",
  ],
  [
    'heads of value ≠ key',
    Q,
    K,
    f(15),
    { ...S, valueShape: [1, 1, 5, 3] },
    Error,
    "value's heads is 1 but key's is 2 (shapes [1, 1, 5, 3] and [1, 2, 5, 4]); expected 2",
  ],
  [
    'tokens of value ≠ key',
    Q,
    K,
    f(36),
    { ...S, valueShape: [1, 2, 6, 3] },
    Error,
    "value's tokens is 6 but key's is 5 (shapes [1, 2, 6, 3] and [1, 2, 5, 4]); expected 5",
  ],
  [
    'h_q not a multiple of h_kv',
    f(36),
    K,
    V,
    { ...S, queryShape: [1, 3, 3, 4] },
    Error,
    "query has 3 heads, not a multiple of key's 2 heads; expected h_q divisible by h_kv (grouped-query attention)",
  ],
  ['data shorter than its shape', f(23), K, V, S, Error, 'query has 23 elements but queryShape [1, 2, 3, 4] needs 24'],
  ['data longer than its shape', Q, K, f(31), S, Error, 'value has 31 elements but valueShape [1, 2, 5, 3] needs 30'],
  [
    'a Float32Array without its shape',
    Q,
    K,
    V,
    { queryShape: S.queryShape, keyShape: S.keyShape },
    Error,
    'valueShape is required with a Float32Array value: [b, heads, tokens, dim]',
  ],
  [
    'a Float64Array query',
    Float64Array.from(Q),
    K,
    V,
    S,
    Error,
    'query must be a Float32Array or nested Arrays of numbers; got a Float64Array of length 24 (convert it with Float32Array.from(query))',
  ],
  [
    'a NaN in key',
    Q,
    new Float32Array(40).fill(NaN),
    V,
    S,
    Error,
    'key contains NaN at index [0, 0, 0, 0]; expected finite numbers',
  ],
  ['a ragged nested query', [[[[1, 2], [3]]]], K, V, {}, Error, /^query is ragged at index \[0, 0, 1\]/],
  [
    'mask of rank 5',
    Q,
    K,
    V,
    { ...S, attnMask: new Float32Array(15), attnMaskShape: [1, 1, 1, 3, 5] },
    Error,
    'attn_mask has rank 5 (shape [1, 1, 1, 3, 5]); expected rank 1 to 4, broadcastable to (b, h_q, n_q, n_k) = [1, 2, 3, 5]',
  ],
  [
    'mask not broadcastable',
    Q,
    K,
    V,
    { ...S, attnMask: new Uint8Array(12), attnMaskShape: [3, 4] },
    Error,
    'attn_mask shape [3, 4] is not broadcastable to (b, h_q, n_q, n_k) = [1, 2, 3, 5]: its n_k dimension is 4, expected 1 or 5',
  ],
  [
    'mask heads not broadcastable',
    Q,
    K,
    V,
    { ...S, attnMask: new Uint8Array(45), attnMaskShape: [3, 3, 5] },
    Error,
    /^attn_mask shape \[3, 3, 5\] is not broadcastable .*its h_q dimension is 3, expected 1 or 2$/,
  ],
  [
    'mask data ≠ its shape',
    Q,
    K,
    V,
    { ...S, attnMask: new Uint8Array(4), attnMaskShape: [5] },
    Error,
    'attnMask has 4 elements but attnMaskShape [5] needs 5',
  ],
  [
    'a boolean mask holding 2',
    Q,
    K,
    V,
    { ...S, attnMask: new Uint8Array([1, 2, 1, 1, 1]), attnMaskShape: [5] },
    Error,
    'attn_mask (boolean) has 2 at index [1]; expected 1 (may attend) or 0 (may not)',
  ],
  [
    'an additive mask holding NaN',
    Q,
    K,
    V,
    { ...S, attnMask: new Float32Array([0, NaN, 0, 0, 0]), attnMaskShape: [5] },
    Error,
    'attn_mask has nan at index [1]; expected finite numbers or -inf',
  ],
  [
    'an additive mask holding +inf',
    Q,
    K,
    V,
    { ...S, attnMask: new Float32Array([0, Infinity, 0, 0, 0]), attnMaskShape: [5] },
    Error,
    'attn_mask has inf at index [1]; expected finite numbers or -inf',
  ],
  [
    'a mask of another dtype',
    Q,
    K,
    V,
    { ...S, attnMask: new Int32Array(5), attnMaskShape: [5] },
    Error,
    'attnMask must be a Uint8Array or an Array of booleans (true = may attend), or a Float32Array (added to the scores); got a Int32Array of length 5',
  ],
  [
    'a mask of numbers in an Array',
    Q,
    K,
    V,
    { ...S, attnMask: [1, 0, 1, 1, 1] },
    Error,
    /^attnMask has number 1 at index \[0\]; expected an Array of booleans/,
  ],
  [
    'a typed mask without its shape',
    Q,
    K,
    V,
    { ...S, attnMask: new Uint8Array(5) },
    Error,
    'attnMaskShape is required with a Uint8Array attnMask: e.g. [queries, keys] or [b, 1, 1, keys]',
  ],
  [
    'a mask shape without a mask',
    Q,
    K,
    V,
    { ...S, attnMaskShape: [5] },
    Error,
    'option attnMaskShape was given without attnMask',
  ],
  ['a ragged mask', Q, K, V, { ...S, attnMask: [[true, false], [true]] }, Error, /^attnMask is ragged at index \[1\]/],
  [
    'causal: true',
    Q,
    K,
    V,
    { ...S, causal: true },
    Error,
    "option causal must be 'upper-left' (PyTorch's is_causal=True), 'lower-right' (the last query sees every key) or false; got boolean true",
  ],
  [
    'causal: a misspelt alignment',
    Q,
    K,
    V,
    { ...S, causal: 'upper_left' },
    Error,
    /^option causal must be 'upper-left'.*got the string "upper_left"$/,
  ],
  ['scale NaN', Q, K, V, { ...S, scale: NaN }, RangeError, 'scale (nan) must be a finite float32 number'],
  [
    'scale a string',
    Q,
    K,
    V,
    { ...S, scale: '0.5' },
    Error,
    'option scale must be a number (default 1/√d); got the string "0.5"',
  ],
  ['dropout 1', Q, K, V, { ...S, dropout: 1, train: true }, RangeError, 'dropout (1) must be in [0, 1)'],
  [
    'averageWeights alone',
    Q,
    K,
    V,
    { ...S, averageWeights: true },
    Error,
    'option averageWeights needs returnWeights: true (it says how the returned weights are shaped)',
  ],
  [
    'an unknown option',
    Q,
    K,
    V,
    { ...S, isCausal: true },
    Error,
    /^unknown attention option 'isCausal'; expected one of queryShape, keyShape/,
  ],
  [
    'options as a Map',
    Q,
    K,
    V,
    new Map([['queryShape', [1, 2, 3, 4]]]),
    Error,
    /^attention options must be a plain object; got a Map/,
  ],
  ['threads negative', Q, K, V, { ...S, threads: -1 }, RangeError, 'option threads (-1) must not be negative'],
  ['seed negative', Q, K, V, { ...S, seed: -1 }, RangeError, /^option seed \(-1\) must be in \[0, /],
  [
    'a shape with a fraction',
    Q,
    K,
    V,
    { ...S, keyShape: [1, 2, 5.5, 4] },
    Error,
    /^keyShape .* must hold integers; got number 5.5$/,
  ],
];

test('bad input: a clear Error or RangeError naming the problem and the expected value', () => {
  for (const [what, query, key, value, options, type, message] of TABLE) {
    try {
      assertError(() => ak.attention(query, key, value, options), type, message);
    } catch (e) {
      e.message = `${what}: ${e.message}`;
      throw e;
    }
  }
  // after all of that, the instance still computes
  const ref = attentionReference(Q, S.queryShape, K, S.keyShape, V, S.valueShape);
  assert.ok(relError(ak.attention(Q, K, V, S).output, ref.output, 0.1) <= 1e-5);
});

test('read once: shapes and options whose getters change between reads are read one time', () => {
  let reads = 0;
  const shifting = [0, 2, 5, 4];
  Object.defineProperty(shifting, 0, { get: () => (reads++ === 0 ? 1 : 4000), enumerable: true });
  let causalReads = 0;
  const options = {
    ...S,
    keyShape: shifting,
    get causal() {
      return causalReads++ === 0 ? 'upper-left' : 'nonsense';
    },
  };
  const out = ak.attention(Q, K, V, options);
  assert.equal(reads, 1, 'keyShape[0] read once');
  assert.equal(causalReads, 1, 'causal read once');
  const ref = attentionReference(Q, S.queryShape, K, S.keyShape, V, S.valueShape, { causal: 'upper-left' });
  assert.ok(relError(out.output, ref.output, 0.1) <= 1e-5);
  // a Proxy shape whose length changes between reads
  let lengthReads = 0;
  const proxy = new Proxy([1, 2, 3, 4], { get: (t, k) => (k === 'length' ? (lengthReads++ === 0 ? 4 : 4000) : t[k]) });
  const plain = attentionReference(Q, S.queryShape, K, S.keyShape, V, S.valueShape);
  assert.ok(relError(ak.attention(Q, K, V, { ...S, queryShape: proxy }).output, plain.output, 0.1) <= 1e-5);
  assert.equal(lengthReads, 1, 'queryShape.length read once');
});

test('read once: a getter that rewrites an earlier tensor changes nothing already copied', () => {
  const query = Float32Array.from(Q);
  const key = Array.from(K);
  // a nested Array element getter that overwrites query and value after they were read
  const value = Float32Array.from(V);
  Object.defineProperty(key, 7, {
    get: () => {
      query.fill(1e30);
      return K[7];
    },
    enumerable: true,
  });
  const maskBools = [true, true, false, true, true];
  Object.defineProperty(maskBools, 2, {
    get: () => {
      value.fill(NaN);
      query.fill(NaN);
      return false;
    },
    enumerable: true,
  });
  const out = ak.attention(query, key, value, { ...S, attnMask: maskBools, attnMaskShape: [5] });
  const mask = { kind: 'boolean', shape: [5], data: [true, true, false, true, true] };
  const ref = attentionReference(Q, S.queryShape, K, S.keyShape, V, S.valueShape, { mask });
  assert.ok(relError(out.output, ref.output, 0.1) <= 1e-5);
});

test('Proxies and redefined lengths: a Proxy of a Float32Array is refused, an own length is ignored', () => {
  assertError(
    () => ak.attention(new Proxy(Q, {}), K, V, S),
    Error,
    'query must be a Float32Array; got an object that only looks like one (a Proxy?); pass the Float32Array itself',
  );
  assertError(
    () => ak.attention(Q, K, V, { ...S, attnMask: new Proxy(new Uint8Array(5), {}), attnMaskShape: [5] }),
    Error,
    /^attnMask must be a Uint8Array or an Array of booleans/,
  );
  const liar = Float32Array.from(K);
  Object.defineProperty(liar, 'length', { value: 4000 });
  const ref = attentionReference(Q, S.queryShape, K, S.keyShape, V, S.valueShape);
  assert.ok(relError(ak.attention(Q, liar, V, S).output, ref.output, 0.1) <= 1e-5);
  // a Float32Array and options from another realm are accepted
  const foreign = vm.runInNewContext('(q) => { const a = new Float32Array(q.length); a.set(q); return a; }')(Q);
  const foreignOptions = vm.runInNewContext(
    '({ queryShape: [1, 2, 3, 4], keyShape: [1, 2, 5, 4], valueShape: [1, 2, 5, 3] })',
  );
  assert.ok(relError(ak.attention(foreign, K, V, foreignOptions).output, ref.output, 0.1) <= 1e-5);
});

test('a getter or Proxy trap that terminates the instance mid-call gets Error "terminated"; the caller\'s own load still works', async () => {
  const TERMINATED = 'this attnkit instance was terminated (ak.terminate()); load a new one with load()';
  const own = await load({ threads: false, wasmBinary: readFileSync(join(DIST, 'attnkit.wasm')) });
  const trap = new Proxy(Array.from(Q), {
    get: (t, k) => {
      if (k === '5') own.terminate();
      return t[k];
    },
  });
  assertError(() => own.attention(trap, K, V, S), Error, TERMINATED);
  assertError(() => own.attention(Q, K, V, S), Error, TERMINATED);
  const again = await load({ threads: false, wasmBinary: readFileSync(join(DIST, 'attnkit.wasm')) });
  assertError(
    () =>
      again.attention(Q, K, V, {
        ...S,
        get returnWeights() {
          again.terminate();
          return true;
        },
      }),
    Error,
    TERMINATED,
  );
  assert.equal(ak.attention(Q, K, V, S).output.length, 18, 'the shared instance is untouched');
});
