// layer.decoder() with grouped-query heads (the cache holds kvHeads heads) and cross-attention over an encoder's
// output ({ kv, keyPaddingMask }): decoding token by token gives the full forward's context and weights (≤ 1e-6
// relative; below 0.1 in magnitude 1e-7 absolute, as tests/wasm/decoder.test.mjs),
// at sizes around the SIMD width; bad input gets a clear Error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { load } from '../../wasm/index.mjs';
import { randomArray, rng } from './helpers.mjs';
import { relError } from './attention-reference.mjs';

const ak = await load({ threads: false });

// Rows [t, t + 1) of a (b, n, w) tensor, for every batch item: (b, 1, w)
const rowsAt = (data, b, n, w, t) => {
  const out = new Float32Array(b * w);
  for (let s = 0; s < b; s++) out.set(data.subarray((s * n + t) * w, (s * n + t + 1) * w), s * w);
  return out;
};

for (const [heads, kvHeads, n] of [
  [4, 2, 7],
  [6, 1, 5],
  [4, 4, 9],
]) {
  test(`grouped-query decoding: ${heads} heads over ${kvHeads} kv heads, ${n} tokens: each step is the causal forward's row`, () => {
    const next = rng(heads * 10 + kvHeads);
    const dIn = 5;
    const layer = ak.create('multihead', { dIn, dOut: 2 * heads, numHeads: heads, kvHeads, seed: 11, qkvBias: true });
    const b = 2;
    const x = randomArray(b * n * dIn, next);
    const full = layer.forward(x, [b, n, dIn], { returnWeights: true });
    const decoder = layer.decoder({ maxTokens: n, batch: b });
    const width = 2 * heads;
    for (let t = 0; t < n; t++) {
      const r = decoder.step(rowsAt(x, b, n, dIn, t), [b, 1, dIn], { returnWeights: true });
      assert.ok(relError(r.context, rowsAt(full.context, b, n, width, t), 0.1) <= 1e-6, `context of token ${t}`);
      assert.deepEqual(r.weightsShape, [b, heads, 1, t + 1]);
      for (let s = 0; s < b; s++)
        for (let h = 0; h < heads; h++) {
          const row = full.weights.subarray(((s * heads + h) * n + t) * n, ((s * heads + h) * n + t) * n + t + 1);
          const got = r.weights.subarray((s * heads + h) * (t + 1), (s * heads + h + 1) * (t + 1));
          assert.ok(relError(got, row, 1e-2) <= 1e-6, `weights of token ${t}, head ${h}`);
        }
    }
    assert.equal(decoder.length, n);
    decoder.dispose();
    layer.dispose();
  });
}

test('cross-attention decoding over an encoder output with padding gives forward(x, { kv, keyPaddingMask })', () => {
  const next = rng(3);
  const [b, nq, nk, dIn, kDim] = [2, 6, 5, 4, 3];
  const layer = ak.create('multihead', { dIn, dOut: 4, numHeads: 2, kDim, vDim: kDim, causal: false, seed: 4 });
  const x = randomArray(b * nq * dIn, next);
  const kv = randomArray(b * nk * kDim, next);
  const keyPaddingMask = [
    [false, false, false, false, false],
    [false, false, false, true, true],
  ];
  const full = layer.forward(x, [b, nq, dIn], { kv, kvShape: [b, nk, kDim], keyPaddingMask, returnWeights: true });
  const decoder = layer.decoder({ maxTokens: nq, kv, kvShape: [b, nk, kDim], keyPaddingMask });
  for (let t = 0; t < nq; t++) {
    const r = decoder.step(rowsAt(x, b, nq, dIn, t), [b, 1, dIn], { returnWeights: true });
    assert.ok(relError(r.context, rowsAt(full.context, b, nq, 4, t), 0.1) <= 1e-6, `token ${t}`);
    assert.deepEqual(r.weightsShape, [b, 2, 1, nk]);
    assert.equal(r.weights[(1 * 2 + 0) * nk + 4], 0, 'no weight on a padded key');
  }
  // a new encoder output: the tokens are forgotten, and the next steps read the new memory
  const kv2 = randomArray(1 * 2 * kDim * b, next);
  decoder.setMemory({ kv: kv2, kvShape: [b, 2, kDim] });
  assert.equal(decoder.length, 0);
  const full2 = layer.forward(x, [b, nq, dIn], { kv: kv2, kvShape: [b, 2, kDim] });
  const r0 = decoder.step(rowsAt(x, b, nq, dIn, 0), [b, 1, dIn]);
  assert.ok(relError(r0.context, rowsAt(full2.context, b, nq, 4, 0), 0.1) <= 1e-6, 'after setMemory');
  decoder.dispose();
  layer.dispose();
});

const BAD = [
  [
    'kv on a causal layer',
    () =>
      ak
        .create('multihead', { dIn: 4, dOut: 4, numHeads: 2 })
        .decoder({ maxTokens: 2, kv: new Float32Array(8), kvShape: [2, 4] }),
    'Error',
  ],
  [
    'batch with kv',
    () =>
      ak
        .create('multihead', { dIn: 4, dOut: 4, numHeads: 2, causal: false })
        .decoder({ maxTokens: 2, batch: 1, kv: new Float32Array(8), kvShape: [2, 4] }),
    'Error',
  ],
  [
    'keyPaddingMask without kv',
    () => ak.create('multihead', { dIn: 4, dOut: 4, numHeads: 2 }).decoder({ maxTokens: 2, keyPaddingMask: [false] }),
    'Error',
  ],
  [
    'keyPaddingMask of the wrong length',
    () =>
      ak
        .create('multihead', { dIn: 4, dOut: 4, numHeads: 2, causal: false })
        .decoder({ maxTokens: 2, kv: new Float32Array(8), kvShape: [2, 4], keyPaddingMask: new Uint8Array(3) }),
    'Error',
  ],
  [
    'setMemory on a self-attention session',
    () =>
      ak
        .create('multihead', { dIn: 4, dOut: 4, numHeads: 2 })
        .decoder({ maxTokens: 2 })
        .setMemory({ kv: [[0, 0, 0, 0]] }),
    'Error',
  ],
  [
    'returnWeights not a boolean',
    () =>
      ak
        .create('multihead', { dIn: 4, dOut: 4, numHeads: 2 })
        .decoder({ maxTokens: 2 })
        .step(new Float32Array(4), [1, 4], { returnWeights: 1 }),
    'Error',
  ],
  [
    'cross-attention past maxTokens',
    () => {
      const d = ak
        .create('multihead', { dIn: 4, dOut: 4, numHeads: 2, causal: false })
        .decoder({ maxTokens: 1, kv: new Float32Array(8), kvShape: [2, 4] });
      d.step(new Float32Array(4), [1, 4]);
      return d.step(new Float32Array(4), [1, 4]);
    },
    'RangeError',
  ],
];

for (const [what, call, name] of BAD) {
  test(`bad input: ${what}`, () => {
    assert.throws(call, (e) => {
      assert.equal(e.constructor.name, name, `${e.name}: ${e.message}`);
      assert.ok(e.message.length > 20 && !/undefined|\[object/.test(e.message), e.message);
      return true;
    });
  });
}
