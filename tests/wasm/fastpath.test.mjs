// forward() without returnWeights/intermediates takes a numbers-only fast path (wasm/index.mjs #forwardFast):
// it must give the same bits, shapes and errors as the general path, survive memory growth, and leak nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { load } from '../../wasm/index.mjs';
import { rng, randomArray } from './helpers.mjs';
import createSingle from '../../dist/attnkit.mjs';

// The general path, called on the Embind layer directly (the package routes these calls to the fast path).
const embind = await createSingle();
function generalForward(mechanism, o, x, shape, fo = {}) {
  const raw = new embind.Layer();
  try {
    const info = raw.init(mechanism, {
      d_in: o.dIn ?? 0, d_out: o.dOut ?? 0, num_heads: o.numHeads ?? 1, context_length: o.contextLength ?? 0,
      causal: null, qkv_bias: o.qkvBias ?? false, dropout: o.dropout ?? 0, seed_lo: o.seed ?? 123, seed_hi: 0,
      causal_route: 'neg-inf',
    }, undefined);
    assert.equal(info.error, undefined);
    const opts = { return_weights: false, train: fo.train ?? false, intermediates: false, threads: 1 };
    const first = raw.forward(x, shape, opts);
    const second = raw.forward(x, shape, opts);
    return [first, second];
  } finally {
    raw.release();
    raw.delete();
  }
}

const next = rng(11);
const MECHS = [
  ['simplified', {}],
  ['self-v1', { dIn: 3, dOut: 4 }],
  ['self', { dIn: 3, dOut: 4, qkvBias: true }],
  ['causal', { dIn: 3, dOut: 4, dropout: 0.25 }],
  ['multihead-wrapper', { dIn: 3, dOut: 2, numHeads: 3 }],
  ['multihead', { dIn: 3, dOut: 4, numHeads: 2, contextLength: 6 }],
];
const bits = (f32) => Array.from(new Uint32Array(f32.buffer, f32.byteOffset, f32.length));

for (const threads of [false, true]) {
  const ak = await load({ threads });
  const build = threads ? 'pthreads' : 'single-thread';

  test(`${build}: fast path and general path give identical bits and shapes`, () => {
    for (const [m, o] of MECHS) {
      for (const shape of [[2, 6, 3], [6, 3], [1, 1, 3], [3, 2, 3]]) {
        for (const fo of [undefined, {}, { train: true }, { threads: 2 }]) {
          const x = randomArray(shape.reduce((a, b) => a * b, 1), next);
          // fresh layers, so that dropout draws the same masks on both paths
          const a = ak.create(m, { ...o, seed: 5 });
          const fast = a.forward(x, shape, fo);
          const [general, general2] = generalForward(m, { ...o, seed: 5 }, x, shape, fo);
          const what = `${m} ${JSON.stringify(shape)} ${JSON.stringify(fo)}`;
          assert.deepEqual(Object.keys(fast), ['context', 'contextShape'], what);
          assert.deepEqual(fast.contextShape, general.context.shape, what);
          assert.deepEqual(bits(fast.context), bits(general.context.data), what);
          assert.ok(fast.context.buffer instanceof ArrayBuffer, `${what}: a copy, not a view on wasm memory`);
          // a second call on the same layer reuses the buffers and still agrees with the general path
          const fast2 = a.forward(x, shape, fo);
          assert.deepEqual(bits(fast2.context), bits(general2.context.data), `${what}, second call`);
          a.dispose();
        }
      }
    }
  });

  test(`${build}: fast path reports the core's errors like the general path, and leaks nothing`, () => {
    const layer = ak.create('multihead', { dIn: 3, dOut: 4, numHeads: 2, contextLength: 6 });
    const x = randomArray(2 * 7 * 3, next);
    layer.forward(randomArray(36, next), [2, 6, 3]); // buffers allocated
    const before = ak.memory().inUseBytes;
    for (const [xs, shape] of [[x, [2, 7, 3]], [randomArray(8, next), [2, 4]], [randomArray(0, next), [0, 0]]]) {
      let fastErr, generalErr;
      try { layer.forward(xs, shape); } catch (e) { fastErr = e; }
      try { layer.forward(xs, shape, { returnWeights: true }); } catch (e) { generalErr = e; }
      assert.ok(fastErr && generalErr, `both paths throw for ${JSON.stringify(shape)}`);
      assert.equal(fastErr.constructor, generalErr.constructor);
      assert.equal(fastErr.message, generalErr.message);
    }
    for (let i = 0; i < 200; i++) assert.throws(() => layer.forward(x, [2, 7, 3]), RangeError);
    layer.forward(randomArray(36, next), [2, 6, 3]);
    assert.equal(ak.memory().inUseBytes, before, 'errors on the fast path free what they allocated');
    layer.dispose();
    assert.throws(() => layer.forward(x, [2, 7, 3]), { message: /^layer was disposed/ });
  });

  test(`${build}: fast path survives wasm memory growth between and inside calls`, () => {
    const small = ak.create('self', { dIn: 8, dOut: 8 });
    const xs = randomArray(4 * 8, next);
    const ref = bits(generalForward('self', { dIn: 8, dOut: 8 }, xs, [4, 8])[0].context.data);
    assert.deepEqual(bits(small.forward(xs, [4, 8]).context), ref);
    const big = ak.create('self', { dIn: 8, dOut: 8 });
    const wasmBefore = ak.memory().wasmBytes;
    const b = 1 << 19; // 64 MB of input (4 tokens per sequence): grows the memory inside the call
    const out = big.forward(new Float32Array(b * 4 * 8).fill(0.5), [b, 4, 8]);
    assert.equal(out.context.length, b * 4 * 8);
    assert.ok(ak.memory().wasmBytes > wasmBefore, 'memory grew');
    assert.deepEqual(bits(small.forward(xs, [4, 8]).context), ref, 'after growth');
    big.dispose();
    small.dispose();
  });
}
