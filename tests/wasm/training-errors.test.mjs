// Bad input to the package's training surfaces (issue "Reliability" §3): forward(…, { grad: true }),
// layer.backward(gradContext), grads() and zeroGrad(); ak.optimizer(name, layer, options) and its step(grads);
// ak.createModel(options) and ak.tasks. Each row: the exact input and the Error or RangeError with its whole
// message (grad.test.mjs and train.test.mjs check the numbers; these only what is refused). Counts per interface:
// docs/reliability.md §8.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from '../../wasm/index.mjs';
import { DIST, expectError } from './helpers.mjs';

const ak = await load({ threads: false });
const S = [2, 3, 4];
const x = new Float32Array(24).map((_, i) => 0.5 + i / 50);
const layer = () => ak.create('multihead', { dIn: 4, dOut: 4, numHeads: 2, seed: 1 });
// a layer whose last forward kept what backward needs
const primed = () => {
  const l = layer();
  l.forward(x, S, { grad: true });
  return l;
};
const ones = () => new Float32Array(24).fill(1);
const nested = (v) => Array.from({ length: 2 }, () => Array.from({ length: 3 }, () => [1, v, 1, 1]));
const NO_FORWARD =
  'backward needs a forward with { grad: true } before it (none since the last backward, a forward without grad, or an optimizer step); expected layer.forward(x, shape, { grad: true }) first';
const DISPOSED = 'layer was disposed; create a new one with ak.create()';
const GRAD_CONTEXT =
  "gradContext must be a Float32Array (or nested Arrays of numbers) of the context's shape [2, 3, 4]";

test('gradients: each bad input gets one Error naming the problem and the expected value', () => {
  const rows = [
    ['backward without a forward', () => layer().backward(ones()), Error, NO_FORWARD],
    [
      'backward after a forward without grad',
      () => {
        const l = layer();
        l.forward(x, S);
        return l.backward(ones());
      },
      Error,
      NO_FORWARD,
    ],
    [
      'backward twice',
      () => {
        const l = primed();
        l.backward(ones());
        return l.backward(ones());
      },
      Error,
      NO_FORWARD,
    ],
    [
      'backward after an optimizer step (the parameters changed)',
      () => {
        const l = primed();
        const grads = l.backward(ones()).params;
        l.forward(x, S, { grad: true });
        ak.optimizer('sgd', l, { lr: 0.1 }).step(grads);
        return l.backward(ones());
      },
      Error,
      NO_FORWARD,
    ],
    [
      'gradContext one element short',
      () => primed().backward(new Float32Array(23)),
      Error,
      "gradContext has 23 elements; expected 24, the context's shape [2, 3, 4] of the forward with { grad: true }",
    ],
    [
      'gradContext nested of another shape',
      () => primed().backward([[[1, 2, 3, 4]]]),
      Error,
      "gradContext has 4 elements; expected 24, the context's shape [2, 3, 4] of the forward with { grad: true }",
    ],
    [
      'gradContext NaN',
      () => primed().backward(new Float32Array(24).fill(NaN)),
      Error,
      'grad_context contains NaN at index [0, 0, 0]; expected finite numbers',
    ],
    [
      'gradContext +Infinity',
      () => primed().backward(ones().fill(Infinity, 5, 6)),
      Error,
      'grad_context contains Inf at index [0, 1, 1]; expected finite numbers',
    ],
    [
      'gradContext nested NaN',
      () => primed().backward(nested(NaN)),
      Error,
      'grad_context contains NaN at index [0, 0, 1]; expected finite numbers',
    ],
    [
      'gradContext nested 1e39 (beyond float32)',
      () => primed().backward(nested(1e39)),
      RangeError,
      'gradContext has 1e+39 at index [0, 0, 1], which overflows float32; expected numbers of magnitude at most 3.4028234663852886e+38',
    ],
    [
      'gradContext a Float64Array',
      () => primed().backward(new Float64Array(24)),
      Error,
      `${GRAD_CONTEXT}; got a Float64Array of length 24`,
    ],
    ['gradContext undefined', () => primed().backward(), Error, `${GRAD_CONTEXT}; got undefined`],
    ['gradContext null', () => primed().backward(null), Error, `${GRAD_CONTEXT}; got null`],
    // was: "got an object (Float32Array)", which reads as the right type
    [
      'gradContext a Proxy of a Float32Array',
      () => primed().backward(new Proxy(ones(), {})),
      Error,
      `${GRAD_CONTEXT}; got an object that only looks like one (a Proxy?); pass the Float32Array itself`,
    ],
    [
      'backward of a disposed layer',
      () => {
        const l = primed();
        l.dispose();
        return l.backward(ones());
      },
      Error,
      DISPOSED,
    ],
    [
      'a gradContext getter that disposes the layer',
      () => {
        const l = primed();
        const g = [
          [
            [1, 1, 1, 1],
            [1, 1, 1, 1],
            [1, 1, 1, 1],
          ],
        ];
        Object.defineProperty(g, 1, {
          enumerable: true,
          get() {
            l.dispose();
            return g[0];
          },
        });
        return l.backward(g);
      },
      Error,
      DISPOSED,
    ],
    [
      'forward { grad: 1 }',
      () => layer().forward(x, S, { grad: 1 }),
      Error,
      'option grad must be true or false; got number 1',
    ],
    [
      "forward { grad: 'yes' }",
      () => layer().forward(x, S, { grad: 'yes' }),
      Error,
      'option grad must be true or false; got the string "yes"',
    ],
    [
      'grads() of a disposed layer',
      () => {
        const l = layer();
        l.dispose();
        return l.grads();
      },
      Error,
      DISPOSED,
    ],
    [
      'zeroGrad() of a disposed layer',
      () => {
        const l = layer();
        l.dispose();
        return l.zeroGrad();
      },
      Error,
      DISPOSED,
    ],
  ];
  for (const [row, call, type, message] of rows) expectError(call, type, message, row);
});

test('optimizers: each bad name, option, layer or step gets one Error naming it and the expected value', async () => {
  const other = await load({ threads: false, wasmBinary: readFileSync(join(DIST, 'attnkit.wasm')) });
  const withGrads = () => {
    const l = primed();
    return [l, l.backward(ones()).params];
  };
  const ADAMW_KEYS = 'lr, betas, eps, weightDecay, amsgrad, maximize';
  const rows = [
    ['unknown name', () => ak.optimizer('adam', layer()), Error, "unknown optimizer 'adam'; expected adamw or sgd"],
    [
      'a number as the name',
      () => ak.optimizer(5, layer()),
      Error,
      'unknown optimizer number 5; expected adamw or sgd',
    ],
    [
      'a String object as the name',
      () => ak.optimizer(new String('sgd'), layer(), { lr: 0.1 }),
      Error,
      'unknown optimizer an object (String); expected adamw or sgd',
    ],
    [
      'sgd without lr',
      () => ak.optimizer('sgd', layer()),
      Error,
      'SGD: lr is required (torch.optim.SGD has no default); expected a number >= 0',
    ],
    [
      'lr NaN',
      () => ak.optimizer('adamw', layer(), { lr: NaN }),
      Error,
      'optimizer option lr must be a finite number; got number NaN',
    ],
    [
      'lr a string',
      () => ak.optimizer('adamw', layer(), { lr: '0.1' }),
      Error,
      'optimizer option lr must be a finite number; got the string "0.1"',
    ],
    [
      'lr negative',
      () => ak.optimizer('adamw', layer(), { lr: -1 }),
      RangeError,
      'AdamW: lr (-1) must be a finite number >= 0',
    ],
    [
      'momentum negative',
      () => ak.optimizer('sgd', layer(), { lr: 0.1, momentum: -0.5 }),
      RangeError,
      'SGD: momentum (-0.5) must be a finite number >= 0',
    ],
    [
      'momentum Infinity',
      () => ak.optimizer('sgd', layer(), { lr: 0.1, momentum: Infinity }),
      Error,
      'optimizer option momentum must be a finite number; got number Infinity',
    ],
    [
      'dampening NaN',
      () => ak.optimizer('sgd', layer(), { lr: 0.1, dampening: NaN }),
      Error,
      'optimizer option dampening must be a finite number; got number NaN',
    ],
    [
      'nesterov without momentum',
      () => ak.optimizer('sgd', layer(), { lr: 0.1, nesterov: true }),
      RangeError,
      'SGD: nesterov needs momentum > 0 and dampening = 0 (got momentum 0, dampening 0)',
    ],
    [
      'nesterov a number',
      () => ak.optimizer('sgd', layer(), { lr: 0.1, nesterov: 1 }),
      Error,
      'optimizer option nesterov must be true or false; got number 1',
    ],
    [
      'maximize',
      () => ak.optimizer('sgd', layer(), { lr: 0.1, maximize: true }),
      Error,
      'SGD: maximize=true is not supported; expected maximize=false',
    ],
    [
      'betas [1, 0.999]',
      () => ak.optimizer('adamw', layer(), { betas: [1, 0.999] }),
      RangeError,
      'AdamW: beta1 (1) must be in [0, 1)',
    ],
    [
      'betas [0.9, -0.1]',
      () => ak.optimizer('adamw', layer(), { betas: [0.9, -0.1] }),
      RangeError,
      'AdamW: beta2 (-0.1) must be in [0, 1)',
    ],
    [
      'betas [NaN, 0.999]',
      () => ak.optimizer('adamw', layer(), { betas: [NaN, 0.999] }),
      Error,
      'optimizer option betas[0] must be a finite number; got number NaN',
    ],
    [
      'betas of length 1',
      () => ak.optimizer('adamw', layer(), { betas: [0.9] }),
      Error,
      'optimizer option betas must be an Array [beta1, beta2]; got an Array of length 1',
    ],
    [
      'betas a Float64Array',
      () => ak.optimizer('adamw', layer(), { betas: new Float64Array([0.9, 0.99]) }),
      Error,
      'optimizer option betas must be an Array [beta1, beta2]; got a Float64Array of length 2',
    ],
    [
      'beta1 as its own option',
      () => ak.optimizer('adamw', layer(), { beta1: 0.9 }),
      Error,
      `unknown adamw option 'beta1'; expected one of ${ADAMW_KEYS}`,
    ],
    [
      'weight_decay in snake case',
      () => ak.optimizer('adamw', layer(), { weight_decay: 0.1 }),
      Error,
      `unknown adamw option 'weight_decay'; expected one of ${ADAMW_KEYS}`,
    ],
    [
      'eps negative',
      () => ak.optimizer('adamw', layer(), { eps: -1e-8 }),
      RangeError,
      'AdamW: eps (-1e-08) must be a finite number >= 0',
    ],
    [
      'weightDecay negative',
      () => ak.optimizer('adamw', layer(), { weightDecay: -0.1 }),
      RangeError,
      'AdamW: weight_decay (-0.1) must be a finite number >= 0',
    ],
    [
      'weightDecay Infinity',
      () => ak.optimizer('adamw', layer(), { weightDecay: Infinity }),
      Error,
      'optimizer option weightDecay must be a finite number; got number Infinity',
    ],
    [
      'amsgrad',
      () => ak.optimizer('adamw', layer(), { amsgrad: true }),
      Error,
      'AdamW: amsgrad=true is not supported; expected amsgrad=false',
    ],
    [
      'options a Map',
      () => ak.optimizer('adamw', layer(), new Map([['lr', 0.1]])),
      Error,
      'adamw options must be a plain object; got a Map (its entries are not read as options: pass { name: value, … }, e.g. Object.fromEntries(map))',
    ],
    ['options null', () => ak.optimizer('adamw', layer(), null), Error, 'adamw options must be an object; got null'],
    [
      'an lr getter that disposes the layer',
      () => {
        const l = layer();
        return ak.optimizer('adamw', l, {
          get lr() {
            l.dispose();
            return 0.1;
          },
        });
      },
      Error,
      DISPOSED,
    ],
    [
      'a disposed layer',
      () => {
        const l = layer();
        l.dispose();
        return ak.optimizer('adamw', l);
      },
      Error,
      DISPOSED,
    ],
    [
      'a plain object as the layer',
      () => ak.optimizer('adamw', {}),
      Error,
      'layer must be a Layer made by ak.create(); got an object (Object)',
    ],
    [
      'a Model as the layer',
      () => ak.optimizer('adamw', ak.createModel({ task: 'copy-previous', batch: 2 })),
      Error,
      'layer must be a Layer made by ak.create(); got an object (Model)',
    ],
    [
      "another instance's layer",
      () => ak.optimizer('adamw', other.create('self', { dIn: 2, dOut: 2 })),
      Error,
      'layer belongs to another attnkit instance; expected a layer of this one',
    ],
    [
      "step(grads) of another layer's shapes",
      () => {
        const o = ak.optimizer('adamw', layer());
        const l = ak.create('multihead', { dIn: 3, dOut: 4, numHeads: 2 });
        l.forward(new Float32Array(18), [2, 3, 3], { grad: true });
        return o.step(l.backward(ones()).params);
      },
      Error,
      "adamw: gradient of 'W_query.weight' has shape [4, 3]; expected [4, 4] (the parameter's shape)",
    ],
    [
      'step(grads) of an unknown parameter',
      () => ak.optimizer('adamw', layer()).step({ 'W_bogus.weight': [[1]] }),
      Error,
      "adamw: gradient of unknown parameter 'W_bogus.weight'; expected one of W_query.weight, W_key.weight, W_value.weight, out_proj.weight, out_proj.bias",
    ],
    [
      'step(grads) with NaN',
      () =>
        ak
          .optimizer('adamw', layer())
          .step({ 'W_query.weight': { shape: [4, 4], data: new Float32Array(16).fill(NaN) } }),
      Error,
      "adamw: gradient of 'W_query.weight' contains NaN at index [0, 0]; expected finite numbers",
    ],
    [
      'step(grads) a Map with a Symbol key',
      () => ak.optimizer('adamw', layer()).step(new Map([[Symbol('W'), [1]]])),
      Error,
      "grads has a key that is not a string: symbol Symbol(W); expected parameter names such as 'W_query.weight'",
    ],
    [
      'step(grads) a Float32Array',
      () => ak.optimizer('adamw', layer()).step(new Float32Array(4)),
      Error,
      'grads must be an object mapping parameter names to tensors; got a Float32Array of length 4',
    ],
    [
      'step() with nothing accumulated',
      () => ak.optimizer('adamw', layer()).step(),
      Error,
      'step() has no gradients: none were given and the layer has none accumulated (zeroGrad() since the last backward, or no backward yet); expected layer.backward(gradContext) first, or step(grads)',
    ],
    [
      'step() after the layer was disposed',
      () => {
        const [l] = withGrads();
        const o = ak.optimizer('adamw', l);
        l.dispose();
        return o.step();
      },
      Error,
      DISPOSED,
    ],
    [
      'step() of a disposed optimizer',
      () => {
        const [l] = withGrads();
        const o = ak.optimizer('adamw', l);
        o.dispose();
        return o.step();
      },
      Error,
      'optimizer was disposed; make a new one with ak.optimizer()',
    ],
    [
      'a grads getter that disposes the layer',
      () => {
        const l = layer();
        return ak.optimizer('adamw', l).step({
          get 'out_proj.bias'() {
            l.dispose();
            return [0, 0, 0, 0];
          },
        });
      },
      Error,
      DISPOSED,
    ],
  ];
  for (const [row, call, type, message] of rows) expectError(call, type, message, row);
  other.terminate();
});

// was: the parameters became ±Inf, and the error came from loading them back, naming a "state_dict key" the
// caller never gave; now the step is refused whole and the layer keeps working
test('an optimizer step that would leave float32 is refused, the layer and optimizer as they were', () => {
  const l = primed();
  const before = l.stateDict();
  const o = ak.optimizer('sgd', l, { lr: 1e38 });
  l.backward(new Float32Array(24).fill(1e3));
  expectError(
    () => o.step(),
    RangeError,
    "sgd: this step would make parameter 'W_value.weight' non-finite (Inf at index [0, 0]) with lr 1e+38; expected a step that keeps every parameter a finite float32 (a smaller lr); nothing was updated",
  );
  assert.equal(o.steps, 0);
  assert.deepEqual(l.stateDict(), before);
  const context = l.forward(x, S).context;
  assert.ok(context.every(Number.isFinite));
  l.dispose();
});

test('createModel and ak.tasks: each bad option gets one Error naming it and the expected value', () => {
  const TASKS = 'copy-previous, reverse, sort, induction';
  const model = (o) => () => ak.createModel({ task: 'copy-previous', ...o });
  const rows = [
    [
      'no options',
      () => ak.createModel(),
      Error,
      `createModel options are required: { task } with task one of ${TASKS}`,
    ],
    [
      'an unknown task',
      () => ak.createModel({ task: 'sorting' }),
      Error,
      "unknown task 'sorting'; expected copy-previous, reverse, sort or induction",
    ],
    [
      'task a number',
      () => ak.createModel({ task: 1 }),
      Error,
      `createModel option task must be one of ${TASKS}; got number 1`,
    ],
    [
      'an unknown option',
      model({ steps: 3 }),
      Error,
      "unknown createModel option 'steps'; expected one of task, tokens, vocab, dModel, heads, causal, batch, evalBatch, seed, optimizer, lr",
    ],
    // was: 0 silently meant the task's default (the CLI refuses --tokens 0)
    [
      'tokens 0',
      model({ tokens: 0 }),
      RangeError,
      "tokens (0) must be at least 2; leave tokens out for the task's default",
    ],
    [
      'vocab 0',
      model({ vocab: 0 }),
      RangeError,
      "vocab (0) must be at least 2; leave vocab out for the task's default",
    ],
    ['tokens 1', model({ tokens: 1 }), RangeError, 'tokens (1) must be at least 2'],
    ['tokens -1', model({ tokens: -1 }), RangeError, 'option tokens (-1) must not be negative'],
    ['tokens 2.5', model({ tokens: 2.5 }), Error, 'option tokens must be an integer; got number 2.5'],
    // was: created, then the first trainStep (or the evaluation set) allocated for seconds before a tensor-size error
    [
      'tokens 2^31',
      model({ tokens: 2 ** 31 }),
      RangeError,
      "tokens (2147483648) must be at most 1024 (the tiny model's limit)",
    ],
    [
      'vocab 2^30',
      model({ vocab: 2 ** 30 }),
      RangeError,
      "vocab (1073741824) must be at most 65536 (the tiny model's limit)",
    ],
    [
      'dModel 2^20',
      model({ dModel: 2 ** 20 }),
      RangeError,
      "d_model (1048576) must be at most 4096 (the tiny model's limit)",
    ],
    [
      'batch 2^31',
      model({ batch: 2 ** 31 }),
      RangeError,
      "batch (2147483648) must be at most 4096 (the tiny model's limit)",
    ],
    [
      'evalBatch 2^24',
      model({ evalBatch: 2 ** 24 }),
      RangeError,
      "eval_batch (16777216) must be at most 4096 (the tiny model's limit)",
    ],
    ['dModel 0', model({ dModel: 0 }), RangeError, 'd_model (0) must be at least 1'],
    ['heads 0', model({ heads: 0 }), RangeError, 'heads (0) must be at least 1'],
    [
      'heads not dividing dModel',
      model({ dModel: 16, heads: 3 }),
      RangeError,
      'd_model (16) must be divisible by heads (3)',
    ],
    ['batch 0', model({ batch: 0 }), RangeError, 'batch (0) must be at least 1'],
    ['evalBatch 0', model({ evalBatch: 0 }), RangeError, 'eval_batch (0) must be at least 1'],
    [
      'seed -1',
      model({ seed: -1 }),
      RangeError,
      'option seed (-1) must be in [0, 9007199254740991]; pass a BigInt for larger seeds',
    ],
    [
      'seed NaN',
      model({ seed: NaN }),
      Error,
      'option seed must be a non-negative integer (number or BigInt); got number NaN',
    ],
    [
      "optimizer 'adam'",
      model({ optimizer: 'adam' }),
      Error,
      "createModel option optimizer must be 'adamw' or 'sgd'; got the string \"adam\"",
    ],
    ['lr NaN', model({ lr: NaN }), Error, 'createModel option lr must be a finite number >= 0; got number NaN'],
    [
      'lr Infinity',
      model({ lr: Infinity }),
      Error,
      'createModel option lr must be a finite number >= 0; got number Infinity',
    ],
    ['lr -1', model({ lr: -1 }), RangeError, 'AdamW: lr (-1) must be a finite number >= 0'],
    ["causal 'yes'", model({ causal: 'yes' }), Error, 'option causal must be true or false; got the string "yes"'],
    [
      'options a Map',
      () => ak.createModel(new Map([['task', 'copy-previous']])),
      Error,
      'createModel options must be a plain object; got a Map (its entries are not read as options: pass { name: value, … }, e.g. Object.fromEntries(map))',
    ],
    [
      'trainStep of a disposed model',
      () => {
        const m = ak.createModel({ task: 'copy-previous', batch: 2 });
        m.dispose();
        return m.trainStep();
      },
      Error,
      'model was disposed; create a new one with ak.createModel()',
    ],
    // was: the first step's ±Inf parameters were refused on loading, as "state_dict key 'token_embedding.weight'"
    [
      'trainStep with lr 1e300',
      () => ak.createModel({ task: 'copy-previous', batch: 2, optimizer: 'sgd', lr: 1e300 }).trainStep(),
      RangeError,
      "sgd: this step would make parameter 'token_embedding.weight' non-finite (-Inf at index [0, 0]) with lr 1e+300; expected a step that keeps every parameter a finite float32 (a smaller lr); nothing was updated",
    ],
    // was: ak.tasks = [] replaced the list createModel names in its messages
    [
      'ak.tasks reassigned',
      () => {
        ak.tasks = [];
      },
      TypeError,
      "Cannot assign to read only property 'tasks' of object '#<Attnkit>'",
    ],
    [
      'ak.tasks[0] changed',
      () => {
        ak.tasks[0].name = 'x';
      },
      TypeError,
      "Cannot assign to read only property 'name' of object '#<Object>'",
    ],
  ];
  for (const [row, call, type, message] of rows) expectError(call, type, message, row);
  assert.equal(ak.tasks.length, 4);
  // a getter is read once: the task the first read gave
  let reads = 0;
  const m = ak.createModel({
    get task() {
      reads += 1;
      return reads === 1 ? 'copy-previous' : 'nope';
    },
    batch: 2,
  });
  assert.equal(m.config.task, 'copy-previous');
  assert.equal(reads, 1);
  m.dispose();
});
