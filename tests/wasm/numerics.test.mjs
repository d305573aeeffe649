// Numerics and determinism through the JS API: huge scores stay finite, runs repeat bit for bit, batched
// and unbatched inputs agree, both causal routes give the same weights, dropout is seeded and train-only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { load } from '../../wasm/index.mjs';
import { rng, randomArray, assertClose } from './helpers.mjs';

const ak = await load({ threads: false });
const next = rng(31337);

test('scores of ±1e30 give finite weights whose rows sum to 1', () => {
  const x = new Float32Array([1e15, -1e15, 3e14, 2e15, 1e15, -1e15, -2e15, 5e14]);
  for (const mechanism of ['simplified']) {
    const out = ak.run(mechanism, {}, x, [4, 2], { returnWeights: true, intermediates: true });
    assert.ok(
      out.intermediates.scores.data.some((s) => Math.abs(s) > 1e29),
      'scores are huge',
    );
    assert.ok(out.weights.every(Number.isFinite), 'weights finite');
    assert.ok(out.context.every(Number.isFinite), 'context finite');
    for (let i = 0; i < 4; i++) {
      const sum = out.weights.subarray(4 * i, 4 * i + 4).reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(sum - 1) < 1e-6, `row ${i} sums to ${sum}`);
    }
  }
});

test('bitwise identical across runs and across layers built from the same seed', () => {
  const x = randomArray(3 * 40 * 16, next, 0.5);
  for (const m of ['self-v1', 'self', 'causal', 'multihead-wrapper', 'multihead']) {
    const o = {
      dIn: 16,
      dOut: m === 'multihead-wrapper' ? 4 : 12,
      numHeads: m.startsWith('multihead') ? 3 : 1,
      seed: 4242,
    };
    const a = ak.create(m, o);
    const b = ak.create(m, o);
    for (const fo of [{}, { returnWeights: true }]) {
      const r1 = a.forward(x, [3, 40, 16], fo);
      const r2 = a.forward(x, [3, 40, 16], fo);
      const r3 = b.forward(x, [3, 40, 16], fo);
      assert.deepEqual(r1.context, r2.context, `${m} run to run`);
      assert.deepEqual(r1.context, r3.context, `${m} layer to layer`);
    }
    a.dispose();
    b.dispose();
  }
});

test('an unbatched input equals a batch of one, with the batch dimension dropped', () => {
  const x = randomArray(9 * 5, next, 0.5);
  const layer = ak.create('multihead', { dIn: 5, dOut: 6, numHeads: 2 });
  const u = layer.forward(x, [9, 5], { returnWeights: true });
  const b = layer.forward(x, [1, 9, 5], { returnWeights: true });
  assert.deepEqual(u.contextShape, [9, 6]);
  assert.deepEqual(b.contextShape, [1, 9, 6]);
  assert.deepEqual(u.weightsShape, [2, 9, 9]);
  assert.deepEqual(b.weightsShape, [1, 2, 9, 9]);
  assert.deepEqual(u.context, b.context);
  assert.deepEqual(u.weights, b.weights);
  layer.dispose();
});

test('both causal routes give the same weights and context', () => {
  const x = randomArray(2 * 12 * 6, next, 0.5);
  const a = ak.run('causal', { dIn: 6, dOut: 4, seed: 8, causalRoute: 'neg-inf' }, x, [2, 12, 6], {
    returnWeights: true,
  });
  const b = ak.run('causal', { dIn: 6, dOut: 4, seed: 8, causalRoute: 'renormalise' }, x, [2, 12, 6], {
    returnWeights: true,
  });
  assertClose(b.weights, Array.from(a.weights), { atol: 1e-6, what: 'weights' });
  assertClose(b.context, Array.from(a.context), { atol: 1e-6, what: 'context' });
  for (let i = 0; i < 12; i++)
    for (let j = i + 1; j < 12; j++) assert.equal(a.weights[i * 12 + j], 0, 'future weight is 0');
});

test('dropout: only with train, seeded, inverted (kept weights scaled by 1/(1-p)), weights returned before dropout', () => {
  const x = randomArray(1 * 10 * 4, next, 0.5);
  const o = { dIn: 4, dOut: 4, dropout: 0.5, seed: 77 };
  const evalOut = ak.run('causal', o, x, [10, 4], { returnWeights: true });
  const noDrop = ak.run('causal', { ...o, dropout: 0 }, x, [10, 4], { returnWeights: true });
  assert.deepEqual(evalOut.context, noDrop.context, 'no dropout in eval mode');
  const t1 = ak.run('causal', o, x, [10, 4], { train: true, returnWeights: true, intermediates: true });
  const t2 = ak.run('causal', o, x, [10, 4], { train: true, returnWeights: true, intermediates: true });
  assert.deepEqual(t1.context, t2.context, 'same seed, same masks');
  // Weights before dropout: eval's come from the fused kernel's tiles, train's from the explain path's passes, the
  // same numbers to rounding (the two paths' contract: ≤ 1e-6).
  assert.equal(t1.weights.length, evalOut.weights.length);
  for (let i = 0; i < t1.weights.length; i++)
    assert.ok(Math.abs(t1.weights[i] - evalOut.weights[i]) <= 1e-6, `weights are returned before dropout (at ${i})`);
  const dropped = t1.intermediates.weights_after_dropout.data;
  let kept = 0,
    zeroed = 0;
  for (let i = 0; i < dropped.length; i++) {
    if (dropped[i] === 0 && t1.weights[i] !== 0) zeroed++;
    else if (t1.weights[i] !== 0) {
      kept++;
      assert.ok(Math.abs(dropped[i] - 2 * t1.weights[i]) <= 1e-6 * Math.abs(dropped[i]), 'kept weights doubled');
    }
  }
  assert.ok(kept > 0 && zeroed > 0, `kept ${kept}, zeroed ${zeroed}`);
  // the generator continues across calls on one layer, as in PyTorch
  const layer = ak.create('causal', o);
  const c1 = layer.forward(x, [10, 4], { train: true });
  const c2 = layer.forward(x, [10, 4], { train: true });
  assert.notDeepEqual(c1.context, c2.context, 'a second training pass draws new masks');
  layer.dispose();
});
