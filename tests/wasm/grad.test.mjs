// Gradients from JS (issue "Training" §1): layer.forward(x, shape, { grad: true }) then layer.backward(gradContext)
// → { input, kv?, params }, against PyTorch's golden files (tests/golden/torch/grad_*.json: the book's classes and
// nn.MultiheadAttention, loss = Σ context ⊙ grad_output, float64 or, with dropout, float32); the gradients accumulate
// in the layer until zeroGrad(), as torch accumulates param.grad; bad input gets a clear Error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { load } from '../../wasm/index.mjs';
import { f32, flat, golden } from './helpers.mjs';
import { relError } from './attention-reference.mjs';

const ak = await load({ threads: false });

// max |actual − expected| over the tensor's largest |expected|, or `floor` when larger: gradients mix magnitudes (a
// bias gradient that is 0 in exact arithmetic comes out as 1e-17 in torch and 1e-8 here), so each is compared at its
// scale, and one that is all but zero at 1 % of the layer's largest gradient
function scaledError(actual, expected, floor = 0) {
  assert.equal(actual.length, expected.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return diff / Math.max(scale, floor, 1e-30);
}

const largest = (grads) => Math.max(...Object.values(grads).map((v) => Math.max(...flat(v).map(Math.abs))));

const CLASSES = {
  SelfAttention_v1: 'self-v1',
  SelfAttention_v2: 'self',
  CausalAttention: 'causal',
  MultiHeadAttentionWrapper: 'multihead-wrapper',
  MultiHeadAttention: 'multihead',
};

// "MultiHeadAttention(d_in=4, d_out=6, context_length=5, dropout=0.0, num_heads=3, qkv_bias=True)" → create() options
function createOptions(g) {
  const [, cls, args] = /^(\w+)\((.*)\)$/.exec(g.construction);
  const kw = Object.fromEntries([...args.matchAll(/(\w+)=([\w.]+)/g)].map(([, k, v]) => [k, v]));
  const o = { seed: g.seed, dIn: Number(kw.d_in), dOut: Number(kw.d_out) };
  if (kw.num_heads) o.numHeads = Number(kw.num_heads);
  if (kw.context_length) o.contextLength = Number(kw.context_length);
  if (kw.dropout) o.dropout = Number(kw.dropout);
  if (kw.qkv_bias === 'True') o.qkvBias = true;
  return { mechanism: CLASSES[cls], options: o };
}

const BOOK = [
  'self_attention_v1',
  'self_attention_v2',
  'causal_attention',
  'causal_attention_dropout_train',
  'multihead_wrapper',
  'multihead_attention',
  'multihead_attention_dropout_train',
];

for (const name of BOOK) {
  test(`PyTorch golden grad_${name}: backward gives torch's input and parameter gradients`, () => {
    const g = golden(`torch/grad_${name}.json`);
    const { mechanism, options } = createOptions(g);
    // drawn from the seed as torch draws them (and dropout's mask after them, in training mode)
    const layer = ak.create(mechanism, options);
    const sd = layer.stateDict();
    for (const [key, value] of Object.entries(g.state_dict)) {
      if (key.endsWith('mask')) continue;
      assert.ok(relError(sd[key].data, flat(value), 1e-3) <= 1e-6, `parameter ${key} as torch drew it`);
    }
    const out = layer.forward(f32(g.inputs.x), g.shapes['inputs.x'], { grad: true, train: g.call.train });
    assert.ok(relError(out.context, flat(g.outputs.context), 1e-2) <= 1e-5, 'context');
    const r = layer.backward(f32(g.inputs.grad_output));
    assert.deepEqual(r.input.shape, g.shapes['outputs.grad_input']);
    const err = relError(r.input.data, flat(g.outputs.grad_input), 1e-2);
    assert.ok(err <= 1e-5, `grad_input: ${err}`);
    assert.deepEqual(Object.keys(r.params), Object.keys(g.outputs.grads), 'every parameter, in state_dict order');
    const floor = largest(g.outputs.grads) / 100;
    for (const [key, want] of Object.entries(g.outputs.grads)) {
      assert.deepEqual(r.params[key].shape, g.shapes[`outputs.grads.${key}`], key);
      const e = scaledError(r.params[key].data, flat(want), floor);
      assert.ok(e <= 1e-5, `${key}: ${e}`);
    }
    assert.equal(r.kv, undefined, 'no kv input, no kv gradient');
    layer.dispose();
  });
}

test("PyTorch golden grad_torch_mha: nn.MultiheadAttention's gradients, loaded with weightsFormat 'torch-mha'", () => {
  const g = golden('torch/grad_torch_mha.json');
  const layer = ak.create('multihead', { numHeads: 2, causal: false, stateDict: g.state_dict });
  const shape = g.shapes['inputs.x'];
  layer.forward(f32(g.inputs.x), shape, { grad: true });
  const r = layer.backward(f32(g.inputs.grad_output));
  assert.ok(
    relError(r.input.data, flat(g.outputs.grad_input), 1e-2) <= 1e-5,
    'grad_input (query, key and value paths)',
  );
  // in_proj_weight's gradient is W_query's, W_key's and W_value's stacked (core/include/attnkit/weight_formats.hpp)
  const p = r.params;
  const stacked = (kind) => [...p[`W_query.${kind}`].data, ...p[`W_key.${kind}`].data, ...p[`W_value.${kind}`].data];
  const floor = largest(g.outputs.grads) / 100;
  assert.ok(scaledError(stacked('weight'), flat(g.outputs.grads.in_proj_weight), floor) <= 1e-5, 'in_proj_weight');
  assert.ok(scaledError(stacked('bias'), flat(g.outputs.grads.in_proj_bias), floor) <= 1e-5, 'in_proj_bias');
  for (const key of ['out_proj.weight', 'out_proj.bias'])
    assert.ok(scaledError(p[key].data, flat(g.outputs.grads[key]), floor) <= 1e-5, key);
  layer.dispose();
});

test('cross-attention: backward returns the kv gradient, checked against central differences in float64', () => {
  const layer = ak.create('multihead', { dIn: 4, dOut: 4, numHeads: 2, kDim: 3, vDim: 3, causal: false, seed: 5 });
  const x = new Float32Array(2 * 4).map((_, i) => Math.sin(i + 1));
  const kv = new Float32Array(3 * 3).map((_, i) => Math.cos(i * 0.7));
  const gc = new Float32Array(2 * 4).map((_, i) => ((i * 37) % 11) / 11 - 0.5);
  const loss = (kvv) => {
    const c = layer.forward(x, [2, 4], { kv: kvv, kvShape: [3, 3] }).context;
    let s = 0;
    for (let i = 0; i < c.length; i++) s += c[i] * gc[i];
    return s;
  };
  layer.forward(x, [2, 4], { kv, kvShape: [3, 3], grad: true });
  const r = layer.backward(gc);
  assert.deepEqual(r.kv.shape, [3, 3]);
  for (let i = 0; i < kv.length; i++) {
    const h = 1e-2;
    const up = kv.slice();
    const down = kv.slice();
    up[i] += h;
    down[i] -= h;
    const numeric = (loss(up) - loss(down)) / (2 * h);
    assert.ok(
      Math.abs(r.kv.data[i] - numeric) <= 2e-3 * Math.max(1, Math.abs(numeric)),
      `kv[${i}]: ${r.kv.data[i]} vs ${numeric}`,
    );
  }
  layer.dispose();
});

test('gradients accumulate in the layer until zeroGrad(), as torch accumulates param.grad', () => {
  const g = golden('torch/grad_multihead_attention.json');
  const { mechanism, options } = createOptions(g);
  const layer = ak.create(mechanism, options);
  assert.deepEqual(layer.grads(), {}, 'none before a backward');
  const x = f32(g.inputs.x);
  const gc = f32(g.inputs.grad_output);
  for (let i = 0; i < 3; i++) {
    layer.forward(x, g.shapes['inputs.x'], { grad: true });
    layer.backward(gc);
  }
  const sum = layer.grads();
  for (const [key, want] of Object.entries(g.outputs.grads)) {
    const e = relError(
      sum[key].data,
      flat(want).map((v) => 3 * v),
      1e-2,
    );
    assert.ok(e <= 3e-5, `3 backward passes add up (3 float32 sums): ${key} ${e}`);
  }
  layer.zeroGrad();
  assert.deepEqual(layer.grads(), {});
  layer.dispose();
});

// [what, () => call, error name, message]
const BAD = [
  [
    'backward without a forward with grad',
    (l) => l.backward(new Float32Array(8)),
    'Error',
    'backward needs a forward with { grad: true } before it (none since the last backward, a forward without grad, or an optimizer step); expected layer.forward(x, shape, { grad: true }) first',
  ],
  [
    'backward after a forward without grad',
    (l) => {
      l.forward(new Float32Array(8), [2, 4], { grad: true });
      l.forward(new Float32Array(8), [2, 4]);
      return l.backward(new Float32Array(8));
    },
    'Error',
    'backward needs a forward with { grad: true } before it (none since the last backward, a forward without grad, or an optimizer step); expected layer.forward(x, shape, { grad: true }) first',
  ],
  [
    'backward twice for one forward',
    (l) => {
      l.forward(new Float32Array(8), [2, 4], { grad: true });
      l.backward(new Float32Array(8));
      return l.backward(new Float32Array(8));
    },
    'Error',
    'backward needs a forward with { grad: true } before it (none since the last backward, a forward without grad, or an optimizer step); expected layer.forward(x, shape, { grad: true }) first',
  ],
  [
    'gradContext of the wrong length',
    (l) => {
      l.forward(new Float32Array(8), [2, 4], { grad: true });
      return l.backward(new Float32Array(7));
    },
    'Error',
    "gradContext has 7 elements; expected 8, the context's shape [2, 4] of the forward with { grad: true }",
  ],
  [
    'gradContext not a Float32Array',
    (l) => {
      l.forward(new Float32Array(8), [2, 4], { grad: true });
      return l.backward(new Float64Array(8));
    },
    'Error',
    "gradContext must be a Float32Array (or nested Arrays of numbers) of the context's shape [2, 4]; got a Float64Array of length 8",
  ],
  [
    'NaN in gradContext',
    (l) => {
      l.forward(new Float32Array(8), [2, 4], { grad: true });
      return l.backward(new Float32Array(8).fill(NaN));
    },
    'Error',
    null,
  ],
  [
    'grad not a boolean',
    (l) => l.forward(new Float32Array(8), [2, 4], { grad: 1 }),
    'Error',
    'option grad must be true or false; got number 1',
  ],
];

for (const [what, call, name, message] of BAD) {
  test(`bad input: ${what}`, () => {
    const layer = ak.create('multihead', { dIn: 4, dOut: 4, numHeads: 2, seed: 1 });
    assert.throws(
      () => call(layer),
      (e) => {
        assert.equal(e.constructor.name, name, `${e.name}: ${e.message}`);
        if (message !== null) assert.equal(e.message, message);
        else assert.match(e.message, /grad_context.*NaN|NaN.*grad_context|not finite/i, e.message);
        return true;
      },
    );
    // the layer still works afterwards
    layer.forward(new Float32Array(8), [2, 4], { grad: true });
    assert.equal(layer.backward(new Float32Array(8)).input.data.length, 8);
    layer.dispose();
  });
}

test('hostile: a gradContext whose element getter disposes the layer, or runs another forward', () => {
  const layer = ak.create('multihead', { dIn: 4, dOut: 4, numHeads: 2, seed: 1 });
  layer.forward(new Float32Array(8), [2, 4], { grad: true });
  const disposing = [
    [0, 0, 0, 0],
    [0, 0, 0, 0],
  ];
  Object.defineProperty(disposing[1], 2, {
    get() {
      layer.dispose();
      return 0;
    },
  });
  assert.throws(() => layer.backward(disposing), {
    name: 'Error',
    message: 'layer was disposed; create a new one with ak.create()',
  });
  const other = ak.create('multihead', { dIn: 4, dOut: 4, numHeads: 2, seed: 1 });
  other.forward(new Float32Array(8), [2, 4], { grad: true });
  const again = [
    [0, 0, 0, 0],
    [0, 0, 0, 0],
  ];
  Object.defineProperty(again[0], 1, {
    get() {
      other.forward(new Float32Array(8), [2, 4], { grad: true });
      return 0;
    },
  });
  assert.throws(() => other.backward(again), {
    name: 'Error',
    message: 'backward: another forward ran while gradContext was read; expected no forward from inside its getters',
  });
  other.dispose();
  // a Proxy of a Float32Array is refused, not read
  const third = ak.create('multihead', { dIn: 4, dOut: 4, numHeads: 2, seed: 1 });
  third.forward(new Float32Array(8), [2, 4], { grad: true });
  assert.throws(() => third.backward(new Proxy(new Float32Array(8), {})), /gradContext must be a Float32Array/);
  third.dispose();
});
