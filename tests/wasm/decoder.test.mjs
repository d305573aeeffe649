// layer.decoder({ maxTokens, batch }): generation token by token through the KV cache. Each step's context equals
// the rows of a full causal forward over every token so far (≤ 1e-6 relative), overflow past maxTokens and use
// after dispose are Errors, and a soak of 10 000 steps keeps the wasm memory flat.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { load } from '../../wasm/index.mjs';
import { rng, randomArray } from './helpers.mjs';
import { relError } from './attention-reference.mjs';

const ak = await load({ threads: false });
const next = rng(777);

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

const CASES = [
  ['multihead', { dIn: 12, dOut: 12, numHeads: 3, seed: 5 }],
  ['multihead', { dIn: 5, dOut: 8, numHeads: 2, qkvBias: true, seed: 6 }],
  ['multihead-wrapper', { dIn: 4, dOut: 3, numHeads: 2, seed: 7 }],
  ['causal', { dIn: 3, dOut: 5, seed: 8 }],
];

for (const [mechanism, options] of CASES) {
  test(`${mechanism} ${JSON.stringify(options)}: token by token equals the full causal forward`, () => {
    const layer = ak.create(mechanism, options);
    for (const [batch, tokens] of [
      [1, 1],
      [1, 5],
      [2, 34],
      [3, 12],
    ]) {
      const x = randomArray(batch * tokens * options.dIn, next);
      const full = layer.forward(x, [batch, tokens, options.dIn]);
      const width = full.contextShape[2];
      const decoder = layer.decoder({ maxTokens: tokens, batch });
      for (let t = 0; t < tokens; t++) {
        const row = new Float32Array(batch * options.dIn);
        for (let s = 0; s < batch; s++)
          row.set(x.subarray((s * tokens + t) * options.dIn, (s * tokens + t + 1) * options.dIn), s * options.dIn);
        const step = decoder.step(row, [batch, 1, options.dIn]);
        assert.deepEqual(step.contextShape, [batch, 1, width]);
        assert.equal(decoder.length, t + 1);
        const expected = new Float32Array(batch * width);
        for (let s = 0; s < batch; s++)
          expected.set(full.context.subarray((s * tokens + t) * width, (s * tokens + t + 1) * width), s * width);
        const err = relError(step.context, expected, 0.1); // below 0.1 in magnitude: 1e-7 absolute
        assert.ok(err <= 1e-6, `batch ${batch} tokens ${tokens} step ${t}: rel. error ${err}`);
      }
      decoder.dispose();
    }
    layer.dispose();
  });
}

test('several tokens in one step, unbatched (t, dIn) input, and reset() starts a new sequence', () => {
  const layer = ak.create('multihead', { dIn: 4, dOut: 4, numHeads: 2 });
  const x = randomArray(7 * 4, next);
  const full = layer.forward(x, [7, 4]);
  const decoder = layer.decoder({ maxTokens: 7 });
  const a = decoder.step(x.subarray(0, 12), [3, 4]);
  const b = decoder.step(x.subarray(12), [4, 4]);
  assert.deepEqual(a.contextShape, [3, 4]);
  assert.ok(relError([...a.context, ...b.context], full.context, 1e-2) <= 1e-6);
  decoder.reset();
  assert.equal(decoder.length, 0);
  assert.ok(
    relError(decoder.step(x.subarray(0, 12), [3, 4]).context, a.context, 1e-2) <= 1e-6,
    'after reset, the same as from the start',
  );
  decoder.dispose();
  layer.dispose();
});

test('bad input: overflow past maxTokens, a wrong shape, a disposed decoder or layer, options', () => {
  const layer = ak.create('multihead', { dIn: 4, dOut: 4, numHeads: 2 });
  const decoder = layer.decoder({ maxTokens: 3, batch: 1 });
  decoder.step(randomArray(8, next), [2, 4]);
  assertError(
    () => decoder.step(randomArray(8, next), [2, 4]),
    RangeError,
    'the KV cache holds max_tokens (3) tokens; this step adds 2 to 2; expected at most 1 new tokens or reset()',
  );
  assert.equal(decoder.length, 2, 'a refused step leaves the cache as it was');
  decoder.step(randomArray(4, next), [1, 4]);
  assertError(
    () => decoder.step(randomArray(4, next), [1, 4]),
    RangeError,
    'the KV cache holds max_tokens (3) tokens; this step adds 1 to 3; expected at most 0 new tokens or reset()',
  );
  decoder.reset();
  assertError(
    () => decoder.step(randomArray(5, next), [1, 5]),
    Error,
    'x_new has d_in 5 (shape [1, 5]); expected d_in 4',
  );
  assertError(
    () => decoder.step(randomArray(8, next), [2, 1, 4]),
    Error,
    "x_new has batch 2 (shape [2, 1, 4]); expected batch 1 (the session's, from begin_decode)",
  );
  assertError(
    () => decoder.step(new Float32Array(4).fill(NaN), [1, 4]),
    Error,
    'x_new contains NaN at index [0, 0]; expected finite numbers',
  );
  assertError(() => decoder.step(new Float64Array(4), [1, 4]), Error, /^x must be a Float32Array; got a Float64Array/);
  assert.equal(decoder.length, 0);
  assertError(() => layer.decoder({ maxTokens: 0 }), RangeError, 'max_tokens must be at least 1 (got 0)');
  assertError(
    () => ak.create('multihead', { dIn: 3, dOut: 2, contextLength: 4 }).decoder({ maxTokens: 5 }),
    RangeError,
    "max_tokens (5) exceeds the module's context_length (4); expected at most 4",
  );
  assertError(() => decoder.step(randomArray(4, next), [1, 4], { nope: 1 }), Error, /^unknown step option 'nope'/);
  decoder.dispose();
  decoder.dispose(); // twice is fine
  assertError(
    () => decoder.step(randomArray(4, next), [1, 4]),
    Error,
    'decoder was disposed; start a new one with layer.decoder()',
  );
  assertError(() => decoder.length, Error, 'decoder was disposed; start a new one with layer.decoder()');
  assertError(() => decoder.reset(), Error, 'decoder was disposed; start a new one with layer.decoder()');
  assert.equal(decoder.disposed, true);
  assertError(() => layer.decoder(), Error, 'decoder options are required: { maxTokens, batch? }');
  assertError(
    () => layer.decoder({ batch: 2 }),
    Error,
    'decoder option maxTokens is required: the most tokens the cache holds',
  );
  assertError(() => layer.decoder({ maxTokens: -1 }), RangeError, 'option maxTokens (-1) must not be negative');
  assertError(() => layer.decoder({ maxTokens: 4, beams: 2 }), Error, /^unknown decoder option 'beams'/);
  const other = layer.decoder({ maxTokens: 4 });
  layer.dispose();
  assertError(
    () => other.step(randomArray(4, next), [1, 4]),
    Error,
    'layer was disposed; create a new one with ak.create()',
  );
  other.dispose(); // after the layer's dispose: nothing to free, no error
  const self = ak.create('self', { dIn: 3, dOut: 2 });
  assertError(
    () => self.decoder({ maxTokens: 4 }),
    Error,
    "decoding needs a causal module; this 'self' module is not causal (expected Config::causal = true)",
  );
  self.dispose();
});

test('a getter that disposes the decoder or the layer mid-step gets an Error, never a crash', () => {
  const layer = ak.create('multihead', { dIn: 4, dOut: 4, numHeads: 2 });
  const decoder = layer.decoder({ maxTokens: 8 });
  const x = Array.from(randomArray(4, next));
  Object.defineProperty(x, 2, {
    get: () => {
      decoder.dispose();
      return 0.5;
    },
    enumerable: true,
  });
  assertError(() => decoder.step(x, [1, 4]), Error, 'decoder was disposed; start a new one with layer.decoder()');
  const second = layer.decoder({ maxTokens: 8 });
  const shape = [1, 4];
  Object.defineProperty(shape, 0, {
    get: () => {
      layer.dispose();
      return 1;
    },
    enumerable: true,
  });
  assertError(
    () => second.step(randomArray(4, next), shape),
    Error,
    'layer was disposed; create a new one with ak.create()',
  );
});

test('soak: 10 000 steps with a reset every maxTokens keep the wasm memory flat', () => {
  const layer = ak.create('multihead', { dIn: 16, dOut: 16, numHeads: 4 });
  const maxTokens = 64;
  const decoder = layer.decoder({ maxTokens });
  const x = randomArray(16, next);
  let before = 0;
  for (let step = 0; step < 10000; step++) {
    if (step % maxTokens === 0) decoder.reset();
    decoder.step(x, [1, 16]);
    if (step === 999) before = ak.memory();
  }
  const after = ak.memory();
  assert.equal(after.wasmBytes, before.wasmBytes, 'wasm memory grew');
  assert.ok(
    after.inUseBytes <= before.inUseBytes,
    `in-use bytes grew from ${before.inUseBytes} to ${after.inUseBytes}`,
  );
  decoder.dispose();
  layer.dispose();
});
