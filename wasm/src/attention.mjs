// attnkit — ak.attention(query, key, value, options): scaled dot-product attention on the caller's own tensors.
//
// Read once (issue "Reliability" §2): each option is read once, then each tensor is copied into a fresh
// Float32Array the package owns (nested Arrays are walked once, each element read once), and only those copies
// are checked and handed to wasm (wasm/attention.cpp). The core checks shapes and values, with the CLI's messages.
import { boolOption, checkKeys, checkOptionsObject, describe, fmtShape, numelOf, seedOption, sizeOption } from './values.mjs';
import { fromNested, isFloat32Array, float32Length, snapshotShape } from './tensors.mjs';

const ATTENTION_KEYS = Object.freeze(['queryShape', 'keyShape', 'valueShape', 'attnMask', 'attnMaskShape', 'causal',
  'scale', 'dropout', 'train', 'seed', 'returnWeights', 'averageWeights', 'threads']);
const CAUSAL = Object.freeze({ 'upper-left': 'upper_left', 'lower-right': 'lower_right' });

const TYPED_ARRAY_NAME = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), Symbol.toStringTag).get;
const TYPED_ARRAY_LENGTH = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), 'length').get;

// → { native: the snake_case options for wasm/attention.cpp, shapes: { query, key, value, mask }, mask }
function normaliseOptions(options) {
  const o = checkOptionsObject(options, 'attention options');
  const given = o === undefined ? {} : o;
  if (o !== undefined) checkKeys(o, ATTENTION_KEYS, 'attention option');
  const { queryShape, keyShape, valueShape, attnMask, attnMaskShape, causal, scale, dropout, train, seed, returnWeights,
    averageWeights, threads } = given;
  const shapes = {
    query: queryShape === undefined ? undefined : snapshotShape(queryShape, 'queryShape', 16),
    key: keyShape === undefined ? undefined : snapshotShape(keyShape, 'keyShape', 16),
    value: valueShape === undefined ? undefined : snapshotShape(valueShape, 'valueShape', 16),
    mask: attnMaskShape === undefined ? undefined : snapshotShape(attnMaskShape, 'attnMaskShape', 16),
  };
  let align = 'none';
  if (causal !== undefined && causal !== false) {
    if (typeof causal !== 'string' || !Object.hasOwn(CAUSAL, causal)) {
      throw new Error(`option causal must be 'upper-left' (PyTorch's is_causal=True), 'lower-right' (the last query sees every key) or false; got ${describe(causal)}`);
    }
    align = CAUSAL[causal];
  }
  if (scale !== undefined && typeof scale !== 'number') {
    throw new Error(`option scale must be a number (default 1/√d); got ${describe(scale)}`);
  }
  if (dropout !== undefined && typeof dropout !== 'number') {
    throw new Error(`option dropout must be a number in [0, 1); got ${describe(dropout)}`);
  }
  const wantWeights = boolOption(returnWeights, 'returnWeights', false);
  const average = boolOption(averageWeights, 'averageWeights', false);
  if (average && !wantWeights) {
    throw new Error('option averageWeights needs returnWeights: true (it says how the returned weights are shaped)');
  }
  const native = {
    causal: align,
    dropout: dropout === undefined ? 0 : dropout,
    train: boolOption(train, 'train', false),
    weights: !wantWeights ? 'none' : average ? 'averaged' : 'per_head',
    threads: sizeOption(threads, 'threads', 0),
  };
  if (scale !== undefined) native.scale = scale;
  const seedWords = seedOption(seed);
  if (seedWords !== undefined) [native.seed_lo, native.seed_hi] = seedWords;
  return { native, shapes, mask: attnMask };
}

// query, key or value → { shape, data: a fresh Float32Array }.
function snapshotTensor(value, shape, what) {
  if (isFloat32Array(value)) {
    if (shape === undefined) throw new Error(`${what}Shape is required with a Float32Array ${what}: [b, heads, tokens, dim]`);
    const data = new Float32Array(float32Length(value));
    data.set(value); // reads the internal slots: a redefined length or a subclass's getter changes nothing
    return checkLength({ shape, data }, what);
  }
  if (Array.isArray(value)) {
    const t = fromNested(value, what, 16);
    if (shape === undefined) return t;
    return checkLength({ shape, data: t.data }, what);
  }
  if (TYPED_ARRAY_NAME.call(value) !== undefined) {
    throw new Error(`${what} must be a Float32Array or nested Arrays of numbers; got ${describe(value)} (convert it with Float32Array.from(${what}))`);
  }
  if (value !== null && typeof value === 'object' && describe(value) === 'an object (Float32Array)') {
    throw new Error(`${what} must be a Float32Array; got an object that only looks like one (a Proxy?); pass the Float32Array itself`);
  }
  throw new Error(`${what} must be a Float32Array or nested Arrays of numbers; got ${describe(value)}`);
}

function checkLength(t, what) {
  const need = numelOf(t.shape);
  if (t.data.length !== need) {
    throw new Error(`${what} has ${t.data.length} elements but ${what}Shape ${fmtShape(t.shape)} needs ${need}`);
  }
  return t;
}

// Nested Arrays of booleans → { shape, data: 1/0 floats }, each Array's length and each element read once.
function fromNestedBooleans(value) {
  const shape = [];
  const values = [];
  const index = [];
  let leafDepth = -1;
  const walk = (v, depth) => {
    if (!Array.isArray(v) || depth === leafDepth) {
      if (leafDepth === -1 && depth === shape.length) leafDepth = depth;
      if (depth !== leafDepth || typeof v !== 'boolean') {
        throw new Error(`attnMask has ${describe(v)} at index [${index.join(', ')}]; expected an Array of booleans (true = may attend) of shape ${fmtShape(shape)}, or a Float32Array of values added to the scores`);
      }
      values.push(v ? 1 : 0);
      return;
    }
    const length = v.length;
    if (depth === shape.length) {
      if (depth === 4) throw new Error('attnMask is nested more than 4 levels deep; expected rank 1 to 4');
      shape.push(length);
    } else if (length !== shape[depth]) {
      throw new Error(`attnMask is ragged at index [${index.join(', ')}]: ${describe(v)}; expected an Array of length ${shape[depth]}`);
    }
    for (let i = 0; i < length; i++) {
      index.push(i);
      walk(v[i], depth + 1);
      index.pop();
    }
  };
  walk(value, 0);
  return { shape, data: new Float32Array(values) };
}

// attnMask → undefined or { kind: 'boolean' | 'additive', shape, data: a fresh Float32Array }.
function snapshotMask(mask, shape) {
  if (mask === undefined) {
    if (shape !== undefined) throw new Error('option attnMaskShape was given without attnMask');
    return undefined;
  }
  const kind = TYPED_ARRAY_NAME.call(mask);
  let t;
  if (kind === 'Float32Array' || kind === 'Uint8Array') {
    if (shape === undefined) throw new Error(`attnMaskShape is required with a ${kind} attnMask: e.g. [queries, keys] or [b, 1, 1, keys]`);
    const data = new Float32Array(TYPED_ARRAY_LENGTH.call(mask));
    data.set(mask); // a Uint8Array's 0/1 become 0/1 floats; any other value is reported by the core
    t = { kind: kind === 'Uint8Array' ? 'boolean' : 'additive', shape, data };
  } else if (Array.isArray(mask)) {
    const nested = fromNestedBooleans(mask);
    t = { kind: 'boolean', shape: shape === undefined ? nested.shape : shape, data: nested.data };
  } else {
    throw new Error(`attnMask must be a Uint8Array or an Array of booleans (true = may attend), or a Float32Array (added to the scores); got ${describe(mask)}`);
  }
  const need = numelOf(t.shape);
  if (t.data.length !== need) {
    throw new Error(`attnMask has ${t.data.length} elements but attnMaskShape ${fmtShape(t.shape)} needs ${need}`);
  }
  return t;
}

// → the snapshot every later step uses: { query, key, value, mask, native }. Runs every piece of the caller's
// code that the call can run (getters, Proxy traps, Array elements' getters).
export function snapshotAttention(query, key, value, options) {
  const { native, shapes, mask } = normaliseOptions(options);
  return {
    query: snapshotTensor(query, shapes.query, 'query'),
    key: snapshotTensor(key, shapes.key, 'key'),
    value: snapshotTensor(value, shapes.value, 'value'),
    mask: snapshotMask(mask, shapes.mask),
    native,
  };
}

// The binding's result → { output, outputShape, weights?, weightsShape? }.
export function attentionResult(r) {
  const out = { output: r.output.data, outputShape: r.output.shape };
  if (r.weights) {
    out.weights = r.weights.data;
    out.weightsShape = r.weights.shape;
  }
  return out;
}
