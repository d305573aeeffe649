// Training from JS (issue "Training" §2): ak.optimizer('adamw' | 'sgd', layer, options) against torch.optim's own
// 50-step runs (tests/golden/torch/train_*.json), and ak.createModel({ task }) reaching each task's documented goal
// with the loss curve of the native CLI (`attnkit train`, build/native/attnkit); bad input gets a clear Error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { load } from '../../wasm/index.mjs';
import { CLI, ensureNative, f32, flat, golden } from './helpers.mjs';

const ak = await load({ threads: false });

const TRAIN = ['adamw_defaults', 'adamw_custom', 'sgd_plain', 'sgd_momentum_dampening', 'sgd_nesterov'];

// torch.optim's keyword arguments → ak.optimizer's options
function optimizerOptions(options) {
  const o = {};
  for (const [k, v] of Object.entries(options)) o[k === 'weight_decay' ? 'weightDecay' : k] = v;
  return o;
}

for (const name of TRAIN) {
  test(`PyTorch golden train_${name}: 50 optimizer steps give torch's losses and parameters`, () => {
    const g = golden(`torch/train_${name}.json`);
    const m = g.call.module;
    const layer = ak.create('multihead', {
      dIn: m.d_in,
      dOut: m.d_out,
      contextLength: m.context_length,
      numHeads: m.num_heads,
      seed: g.seed,
    });
    const opt = ak.optimizer(g.call.optimizer.toLowerCase(), layer, optimizerOptions(g.call.options));
    const x = f32(g.inputs.x);
    const shape = g.shapes['inputs.x'];
    const target = flat(g.inputs.target);
    const losses = [];
    // torch's loop: zero_grad(); loss = mean((model(x) − target)²); loss.backward(); step()
    const lossAndGrad = (grad) => {
      const { context } = layer.forward(x, shape, { grad });
      const gradContext = new Float32Array(context.length);
      let loss = 0;
      for (let i = 0; i < context.length; i++) {
        const d = context[i] - target[i];
        loss += d * d;
        gradContext[i] = (2 * d) / context.length;
      }
      return { loss: loss / context.length, gradContext };
    };
    for (let step = 0; step < g.call.steps; step++) {
      opt.zeroGrad();
      const { loss, gradContext } = lossAndGrad(true);
      losses.push(loss);
      layer.backward(gradContext);
      opt.step();
    }
    losses.push(lossAndGrad(false).loss);
    assert.equal(opt.steps, g.call.steps);
    const want = flat(g.outputs.losses);
    for (let i = 0; i < want.length; i++) {
      const e = Math.abs(losses[i] - want[i]) / Math.abs(want[i]);
      assert.ok(e <= 1e-5, `loss before step ${i}: ${losses[i]} vs torch ${want[i]} (${e})`);
    }
    const sd = layer.stateDict();
    for (const [key, value] of Object.entries(g.outputs.state_dict_final)) {
      if (key === 'mask') continue;
      const w = flat(value);
      const scale = Math.max(...w.map(Math.abs));
      const diff = Math.max(...w.map((v, i) => Math.abs(sd[key].data[i] - v)));
      assert.ok(diff / scale <= 1e-5, `${key} after 50 steps: ${diff / scale}`);
    }
    opt.dispose();
    layer.dispose();
  });
}

test("step(grads) uses the given gradients (backward's result or a { name: tensor } record), not the accumulated ones", () => {
  const make = () => ak.create('multihead', { dIn: 3, dOut: 4, numHeads: 2, seed: 7 });
  const x = new Float32Array(2 * 3 * 3).map((_, i) => Math.sin(i));
  const [a, b, c] = [make(), make(), make()];
  const [oa, ob, oc] = [a, b, c].map((l) => ak.optimizer('sgd', l, { lr: 0.5 }));
  a.forward(x, [2, 3, 3], { grad: true });
  const r = a.backward(new Float32Array(24).fill(1));
  oa.step(r); // backward's result
  ob.step(r.params); // the params record
  // no gradient for some parameters: they are skipped, as torch skips p.grad = None
  oc.step({ 'out_proj.bias': r.params['out_proj.bias'] });
  const [sa, sb, sc, s0] = [a, b, c, make()].map((l) => l.stateDict());
  assert.deepEqual(Array.from(sa['W_query.weight'].data), Array.from(sb['W_query.weight'].data));
  assert.deepEqual(Array.from(sc['W_query.weight'].data), Array.from(s0['W_query.weight'].data), 'skipped');
  // p − lr·g, in float32
  const want = Array.from(s0['out_proj.bias'].data, (p, i) =>
    Math.fround(p - Math.fround(0.5 * r.params['out_proj.bias'].data[i])),
  );
  assert.deepEqual(Array.from(sc['out_proj.bias'].data), want);
  for (const o of [oa, ob, oc]) o.dispose();
  for (const l of [a, b, c]) l.dispose();
});

test("ak.tasks: the core's tasks with their documented goals, frozen", () => {
  assert.ok(Object.isFrozen(ak.tasks));
  assert.deepEqual(
    ak.tasks.map((t) => t.name),
    ['copy-previous', 'reverse', 'sort', 'induction'],
  );
  for (const t of ak.tasks) {
    assert.ok(Object.isFrozen(t));
    assert.ok(t.goalAccuracy > 0.9 && t.goalSteps > 0 && t.what.length > 10, t.name);
  }
});

ensureNative();

for (const task of ak.tasks) {
  test(`createModel({ task: '${task.name}' }): the native CLI's loss curve, then the task's goal (${100 * task.goalAccuracy} % in ${task.goalSteps} steps)`, () => {
    const model = ak.createModel({ task: task.name });
    assert.equal(model.config.tokens, task.tokens);
    const first = model.trainStep();
    let last = first;
    for (let step = 1; step < 50; step++) last = model.trainStep();
    // `attnkit train` prints %.6g: compare at that precision plus 1e-5
    const native = JSON.parse(
      execFileSync(CLI, ['train', '--task', task.name, '--steps', '50', '--format', 'json'], { encoding: 'utf8' }),
    );
    for (const [js, cli, what] of [
      [first.loss, native.loss_first, 'loss of step 1'],
      [last.loss, native.loss_last, 'loss of step 50'],
    ]) {
      const e = Math.abs(js - cli) / Math.abs(cli);
      assert.ok(e <= 1e-5 + 5e-6, `${what}: JS ${js}, native ${cli} (${e})`);
    }
    for (let step = 50; step < task.goalSteps; step++) model.trainStep();
    assert.equal(model.steps, task.goalSteps);
    const { accuracy } = model.evaluate();
    assert.ok(accuracy >= task.goalAccuracy, `${task.name}: accuracy ${accuracy} after ${task.goalSteps} steps`);
    const w = model.weights();
    assert.deepEqual(w.shape, [model.config.heads, task.tokens, task.tokens]);
    assert.equal(w.data.length, model.config.heads * task.tokens * task.tokens);
    assert.equal(w.expectedKey.length, task.tokens);
    model.dispose();
  });
}

test('copy-previous: a trained head puts most of its weight on the previous token of the probe', () => {
  const model = ak.createModel({ task: 'copy-previous' });
  for (let step = 0; step < 300; step++) model.trainStep();
  const { data, shape, expectedKey } = model.weights();
  const [heads, n] = shape;
  let best = 0;
  for (let h = 0; h < heads; h++) {
    let sum = 0;
    let count = 0;
    for (let i = 0; i < n; i++) {
      if (expectedKey[i] < 0) continue;
      sum += data[(h * n + i) * n + expectedKey[i]];
      count++;
    }
    best = Math.max(best, sum / count);
  }
  assert.ok(best >= 0.9, `the best head's mean weight on the expected key: ${best}`);
  model.dispose();
});

// [what, () => call, error name, message]
const layer = ak.create('multihead', { dIn: 4, dOut: 4, numHeads: 2, seed: 1 });
const BAD = [
  ['unknown optimizer', () => ak.optimizer('adam', layer), 'Error', "unknown optimizer 'adam'; expected adamw or sgd"],
  [
    'optimizer name not a string',
    () => ak.optimizer(1, layer),
    'Error',
    'unknown optimizer number 1; expected adamw or sgd',
  ],
  [
    'unknown optimizer option',
    () => ak.optimizer('adamw', layer, { beta1: 0.8 }),
    'Error',
    "unknown adamw option 'beta1'; expected one of lr, betas, eps, weightDecay, amsgrad, maximize",
  ],
  [
    'SGD without lr',
    () => ak.optimizer('sgd', layer, {}),
    'Error',
    'SGD: lr is required (torch.optim.SGD has no default); expected a number >= 0',
  ],
  [
    'lr NaN',
    () => ak.optimizer('adamw', layer, { lr: NaN }),
    'Error',
    'optimizer option lr must be a finite number; got number NaN',
  ],
  [
    'amsgrad',
    () => ak.optimizer('adamw', layer, { amsgrad: true }),
    'Error',
    'AdamW: amsgrad=true is not supported; expected amsgrad=false',
  ],
  [
    'nesterov without momentum',
    () => ak.optimizer('sgd', layer, { lr: 0.1, nesterov: true }),
    'RangeError',
    'SGD: nesterov needs momentum > 0 and dampening = 0 (got momentum 0, dampening 0)',
  ],
  [
    'betas not a pair',
    () => ak.optimizer('adamw', layer, { betas: [0.9] }),
    'Error',
    'optimizer option betas must be an Array [beta1, beta2]; got an Array of length 1',
  ],
  [
    'layer not a Layer',
    () => ak.optimizer('sgd', {}, { lr: 1 }),
    'Error',
    'layer must be a Layer made by ak.create(); got an object (Object)',
  ],
  [
    'step() with nothing accumulated',
    () => ak.optimizer('sgd', layer, { lr: 1 }).step(),
    'Error',
    'step() has no gradients: none were given and the layer has none accumulated (zeroGrad() since the last backward, or no backward yet); expected layer.backward(gradContext) first, or step(grads)',
  ],
  [
    'step() with NaN in a gradient',
    () => ak.optimizer('sgd', layer, { lr: 1 }).step({ 'out_proj.bias': [NaN, 0, 0, 0] }),
    'Error',
    null,
  ],
  [
    'step() with an unknown gradient name',
    () => ak.optimizer('sgd', layer, { lr: 1 }).step({ 'W_bogus.weight': [[1]] }),
    'Error',
    null,
  ],
  [
    'createModel without options',
    () => ak.createModel(),
    'Error',
    'createModel options are required: { task } with task one of copy-previous, reverse, sort, induction',
  ],
  [
    'unknown task',
    () => ak.createModel({ task: 'copy' }),
    'Error',
    "unknown task 'copy'; expected copy-previous, reverse, sort or induction",
  ],
  [
    'unknown createModel option',
    () => ak.createModel({ task: 'sort', d_model: 8 }),
    'Error',
    "unknown createModel option 'd_model'; expected one of task, tokens, vocab, dModel, heads, causal, batch, evalBatch, seed, optimizer, lr",
  ],
  [
    'heads not dividing dModel',
    () => ak.createModel({ task: 'sort', dModel: 10, heads: 4 }),
    'RangeError',
    'd_model (10) must be divisible by heads (4)',
  ],
  [
    'odd tokens for induction',
    () => ak.createModel({ task: 'induction', tokens: 7 }),
    'RangeError',
    'tokens (7) must be even for the induction task',
  ],
  ['createModel options a Map', () => ak.createModel(new Map([['task', 'sort']])), 'Error', null],
];

for (const [what, call, name, message] of BAD) {
  test(`bad input: ${what}`, () => {
    assert.throws(call, (e) => {
      assert.equal(e.constructor.name, name, `${e.name}: ${e.message}`);
      if (message !== null) assert.equal(e.message, message);
      else assert.ok(e.message.length > 20 && !/undefined|\[object/.test(e.message), e.message);
      return true;
    });
  });
}

test('hostile: an optimizer option getter that disposes the layer; a disposed model or optimizer', () => {
  const l = ak.create('multihead', { dIn: 4, dOut: 4, numHeads: 2, seed: 1 });
  assert.throws(
    () =>
      ak.optimizer('sgd', l, {
        get lr() {
          l.dispose();
          return 0.1;
        },
      }),
    { name: 'Error', message: 'layer was disposed; create a new one with ak.create()' },
  );
  const l2 = ak.create('multihead', { dIn: 4, dOut: 4, numHeads: 2, seed: 1 });
  const o = ak.optimizer('sgd', l2, { lr: 0.1 });
  l2.dispose();
  assert.throws(() => o.step({}), { name: 'Error', message: 'layer was disposed; create a new one with ak.create()' });
  o.dispose();
  assert.throws(() => o.step(), {
    name: 'Error',
    message: 'optimizer was disposed; make a new one with ak.optimizer()',
  });
  const m = ak.createModel({ task: 'reverse', dModel: 8, heads: 2, batch: 2, evalBatch: 2 });
  m.dispose();
  assert.throws(() => m.trainStep(), {
    name: 'Error',
    message: 'model was disposed; create a new one with ak.createModel()',
  });
  const live = ak.memory().liveLayers;
  assert.equal(typeof live, 'number');
});
