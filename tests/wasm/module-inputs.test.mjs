// The modules as nn.MultiheadAttention users expect them (issue "Attention for real models" §2): create options
// kvHeads (grouped-query projections), kDim and vDim (cross-attention inputs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { load } from '../../wasm/index.mjs';

const ak = await load({ threads: false });

test('kvHeads, kDim and vDim set the projections\' shapes', () => {
  const gqa = ak.create('multihead', { dIn: 8, dOut: 12, numHeads: 6, kvHeads: 2 });
  const shapes = gqa.parameterShapes();
  assert.deepEqual(shapes['W_query.weight'], [12, 8]);
  assert.deepEqual(shapes['W_key.weight'], [4, 8], 'kvHeads · headDim rows');
  assert.deepEqual(shapes['W_value.weight'], [4, 8]);
  assert.deepEqual(shapes['out_proj.weight'], [12, 12]);
  gqa.dispose();
  const cross = ak.create('multihead', { dIn: 8, dOut: 4, numHeads: 2, kDim: 5, vDim: 3 });
  const cs = cross.parameterShapes();
  assert.deepEqual(cs['W_query.weight'], [4, 8]);
  assert.deepEqual(cs['W_key.weight'], [4, 5]);
  assert.deepEqual(cs['W_value.weight'], [4, 3]);
  cross.dispose();
  const self = ak.create('self', { dIn: 3, dOut: 2, kDim: 7 });
  assert.deepEqual(self.parameterShapes()['W_key.weight'], [2, 7]);
  self.dispose();
});

test('kvHeads, kDim and vDim: clear errors where they do not apply or do not fit', () => {
  assert.throws(() => ak.create('multihead', { dIn: 8, dOut: 12, numHeads: 6, kvHeads: 4 }),
    { name: 'RangeError', message: 'kv_heads (4) must divide num_heads (6); expected a divisor of 6' });
  assert.throws(() => ak.create('causal', { dIn: 3, dOut: 2, kvHeads: 1 }), { name: 'RangeError', message: "kv_heads (1) applies only to multihead; expected 0 for mechanism 'causal'" });
  assert.throws(() => ak.create('multihead', { dIn: 8, dOut: 4, kDim: -1 }), { name: 'RangeError', message: 'option kDim (-1) must not be negative' });
  assert.throws(() => ak.create('multihead', { dIn: 8, dOut: 4, vDim: 2.5 }), { name: 'Error', message: 'option vDim must be an integer; got number 2.5' });
  assert.ok(ak.mechanisms.find((t) => t.name === 'multihead').options.includes('kvHeads'));
});
