// The modules as nn.MultiheadAttention users expect them (issue "Attention for real models" §2): create options
// kvHeads (grouped-query projections), kDim and vDim (cross-attention inputs); forward's kv (and value), keyPaddingMask
// and attnMask with nn.MultiheadAttention's conventions, against PyTorch's golden files (tests/golden/torch/mha_*).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { load } from '../../wasm/index.mjs';
import { f32, flat, golden, rng, randomArray } from './helpers.mjs';
import { attentionReference, relError } from './attention-reference.mjs';
import { MHA, bookStateDict, mhaCase } from './torch-mha-cases.mjs';

const ak = await load({ threads: false });

test("kvHeads, kDim and vDim set the projections' shapes", () => {
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
  assert.throws(() => ak.create('multihead', { dIn: 8, dOut: 12, numHeads: 6, kvHeads: 4 }), {
    name: 'RangeError',
    message: 'kv_heads (4) must divide num_heads (6); expected a divisor of 6',
  });
  assert.throws(() => ak.create('causal', { dIn: 3, dOut: 2, kvHeads: 1 }), {
    name: 'RangeError',
    message: "kv_heads (1) applies only to multihead; expected 0 for mechanism 'causal'",
  });
  assert.throws(() => ak.create('multihead', { dIn: 8, dOut: 4, kDim: -1 }), {
    name: 'RangeError',
    message: 'option kDim (-1) must not be negative',
  });
  assert.throws(() => ak.create('multihead', { dIn: 8, dOut: 4, vDim: 2.5 }), {
    name: 'Error',
    message: 'option vDim must be an integer; got number 2.5',
  });
  assert.ok(ak.mechanisms.find((t) => t.name === 'multihead').options.includes('kvHeads'));
});

for (const name of MHA) {
  test(`PyTorch golden mha_${name}: forward with kv, keyPaddingMask and attnMask as nn.MultiheadAttention`, () => {
    const g = golden(`torch/mha_${name}.json`);
    const { create, forward, x, shape } = mhaCase(g, bookStateDict(g.state_dict));
    const layer = ak.create('multihead', create);
    const out = layer.forward(x, shape, forward);
    assert.deepEqual(out.contextShape, g.shapes['outputs.output']);
    assert.ok(
      relError(out.context, flat(g.outputs.output), 0.1) <= 1e-5,
      `context: ${relError(out.context, flat(g.outputs.output), 0.1)}`,
    );
    if (g.outputs.weights) {
      assert.deepEqual(out.weightsShape, g.shapes['outputs.weights']);
      assert.ok(relError(out.weights, flat(g.outputs.weights), 1e-2) <= 1e-5, 'weights');
    }
    layer.dispose();
  });
}

// float64 reference of the book's MultiHeadAttention with grouped-query projections and a separate kv input:
// queries = x·W_queryᵀ, keys = kv·W_keyᵀ, values = kv·W_valueᵀ, split into heads, attention, then out_proj.
function multiheadReference(sd, x, [b, nq, dIn], kv, nk, kDim, heads, kvHeads, options) {
  const linear = (input, rows, inDim, w, bias) => {
    const outDim = w.shape[0];
    const y = new Float64Array(rows * outDim);
    for (let r = 0; r < rows; r++) {
      for (let o = 0; o < outDim; o++) {
        let acc = bias ? bias.data[o] : 0;
        for (let i = 0; i < inDim; i++) acc += input[r * inDim + i] * w.data[o * inDim + i];
        y[r * outDim + o] = acc;
      }
    }
    return y;
  };
  const toHeads = (y, n, h, hd) => {
    // (b, n, h·hd) → (b, h, n, hd)
    const out = new Float64Array(b * h * n * hd);
    for (let s = 0; s < b; s++)
      for (let t = 0; t < n; t++)
        for (let g = 0; g < h; g++)
          for (let c = 0; c < hd; c++) {
            out[((s * h + g) * n + t) * hd + c] = y[(s * n + t) * h * hd + g * hd + c];
          }
    return out;
  };
  const dOut = sd['W_query.weight'].shape[0];
  const hd = dOut / heads;
  const q = toHeads(linear(x, b * nq, dIn, sd['W_query.weight'], sd['W_query.bias']), nq, heads, hd);
  const k = toHeads(linear(kv, b * nk, kDim, sd['W_key.weight'], sd['W_key.bias']), nk, kvHeads, hd);
  const v = toHeads(linear(kv, b * nk, kDim, sd['W_value.weight'], sd['W_value.bias']), nk, kvHeads, hd);
  const att = attentionReference(q, [b, heads, nq, hd], k, [b, kvHeads, nk, hd], v, [b, kvHeads, nk, hd], options);
  const merged = new Float64Array(b * nq * dOut); // (b, h, n, hd) → (b, n, h·hd)
  for (let s = 0; s < b; s++)
    for (let g = 0; g < heads; g++)
      for (let t = 0; t < nq; t++)
        for (let c = 0; c < hd; c++) {
          merged[(s * nq + t) * dOut + g * hd + c] = att.output[((s * heads + g) * nq + t) * hd + c];
        }
  return { context: linear(merged, b * nq, dOut, sd['out_proj.weight'], sd['out_proj.bias']), weights: att.weights };
}

test('grouped-query projections and cross-attention against a float64 reference, sizes around 4 lanes', () => {
  const next = rng(31);
  for (const [heads, kvHeads, hd, nq, nk, kDim] of [
    [4, 2, 3, 5, 12, 7],
    [6, 3, 4, 1, 34, 5],
    [8, 1, 5, 12, 3, 4],
    [2, 2, 4, 4, 4, 8],
  ]) {
    const dIn = 6;
    const layer = ak.create('multihead', {
      dIn,
      dOut: heads * hd,
      numHeads: heads,
      kvHeads,
      kDim,
      vDim: kDim,
      causal: false,
      qkvBias: true,
      seed: heads,
    });
    const sd = layer.stateDict();
    const b = 2;
    const x = randomArray(b * nq * dIn, next),
      kv = randomArray(b * nk * kDim, next);
    const padding = Array.from({ length: b * nk }, (_, i) => i % nk >= nk - 1 && i >= nk); // the last key of sequence 1
    const out = layer.forward(x, [b, nq, dIn], {
      kv,
      kvShape: [b, nk, kDim],
      keyPaddingMask: padding,
      returnWeights: true,
    });
    const mask = { kind: 'boolean', shape: [b, 1, 1, nk], data: padding.map((p) => !p) };
    const ref = multiheadReference(sd, x, [b, nq, dIn], kv, nk, kDim, heads, kvHeads, { mask });
    assert.ok(
      relError(out.context, ref.context, 0.1) <= 1e-5,
      `h ${heads} kv ${kvHeads}: context ${relError(out.context, ref.context, 0.1)}`,
    );
    assert.ok(relError(out.weights, ref.weights, 1e-2) <= 1e-5, 'weights');
    layer.dispose();
  }
  // causal self-attention with kvHeads: the book's mask (upper-left)
  const layer = ak.create('multihead', { dIn: 5, dOut: 12, numHeads: 6, kvHeads: 2, seed: 3 });
  const x = randomArray(3 * 34 * 5, next);
  const ref = multiheadReference(layer.stateDict(), x, [3, 34, 5], x, 34, 5, 6, 2, { causal: 'upper-left' });
  assert.ok(relError(layer.forward(x, [3, 34, 5]).context, ref.context, 0.1) <= 1e-5, 'causal grouped-query');
  layer.dispose();
});

test('forward inputs: bad input gets a clear Error, arguments are read once', () => {
  const layer = ak.create('multihead', { dIn: 4, dOut: 4, numHeads: 2, kDim: 3, vDim: 3, causal: false });
  const x = new Float32Array(2 * 3 * 4).fill(0.25);
  const kv = new Float32Array(2 * 5 * 3).fill(0.5);
  const bad = [
    [{ kv }, Error, 'kvShape is required with a Float32Array kv: [batch, keys, kDim] or [keys, kDim]'],
    [{ kvShape: [2, 5, 3] }, Error, 'forward option kvShape was given without kv'],
    [{ kv, kvShape: [2, 5, 4] }, Error, 'kv has 30 elements but kvShape [2, 5, 4] needs 40'],
    [
      { value: kv, valueShape: [2, 5, 3] },
      Error,
      "forward option value needs kv (the keys' input; value is the values' input when it differs)",
    ],
    [
      { kv, kvShape: [2, 5, 3], keyPaddingMask: new Uint8Array(9) },
      Error,
      'keyPaddingMask has 9 elements; expected 10, one per key of each sequence (batch, keys) = [2, 5]',
    ],
    [
      { kv, kvShape: [2, 5, 3], keyPaddingMask: new Int8Array(10) },
      Error,
      'keyPaddingMask must be a Uint8Array or an Array of booleans (true = padding, ignored), or a Float32Array (added to the scores); got a Int8Array of length 10',
    ],
    [
      { kv, kvShape: [2, 5, 3], attnMask: new Uint8Array(15) },
      Error,
      'attnMaskShape is required with a Uint8Array attnMask: e.g. [queries, keys] or [batch·heads, queries, keys]',
    ],
    [
      { kv, kvShape: [2, 5, 3], attnMask: [[1, 0]] },
      Error,
      /^attnMask has number 1 at index \[0, 0\]; expected an Array of booleans \(true = may not attend\)/,
    ],
    [
      { averageWeights: true },
      Error,
      'forward option averageWeights needs returnWeights: true (it says how the returned weights are shaped)',
    ],
    [{ kvHeads: 2 }, Error, /^unknown forward option 'kvHeads'/],
  ];
  for (const [options, type, message] of bad) {
    assert.throws(
      () => layer.forward(x, [2, 3, 4], options),
      (e) => e.constructor === type && (message instanceof RegExp ? message.test(e.message) : e.message === message),
      `${JSON.stringify(Object.keys(options))}: expected ${message}`,
    );
  }
  // core errors for shapes it checks: kv's width, the masks' shapes
  assert.throws(() => layer.forward(x, [2, 3, 4], { kv: new Float32Array(40), kvShape: [2, 5, 4] }), Error);
  assert.throws(
    () => layer.forward(x, [2, 3, 4], { kv, kvShape: [2, 5, 3], attnMask: new Uint8Array(12), attnMaskShape: [3, 4] }),
    Error,
  );
  // read once: a getter that rewrites kv after it was copied, and one that disposes the layer
  const once = Array.from(kv);
  let reads = 0;
  const shifting = [0, 5, 3];
  Object.defineProperty(shifting, 0, { get: () => (reads++ === 0 ? 2 : 7000), enumerable: true });
  const expected = layer.forward(x, [2, 3, 4], { kv, kvShape: [2, 5, 3] }).context;
  const allowed = [
    [false, false, false, false, false],
    [false, false, false, false, false],
    [false, false, false, false, false],
  ];
  Object.defineProperty(allowed[1], 2, {
    get: () => {
      once.fill(1e30);
      return false;
    },
    enumerable: true,
  }); // read after kv's copy
  const got = layer.forward(x, [2, 3, 4], { kv: once, kvShape: shifting, attnMask: allowed }).context;
  assert.equal(reads, 1);
  assert.deepEqual(got, expected);
  assert.throws(
    () =>
      layer.forward(x, [2, 3, 4], {
        kv,
        kvShape: [2, 5, 3],
        get attnMask() {
          layer.dispose();
          return undefined;
        },
      }),
    { message: 'layer was disposed; create a new one with ak.create()' },
  );
});
