// attnkit — ak.optimizer('adamw' | 'sgd', layer, options): torch.optim's AdamW and SGD over one layer's parameters
// (core/include/attnkit/optim.hpp: torch 1.13's formulas and defaults, step for step).
//
// Gradients accumulate as in torch: each layer.backward() adds its params into the layer's gradients until
// zeroGrad() (optimizer.zeroGrad() or layer.zeroGrad()). step() uses those, or the gradients given to it: a
// backward() result ({ params }) or a state_dict-like { name: tensor } of some or all parameters (a parameter
// without a gradient is skipped, as torch skips p.grad = None). A step loads the new parameters into the layer.
import { checkKeys, checkOptionsObject, describe } from './values.mjs';
import { normaliseStateDict } from './state-dict.mjs';
import { check } from './heap.mjs';
import { rawLayer } from './layer.mjs';

// camelCase option → the core's field (wasm/optimizer.cpp), per optimizer; betas is AdamW's pair (beta1, beta2)
const OPTIONS = Object.freeze({
  sgd: Object.freeze({
    lr: 'lr',
    momentum: 'momentum',
    dampening: 'dampening',
    weightDecay: 'weight_decay',
    nesterov: 'nesterov',
    maximize: 'maximize',
  }),
  adamw: Object.freeze({
    lr: 'lr',
    betas: null,
    eps: 'eps',
    weightDecay: 'weight_decay',
    amsgrad: 'amsgrad',
    maximize: 'maximize',
  }),
});
const BOOLEAN = new Set(['nesterov', 'maximize', 'amsgrad']);

function number(value, name) {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new Error(`optimizer option ${name} must be a finite number; got ${describe(value)}`);
  }
  return value;
}

// → the snake_case options the bindings take, each read once
export function normaliseOptimizerOptions(name, options) {
  if (typeof name !== 'string' || !(name === 'sgd' || name === 'adamw')) {
    const shown = typeof name === 'string' ? `'${name}'` : describe(name);
    throw new Error(`unknown optimizer ${shown}; expected adamw or sgd`);
  }
  const known = OPTIONS[name];
  const o = checkOptionsObject(options, `${name} options`);
  const native = {};
  if (o === undefined) return native;
  checkKeys(o, Object.keys(known), `${name} option`);
  for (const key of Object.keys(known)) {
    const value = o[key];
    if (value === undefined) continue;
    if (key === 'betas') {
      if (!Array.isArray(value) || value.length !== 2) {
        throw new Error(`optimizer option betas must be an Array [beta1, beta2]; got ${describe(value)}`);
      }
      const [beta1, beta2] = value;
      native.beta1 = number(beta1, 'betas[0]');
      native.beta2 = number(beta2, 'betas[1]');
    } else if (BOOLEAN.has(key)) {
      if (typeof value !== 'boolean')
        throw new Error(`optimizer option ${key} must be true or false; got ${describe(value)}`);
      native[known[key]] = value;
    } else {
      native[known[key]] = number(value, key);
    }
  }
  return native;
}

// step()'s grads → entries for the bindings, or undefined (the layer's accumulated gradients)
function snapshotGrads(grads) {
  if (grads === undefined) return undefined;
  if (
    grads !== null &&
    typeof grads === 'object' &&
    !Array.isArray(grads) &&
    Object.getPrototypeOf(grads) === Object.prototype
  ) {
    const params = grads.params; // a backward() result
    if (params !== undefined && !('shape' in grads)) return normaliseStateDict(params, 'grads.params');
  }
  return normaliseStateDict(grads, 'grads');
}

export class Optimizer {
  #raw;
  #layer;
  #runtime;

  constructor(layer, raw, runtime, info) {
    this.#layer = layer;
    this.#raw = raw;
    this.#runtime = runtime;
    this.name = info.name;
    this.lr = info.lr;
    runtime.live.add(raw);
  }

  #alive() {
    if (this.#raw === null || !this.#runtime.live.has(this.#raw)) {
      throw new Error('optimizer was disposed; make a new one with ak.optimizer()');
    }
    return this.#raw;
  }

  // Successful step() calls.
  get steps() {
    return this.#alive().steps();
  }

  // One update of the layer's parameters from `grads` (see above), or from its accumulated gradients.
  step(grads) {
    this.#alive();
    const entries = snapshotGrads(grads);
    const raw = this.#alive(); // a getter above may have disposed it
    const { raw: layer } = rawLayer(this.#layer, true);
    check(this.#runtime.heap, raw.step(layer, entries));
  }

  // Forgets the layer's accumulated gradients (torch's optimizer.zero_grad()).
  zeroGrad() {
    this.#alive();
    rawLayer(this.#layer).raw.zeroGrad();
  }

  dispose() {
    const raw = this.#raw;
    if (raw === null) return;
    this.#raw = null;
    if (!this.#runtime.live.delete(raw)) return;
    raw.release();
    raw.delete();
  }

  [Symbol.dispose]() {
    this.dispose();
  }
}
