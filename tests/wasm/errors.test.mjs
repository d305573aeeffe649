// Bad inputs through the JS API: each answered by an Error or RangeError (never a TypeError, a number, a
// crash or a hang) with a one-line message naming the problem and the expected value.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { load } from '../../wasm/index.mjs';

const ak = await load({ threads: false });
const X = new Float32Array(36).map((_, i) => ((i * 7) % 11) / 11); // (2, 6, 3)
const W32 = [
  [0.1, 0.2],
  [0.3, 0.4],
  [0.5, 0.6],
]; // (3, 2): a self-v1 weight
const v1sd = (over = {}) => ({ W_query: W32, W_key: W32, W_value: W32, ...over });
const mha = (o = {}) => ak.create('multihead', { dIn: 3, dOut: 2, numHeads: 2, contextLength: 6, ...o });

// [name, thunk, constructor, message pattern]
const CASES = [
  // mechanism and options
  [
    'unknown mechanism',
    () => ak.create('transformer', {}),
    Error,
    /^unknown mechanism 'transformer'; expected one of simplified, self-v1, self, causal, multihead-wrapper, multihead$/,
  ],
  [
    'mechanism not a string',
    () => ak.create(3, {}),
    Error,
    /^mechanism must be a string, one of simplified, .*; got number 3$/,
  ],
  [
    'options not an object',
    () => ak.create('self', 'dIn=3'),
    Error,
    /^options must be an object; got the string "dIn=3"$/,
  ],
  [
    'unknown option (dout)',
    () => ak.create('self', { dIn: 3, dout: 2 }),
    Error,
    /^unknown option 'dout'; expected one of dIn, dOut, numHeads, kvHeads, kDim, vDim, contextLength, causal, qkvBias, dropout, seed, stateDict, weightsFormat, weightsPrefix, causalRoute$/,
  ],
  [
    'unknown option (snake_case d_in)',
    () => ak.create('self', { d_in: 3 }),
    Error,
    /^unknown option 'd_in'; expected one of dIn, /,
  ],
  [
    'dIn a string',
    () => ak.create('self', { dIn: '3', dOut: 2 }),
    Error,
    /^option dIn must be an integer; got the string "3"$/,
  ],
  [
    'dOut fractional',
    () => ak.create('self', { dIn: 3, dOut: 2.5 }),
    Error,
    /^option dOut must be an integer; got number 2.5$/,
  ],
  [
    'dIn negative',
    () => ak.create('self', { dIn: -3, dOut: 2 }),
    RangeError,
    /^option dIn \(-3\) must not be negative$/,
  ],
  [
    'dIn too large for wasm32',
    () => ak.create('self', { dIn: 2 ** 33, dOut: 2 }),
    RangeError,
    /^option dIn \(8589934592\) is too large; expected at most 4294967295$/,
  ],
  ['dIn zero', () => ak.create('self', { dIn: 0, dOut: 2 }), RangeError, /^d_in must be at least 1 \(got 0\)$/],
  ['dOut zero', () => ak.create('self', { dIn: 3, dOut: 0 }), RangeError, /^d_out must be at least 1 \(got 0\)$/],
  ['heads zero', () => mha({ numHeads: 0 }), RangeError, /^num_heads must be at least 1 \(got 0\)$/],
  ['heads negative', () => mha({ numHeads: -2 }), RangeError, /^option numHeads \(-2\) must not be negative$/],
  [
    'heads not dividing d_out',
    () => mha({ dOut: 5 }),
    RangeError,
    /^d_out \(5\) must be divisible by num_heads \(2\)$/,
  ],
  ['dropout 1.5', () => mha({ dropout: 1.5 }), RangeError, /^dropout \(1\.5\d*\) must be in \[0, 1\)$/],
  ['dropout 1', () => mha({ dropout: 1 }), RangeError, /^dropout \(1(\.0*)?\) must be in \[0, 1\)$/],
  ['dropout negative', () => mha({ dropout: -0.1 }), RangeError, /^dropout \(-0\.1\d*\) must be in \[0, 1\)$/],
  ['dropout NaN', () => mha({ dropout: NaN }), RangeError, /^dropout \(nan\) must be in \[0, 1\)$/],
  [
    'dropout a string',
    () => mha({ dropout: '0.1' }),
    Error,
    /^option dropout must be a number in \[0, 1\); got the string "0.1"$/,
  ],
  [
    'causal not boolean',
    () => mha({ causal: 'yes' }),
    Error,
    /^option causal must be true or false; got the string "yes"$/,
  ],
  ['qkvBias not boolean', () => mha({ qkvBias: 1 }), Error, /^option qkvBias must be true or false; got number 1$/],
  ['seed negative', () => mha({ seed: -1 }), RangeError, /^option seed \(-1\) must be in \[0, \d+\]/],
  [
    'seed fractional',
    () => mha({ seed: 1.5 }),
    Error,
    /^option seed must be a non-negative integer \(number or BigInt\); got number 1.5$/,
  ],
  [
    'unknown causal route',
    () => mha({ causalRoute: 'mask' }),
    Error,
    /^option causalRoute must be one of neg-inf, renormalise; got the string "mask"$/,
  ],
  // state_dict
  [
    'stateDict not an object',
    () => ak.create('self-v1', { dIn: 3, dOut: 2, stateDict: [1, 2] }),
    Error,
    /^option stateDict must be an object mapping parameter names to tensors; got an Array of length 2$/,
  ],
  [
    'stateDict key missing',
    () => ak.create('self-v1', { dIn: 3, dOut: 2, stateDict: { W_query: W32, W_key: W32 } }),
    Error,
    /^state_dict is missing key W_value \(expected shape \[3, 2\]\)$/,
  ],
  [
    'stateDict key unknown',
    () => ak.create('self-v1', { dIn: 3, dOut: 2, stateDict: v1sd({ W_out: W32 }) }),
    Error,
    /^state_dict has unknown key W_out; expected keys W_query, W_key, W_value$/,
  ],
  [
    'stateDict wrong shape',
    () =>
      ak.create('self-v1', {
        dIn: 3,
        dOut: 2,
        stateDict: v1sd({
          W_key: [
            [1, 2, 3],
            [4, 5, 6],
          ],
        }),
      }),
    Error,
    /^state_dict key W_key has shape \[2, 3\], expected \[3, 2\]$/,
  ],
  [
    'stateDict ragged rows',
    () => ak.create('self-v1', { dIn: 3, dOut: 2, stateDict: v1sd({ W_key: [[1, 2], [3], [5, 6]] }) }),
    Error,
    /^stateDict\['W_key'\] is ragged at index \[1\]: an Array of length 1; expected an Array of length 2 \(shape \[3, 2\]\)$/,
  ],
  [
    'stateDict non-number',
    () =>
      ak.create('self-v1', {
        dIn: 3,
        dOut: 2,
        stateDict: v1sd({
          W_key: [
            [1, 2],
            [3, '4'],
            [5, 6],
          ],
        }),
      }),
    Error,
    /^stateDict\['W_key'\] has a non-number at index \[1, 1\]: the string "4"; expected numbers$/,
  ],
  [
    'stateDict NaN',
    () =>
      ak.create('self-v1', {
        dIn: 3,
        dOut: 2,
        stateDict: v1sd({
          W_value: [
            [1, 2],
            [3, NaN],
            [5, 6],
          ],
        }),
      }),
    Error,
    /^state_dict key W_value contains NaN at index \[1, 1\]; expected finite numbers$/,
  ],
  [
    'stateDict 1e400 (Infinity)',
    () =>
      ak.create('self-v1', {
        dIn: 3,
        dOut: 2,
        stateDict: v1sd({ W_query: JSON.parse('[[1e400, 2], [3, 4], [5, 6]]') }),
      }),
    Error,
    /^state_dict key W_query contains Inf at index \[0, 0\]; expected finite numbers$/,
  ],
  [
    'stateDict {shape,data} length mismatch',
    () =>
      ak.create('self-v1', {
        dIn: 3,
        dOut: 2,
        stateDict: v1sd({ W_query: { shape: [3, 2], data: new Float32Array(5) } }),
      }),
    Error,
    /^stateDict\['W_query'\]\.data has 5 elements but shape \[3, 2\] needs 6$/,
  ],
  [
    'stateDict {shape,data} Float64Array',
    () =>
      ak.create('self-v1', {
        dIn: 3,
        dOut: 2,
        stateDict: v1sd({ W_query: { shape: [3, 2], data: new Float64Array(6) } }),
      }),
    Error,
    /^stateDict\['W_query'\]\.data must be a Float32Array or an Array of numbers; got a Float64Array of length 6$/,
  ],
  [
    'stateDict bare Float32Array',
    () => ak.create('self-v1', { dIn: 3, dOut: 2, stateDict: v1sd({ W_query: new Float32Array(6) }) }),
    Error,
    /^stateDict\['W_query'\] is a Float32Array without a shape; pass \{ shape, data \} or nested Arrays$/,
  ],
  // forward inputs
  [
    'x a string',
    () => mha().forward('0.1,0.2', [2, 6, 3]),
    Error,
    /^x must be a Float32Array; got the string "0.1,0.2"$/,
  ],
  [
    'x a Float64Array',
    () => mha().forward(new Float64Array(36), [2, 6, 3]),
    Error,
    /^x must be a Float32Array; got a Float64Array of length 36 \(convert it with Float32Array.from\(x\)\)$/,
  ],
  ['x null', () => mha().forward(null, [2, 6, 3]), Error, /^x must be a Float32Array; got null$/],
  [
    'x plain Array of the wrong length',
    () => mha().forward([1, 2, 3], [2, 6, 3]),
    Error,
    /^x has 3 elements but shape \[2, 6, 3\] needs 36$/,
  ],
  [
    'x shorter than shape',
    () => mha().forward(X.subarray(0, 30), [2, 6, 3]),
    Error,
    /^x has 30 elements but shape \[2, 6, 3\] needs 36$/,
  ],
  [
    'x Array with a non-number',
    () => mha().forward([1, 'a', 3], [1, 3]),
    Error,
    /^x has a non-number at index 1: the string "a"; expected numbers$/,
  ],
  [
    'x Array with 1e39 (overflows float32)',
    () => mha().forward([0.5, 1e39, 3], [1, 3]),
    RangeError,
    /^x has 1e\+39 at index 1, which overflows float32; expected numbers of magnitude at most 3\.4028234663852886e\+38$/,
  ],
  [
    'x nested 100 000 levels deep',
    () => {
      let v = [0.5];
      for (let i = 0; i < 100000; i++) v = [v];
      return mha().forward(v);
    },
    Error,
    /^x is nested 100001 levels deep; expected at most 3$/,
  ],
  [
    'stateDict nested 100 000 levels deep',
    () => {
      let v = [0.5];
      for (let i = 0; i < 100000; i++) v = [v];
      return ak.create('self-v1', { dIn: 3, dOut: 2, stateDict: v1sd({ W_key: v }) });
    },
    Error,
    /^stateDict\['W_key'\] is nested 100001 levels deep; expected at most 4$/,
  ],
  [
    'stateDict value 1e39 in {shape,data}',
    () =>
      ak.create('self-v1', {
        dIn: 3,
        dOut: 2,
        stateDict: v1sd({ W_key: { shape: [3, 2], data: [1, 2, 3, -1e39, 5, 6] } }),
      }),
    RangeError,
    /^stateDict\['W_key'\]\.data has -1e\+39 at index 3, which overflows float32/,
  ],
  [
    'x ragged nested rows',
    () =>
      mha().forward([
        [1, 2, 3],
        [4, 5],
      ]),
    Error,
    /^x is ragged at index \[1\]: an Array of length 2; expected an Array of length 3 \(shape \[2, 3\]\)$/,
  ],
  ['shape missing', () => mha().forward(X), Error, /^shape is required: \[batch, tokens, dIn\] or \[tokens, dIn\]$/],
  [
    'shape rank 4',
    () => mha().forward(X, [1, 2, 6, 3]),
    Error,
    /^shape \[1, 2, 6, 3\] has rank 4; expected \[batch, tokens, dIn\] or \[tokens, dIn\]$/,
  ],
  ['shape rank 1', () => mha().forward(X, [36]), Error, /^shape \[36\] has rank 1; expected /],
  [
    'shape with a negative',
    () => mha().forward(X, [-2, 6, -3]),
    RangeError,
    /^shape \[-2, 6, -3\] has a negative dimension$/,
  ],
  [
    'shape not an array',
    () => mha().forward(X, '2,6,3'),
    Error,
    /^shape must be an Array of integers; got the string "2,6,3"$/,
  ],
  ['wrong d_in', () => mha().forward(X, [2, 9, 2]), Error, /^x has d_in 2 \(shape \[2, 9, 2\]\); expected d_in 3$/],
  [
    'zero tokens',
    () => mha().forward(new Float32Array(0), [2, 0, 3]),
    RangeError,
    /^x has 0 tokens; expected at least 1$/,
  ],
  [
    'zero batch',
    () => mha().forward(new Float32Array(0), [0, 6, 3]),
    RangeError,
    /^x has batch size 0; expected at least 1$/,
  ],
  [
    'more tokens than contextLength',
    () => mha({ contextLength: 4 }).forward(X, [2, 6, 3]),
    RangeError,
    /^x has 6 tokens but context_length is 4; expected at most 4 tokens$/,
  ],
  [
    'NaN in x',
    () => {
      const y = X.slice();
      y[4] = NaN;
      return mha().forward(y, [2, 6, 3]);
    },
    Error,
    /^x contains NaN at index \[0, 1, 1\]; expected finite numbers$/,
  ],
  [
    '-Inf in x',
    () => {
      const y = X.slice();
      y[35] = -Infinity;
      return mha().forward(y, [2, 6, 3]);
    },
    Error,
    /^x contains -?Inf at index \[1, 5, 2\]; expected finite numbers$/,
  ],
  [
    'unknown forward option',
    () => mha().forward(X, [2, 6, 3], { weights: true }),
    Error,
    /^unknown forward option 'weights'; expected one of grad, returnWeights, averageWeights, train, intermediates, threads, kv, kvShape, value, valueShape, keyPaddingMask, attnMask, attnMaskShape, out$/,
  ],
  [
    'forward option not boolean',
    () => mha().forward(X, [2, 6, 3], { train: 'yes' }),
    Error,
    /^option train must be true or false; got the string "yes"$/,
  ],
  [
    'forward options not an object',
    () => mha().forward(X, [2, 6, 3], true),
    Error,
    /^forward options must be an object; got boolean true$/,
  ],
  [
    'weights too large for wasm memory',
    () =>
      ak
        .create('causal', { dIn: 3, dOut: 2 })
        .forward(new Float32Array(3 * 100000), [100000, 3], { returnWeights: true }),
    RangeError,
    /^forward of causal on x of shape \[100000, 3\] needs (about|more than) \d+ bytes of wasm memory; expected at most 4294967296 bytes/,
  ],
  [
    'forward that would not fit in 4 GB, refused before computing',
    () =>
      ak
        .create('causal', { dIn: 1, dOut: 1 })
        .forward(new Float32Array(18000), [18000, 1], { returnWeights: true, intermediates: true }),
    RangeError,
    /^forward of causal on x of shape \[18000, 1\] needs (about|more than) \d+ bytes of wasm memory; expected at most 4294967296 bytes \(the wasm32 limit\); use fewer tokens or a smaller batch, or leave out returnWeights\/intermediates$/,
  ],
  [
    'parameters too large for wasm memory',
    () => ak.create('multihead', { dIn: 65536, dOut: 65536 }),
    RangeError,
    /needs \d+ bytes; expected at most \d+ bytes$/,
  ],
  // lifetime
  [
    'forward after dispose',
    () => {
      const l = mha();
      l.dispose();
      return l.forward(X, [2, 6, 3]);
    },
    Error,
    /^layer was disposed; create a new one with ak\.create\(\)$/,
  ],
  [
    'stateDict after dispose',
    () => {
      const l = mha();
      l.dispose();
      l.dispose();
      return l.stateDict();
    },
    Error,
    /^layer was disposed/,
  ],
  // load
  [
    'load option unknown',
    () => load({ thread: true }),
    Error,
    /^unknown load option 'thread'; expected one of threads, wasmBinary, locateFile$/,
  ],
];

test(`the bad-input table has at least 30 cases (${CASES.length})`, () => {
  assert.ok(CASES.length >= 30);
});

const before = ak.memory().inUseBytes;
for (const [name, thunk, type, pattern] of CASES) {
  test(`bad input: ${name}`, async () => {
    let error;
    try {
      await thunk();
    } catch (e) {
      error = e;
    }
    assert.ok(error !== undefined, 'expected an error, got none');
    assert.ok(error instanceof Error, `expected an Error instance, got ${typeof error}: ${error}`);
    assert.equal(error.constructor, type, `expected ${type.name}, got ${error.constructor.name}: ${error.message}`);
    assert.match(error.message, pattern);
    assert.ok(!error.message.includes('\n'), 'message is one line');
  });
}

test('failed calls free what they allocated (wasm heap in use is unchanged)', () => {
  const layer = mha();
  const small = mha({ contextLength: 2 });
  const causal = ak.create('causal', { dIn: 3, dOut: 2 });
  const failing = [
    () =>
      ak.create('self-v1', {
        dIn: 3,
        dOut: 2,
        stateDict: v1sd({
          W_key: [
            [1, 2, 3],
            [4, 5, 6],
          ],
        }),
      }), // fails in the core, after copying
    () =>
      ak.create('self-v1', {
        dIn: 3,
        dOut: 2,
        stateDict: v1sd({
          W_value: [
            [1, 2],
            [3, NaN],
            [5, 6],
          ],
        }),
      }),
    () => mha({ dOut: 5 }),
    () => causal.forward(new Float32Array(3 * 100000), [100000, 3], { returnWeights: true }),
    () => layer.forward(X, [2, 9, 2]),
    () => {
      const y = X.slice();
      y[7] = NaN;
      return layer.forward(y, [2, 6, 3], { returnWeights: true, intermediates: true });
    },
    () => small.forward(X, [2, 6, 3]),
  ];
  const run = () => {
    for (const f of failing) {
      try {
        f();
      } catch {
        /* expected */
      }
    }
  };
  run(); // warm-up (first-use allocations)
  const before = ak.memory().inUseBytes;
  for (let i = 0; i < 500; i++) run();
  const after = ak.memory().inUseBytes;
  layer.dispose();
  small.dispose();
  causal.dispose();
  assert.equal(after - before, 0, `in-use bytes grew by ${after - before} over 500 rounds of failing calls`);
});

test('a layer keeps working after a failed forward', () => {
  const l = mha();
  assert.throws(() => l.forward(X, [2, 9, 2]), Error);
  const out = l.forward(X, [2, 6, 3]);
  assert.equal(out.context.length, 24);
  assert.ok(out.context.every(Number.isFinite));
  l.dispose();
});
