// attnkit — ak.createModel({ task, … }): the tiny trainable model of core/include/attnkit/model.hpp (token and
// position embeddings, one multihead layer, a residual, a linear read-out, mean cross-entropy) on a built-in toy task,
// with its optimizer. Training runs in the core, one trainStep() at a time, so a page can draw between steps (or run
// it in a Web Worker). ak.tasks lists the tasks with their documented goals.
import { boolOption, checkKeys, checkOptionsObject, describe, seedOption, sizeOption } from './values.mjs';
import { check } from './heap.mjs';
import { entriesToRecord, registry } from './layer.mjs';

const MODEL_KEYS = Object.freeze([
  'task',
  'tokens',
  'vocab',
  'dModel',
  'heads',
  'causal',
  'batch',
  'evalBatch',
  'seed',
  'optimizer',
  'lr',
]);

// ak.tasks: the core's table, frozen ([{ name, what, causal, tokens, vocab, goalAccuracy, goalSteps }])
export function tasksOf(m) {
  return Object.freeze(
    Array.from(m.taskSpecs(), (t) =>
      Object.freeze({
        name: t.name,
        what: t.what,
        causal: t.causal,
        tokens: t.tokens,
        vocab: t.vocab,
        goalAccuracy: t.goal_accuracy,
        goalSteps: t.goal_steps,
      }),
    ),
  );
}

// → the snake_case fields model.cpp reads; the task's name and its range checks are the core's
export function normaliseModelOptions(options, taskNames) {
  const o = checkOptionsObject(options, 'createModel options');
  if (o === undefined)
    throw new Error(`createModel options are required: { task } with task one of ${taskNames.join(', ')}`);
  checkKeys(o, MODEL_KEYS, 'createModel option');
  const { task, tokens, vocab, dModel, heads, causal, batch, evalBatch, seed, optimizer, lr } = o;
  if (typeof task !== 'string') {
    throw new Error(`createModel option task must be one of ${taskNames.join(', ')}; got ${describe(task)}`);
  }
  const native = { task };
  const set = (name, value) => {
    if (value !== undefined) native[name] = value;
  };
  // the core reads 0 as "the task's default"; a caller's 0 is a mistake, as on the CLI (--tokens 0)
  for (const [name, value] of [
    ['tokens', tokens],
    ['vocab', vocab],
  ]) {
    if (value === 0) throw new RangeError(`${name} (0) must be at least 2; leave ${name} out for the task's default`);
  }
  set('tokens', sizeOption(tokens, 'tokens'));
  set('vocab', sizeOption(vocab, 'vocab'));
  set('d_model', sizeOption(dModel, 'dModel'));
  set('heads', sizeOption(heads, 'heads'));
  set('batch', sizeOption(batch, 'batch'));
  set('eval_batch', sizeOption(evalBatch, 'evalBatch'));
  set('causal', boolOption(causal, 'causal'));
  const seedWords = seedOption(seed);
  if (seedWords !== undefined) [native.seed_lo, native.seed_hi] = seedWords;
  if (optimizer !== undefined && optimizer !== 'adamw' && optimizer !== 'sgd') {
    throw new Error(`createModel option optimizer must be 'adamw' or 'sgd'; got ${describe(optimizer)}`);
  }
  set('optimizer', optimizer);
  if (lr !== undefined && (typeof lr !== 'number' || !Number.isFinite(lr))) {
    throw new Error(`createModel option lr must be a finite number >= 0; got ${describe(lr)}`);
  }
  set('lr', lr);
  return native;
}

export class Model {
  #raw;
  #runtime;
  #info;

  constructor(runtime, raw, info) {
    this.#runtime = runtime;
    this.#raw = raw;
    this.#info = Object.freeze({
      task: info.task,
      tokens: info.tokens,
      vocab: info.vocab,
      dModel: info.d_model,
      heads: info.heads,
      causal: info.causal,
      batch: info.batch,
      evalBatch: info.eval_batch,
      optimizer: info.optimizer,
      lr: info.lr,
    });
    runtime.live.add(raw);
    if (registry) registry.register(this, { raw, live: runtime.live }, this);
  }

  #alive() {
    if (this.#raw !== null && !this.#runtime.live.has(this.#raw)) {
      throw new Error('model was disposed by ak.terminate(); load a new instance with load() and create a new model');
    }
    if (this.#raw === null) throw new Error('model was disposed; create a new one with ak.createModel()');
    return this.#raw;
  }

  // { task, tokens, vocab, dModel, heads, causal, batch, evalBatch, optimizer, lr }, the defaults resolved
  get config() {
    return this.#info;
  }
  get steps() {
    return this.#alive().info().steps;
  }
  get disposed() {
    return this.#raw === null || !this.#runtime.live.has(this.#raw);
  }

  // One optimizer step on the next training batch → { loss, accuracy } on that batch, before the update.
  trainStep() {
    return check(this.#runtime.heap, this.#alive().trainStep());
  }

  // { loss, accuracy } on the evaluation set (evalBatch sequences drawn from seed + 2).
  evaluate() {
    return check(this.#runtime.heap, this.#alive().evaluate());
  }

  // Each head's attention on the probe (the evaluation set's first sequence): { data, shape: [heads, tokens, tokens],
  // inputs, targets, expectedKey }: expectedKey[i] is the position that holds token i's target (what a head that
  // solves the task attends to), −1 where not scored.
  weights() {
    const r = check(this.#runtime.heap, this.#alive().probeWeights());
    return {
      data: r.weights.data,
      shape: r.weights.shape,
      inputs: r.inputs,
      targets: r.targets,
      expectedKey: r.expected_key,
    };
  }

  // The parameters: token_embedding.weight, position_embedding.weight, attention.* (the book's MultiHeadAttention),
  // readout.weight, readout.bias.
  stateDict() {
    return entriesToRecord(check(this.#runtime.heap, this.#alive().stateDict()));
  }

  dispose() {
    const raw = this.#raw;
    if (raw === null) return;
    this.#raw = null;
    if (registry) registry.unregister(this);
    if (!this.#runtime.live.delete(raw)) return;
    raw.release();
    raw.delete();
  }

  [Symbol.dispose]() {
    this.dispose();
  }
}
