// attnkit — the options of create(), forward() and load(), each read once into the plain values the
// bindings take. An option left out is left out here too, so the core's attnkit::Config keeps its default.
import {
  boolOption,
  checkKeys,
  checkOptionsObject,
  describe,
  fmtShape,
  numelOf,
  seedOption,
  sizeOption,
} from './values.mjs';
import { normaliseStateDict } from './state-dict.mjs';
import { isFloat32Array, snapshotShape, snapshotTensor } from './tensors.mjs';
import { snapshotMask } from './masks.mjs';

export const CREATE_KEYS = Object.freeze([
  'dIn',
  'dOut',
  'numHeads',
  'kvHeads',
  'kDim',
  'vDim',
  'contextLength',
  'causal',
  'qkvBias',
  'dropout',
  'seed',
  'stateDict',
  'weightsFormat',
  'weightsPrefix',
  'causalRoute',
]);
const FORWARD_KEYS = Object.freeze([
  'grad',
  'returnWeights',
  'averageWeights',
  'train',
  'intermediates',
  'threads',
  'kv',
  'kvShape',
  'value',
  'valueShape',
  'keyPaddingMask',
  'attnMask',
  'attnMaskShape',
  'out',
]);
// nn.MultiheadAttention's sense of a boolean mask (the opposite of ak.attention's)
const KEY_PADDING_MASK = Object.freeze({
  name: 'keyPaddingMask',
  shapeName: 'its shape',
  allowed: 'true = padding, ignored',
  example: '[batch, keys]',
});
const MODULE_ATTN_MASK = Object.freeze({
  name: 'attnMask',
  shapeName: 'attnMaskShape',
  allowed: 'true = may not attend',
  example: '[queries, keys] or [batch·heads, queries, keys]',
});
const LOAD_KEYS = Object.freeze(['threads', 'wasmBinary', 'locateFile']);

export function checkMechanism(mechanism, names) {
  if (typeof mechanism !== 'string') {
    throw new Error(`mechanism must be a string, one of ${names.join(', ')}; got ${describe(mechanism)}`);
  }
  return mechanism; // an unknown name is reported by the core, with the CLI's message
}

// → { native: the snake_case fields given, for config_from() in wasm/convert.cpp; stateDict: entries or undefined }
// `readStateDict` false: a stateDict option is allowed but not read (ak.forwardFlops needs only the sizes).
export function normaliseCreateOptions(options, causalRoutes, readStateDict = true) {
  const o = checkOptionsObject(options, 'options');
  const native = {};
  if (o === undefined) return { native, stateDict: undefined };
  checkKeys(o, CREATE_KEYS, 'option');
  const {
    dIn,
    dOut,
    numHeads,
    kvHeads,
    kDim,
    vDim,
    contextLength,
    causal,
    qkvBias,
    dropout,
    seed,
    stateDict,
    weightsFormat,
    weightsPrefix,
    causalRoute,
  } = o;
  const set = (name, value) => {
    if (value !== undefined) native[name] = value;
  };
  set('d_in', sizeOption(dIn, 'dIn'));
  set('d_out', sizeOption(dOut, 'dOut'));
  set('num_heads', sizeOption(numHeads, 'numHeads'));
  set('kv_heads', sizeOption(kvHeads, 'kvHeads'));
  set('k_dim', sizeOption(kDim, 'kDim'));
  set('v_dim', sizeOption(vDim, 'vDim'));
  set('context_length', sizeOption(contextLength, 'contextLength'));
  if (causal !== undefined && causal !== null && typeof causal !== 'boolean') {
    throw new Error(`option causal must be true or false; got ${describe(causal)}`);
  }
  if (causal !== null) set('causal', causal);
  set('qkv_bias', boolOption(qkvBias, 'qkvBias'));
  // a double, as the core keeps p: 0.99999999 is < 1 and accepted on every interface
  if (dropout !== undefined && typeof dropout !== 'number') {
    throw new Error(`option dropout must be a number in [0, 1); got ${describe(dropout)}`);
  }
  set('dropout', dropout);
  const seedWords = seedOption(seed);
  if (seedWords !== undefined) [native.seed_lo, native.seed_hi] = seedWords;
  if (causalRoute !== undefined && !causalRoutes.includes(causalRoute)) {
    throw new Error(`option causalRoute must be one of ${causalRoutes.join(', ')}; got ${describe(causalRoute)}`);
  }
  set('causal_route', causalRoute);
  // the names are the core's (attnkit/weight_formats.hpp), which reports an unknown one with the CLI's message
  set('weights_format', stringOption(weightsFormat, 'weightsFormat', "'auto', 'book', 'torch-mha' or 'gpt2'"));
  set('weights_prefix', stringOption(weightsPrefix, 'weightsPrefix', "a key prefix such as 'h.0.attn.'"));
  if (stateDict === undefined && (weightsFormat !== undefined || weightsPrefix !== undefined)) {
    const name = weightsFormat !== undefined ? 'weightsFormat' : 'weightsPrefix';
    throw new Error(`option ${name} applies only with stateDict; expected a stateDict to load`);
  }
  return { native, stateDict: readStateDict ? normaliseStateDict(stateDict) : undefined };
}

function stringOption(value, name, expected) {
  if (value !== undefined && typeof value !== 'string') {
    throw new Error(`option ${name} must be a string, ${expected}; got ${describe(value)}`);
  }
  return value;
}

const STATE_DICT_KEYS = Object.freeze(['format', 'prefix']);

// layer.stateDict({ format, prefix }) → [format, prefix] as the bindings take them; book and no prefix by default.
export function normaliseStateDictOptions(options) {
  const o = checkOptionsObject(options, 'stateDict options');
  if (o === undefined) return ['book', ''];
  checkKeys(o, STATE_DICT_KEYS, 'stateDict option');
  const { format, prefix } = o;
  return [
    stringOption(format, 'format', "'book', 'torch-mha' or 'gpt2'") ?? 'book',
    stringOption(prefix, 'prefix', "a key prefix such as 'h.0.attn.'") ?? '',
  ];
}

export const NO_FORWARD_OPTIONS = Object.freeze({
  return_weights: false,
  average_weights: false,
  train: false,
  intermediates: false,
  grad: false,
  threads: 0,
  inputs: undefined,
  out: undefined,
});

// `inputs`: undefined, or { kv?, key_padding_mask?, attn_mask? } (fresh copies, wasm/layer.hpp); a typed
// keyPaddingMask's shape is left null for Layer.forward, which knows x's batch and the keys.
export function normaliseForwardOptions(options) {
  const o = checkOptionsObject(options, 'forward options');
  if (o === undefined) return NO_FORWARD_OPTIONS;
  checkKeys(o, FORWARD_KEYS, 'forward option');
  const {
    grad,
    returnWeights,
    averageWeights,
    train,
    intermediates,
    threads,
    kv,
    kvShape,
    value,
    valueShape,
    keyPaddingMask,
    attnMask,
    attnMaskShape,
    out,
  } = o;
  if (out !== undefined && !isFloat32Array(out)) {
    throw new Error(
      `forward option out must be a Float32Array with one element per element of the context; got ${describe(out)}`,
    );
  }
  const fo = {
    return_weights: boolOption(returnWeights, 'returnWeights', false),
    average_weights: boolOption(averageWeights, 'averageWeights', false),
    train: boolOption(train, 'train', false),
    intermediates: boolOption(intermediates, 'intermediates', false),
    grad: boolOption(grad, 'grad', false), // keep what layer.backward() needs
    threads: sizeOption(threads, 'threads', 0), // capped at the worker pool by the bindings
    inputs: undefined,
    out, // the caller's Float32Array the context is written into (tensors.mjs copyToOut checks it then)
  };
  if (fo.average_weights && !fo.return_weights) {
    throw new Error(
      'forward option averageWeights needs returnWeights: true (it says how the returned weights are shaped)',
    );
  }
  const maskShape = attnMaskShape === undefined ? undefined : snapshotShape(attnMaskShape, 'attnMaskShape', 16);
  const kvDims = kvShape === undefined ? undefined : snapshotShape(kvShape, 'kvShape', 16);
  const valueDims = valueShape === undefined ? undefined : snapshotShape(valueShape, 'valueShape', 16);
  if (kv === undefined && kvDims !== undefined) throw new Error('forward option kvShape was given without kv');
  if (value === undefined && valueDims !== undefined)
    throw new Error('forward option valueShape was given without value');
  if (value !== undefined && kv === undefined)
    throw new Error("forward option value needs kv (the keys' input; value is the values' input when it differs)");
  if (kv !== undefined || keyPaddingMask !== undefined || attnMask !== undefined || maskShape !== undefined) {
    const inputs = {};
    if (kv !== undefined) inputs.kv = snapshotTensor(kv, kvDims, 'kv', '[batch, keys, kDim] or [keys, kDim]');
    if (value !== undefined)
      inputs.value = snapshotTensor(value, valueDims, 'value', '[batch, keys, vDim] or [keys, vDim]');
    const padding = snapshotMask(keyPaddingMask, undefined, KEY_PADDING_MASK, null);
    if (padding !== undefined) inputs.key_padding_mask = padding;
    const mask = snapshotMask(attnMask, maskShape, MODULE_ATTN_MASK);
    if (mask !== undefined) inputs.attn_mask = mask;
    fo.inputs = inputs;
  }
  return fo;
}

// A decoder's encoder memory for cross-attention: { kv, kvShape, value, valueShape, keyPaddingMask } (already read
// from the options object) → { kv, value?, key_padding_mask? } as forward's inputs, or undefined without kv. A typed
// keyPaddingMask is (batch, keys) for a batched kv, (keys) otherwise.
export function snapshotMemory(kv, kvShape, value, valueShape, keyPaddingMask) {
  const kvDims = kvShape === undefined ? undefined : snapshotShape(kvShape, 'kvShape', 16);
  const valueDims = valueShape === undefined ? undefined : snapshotShape(valueShape, 'valueShape', 16);
  if (kv === undefined) {
    for (const [name, v] of [
      ['kvShape', kvShape],
      ['value', value],
      ['valueShape', valueShape],
      ['keyPaddingMask', keyPaddingMask],
    ]) {
      if (v !== undefined)
        throw new Error(`decoder option ${name} needs kv (cross-attention over an encoder's output)`);
    }
    return undefined;
  }
  const memory = { kv: snapshotTensor(kv, kvDims, 'kv', '[batch, keys, kDim] or [keys, kDim]') };
  if (value !== undefined)
    memory.value = snapshotTensor(value, valueDims, 'value', '[batch, keys, vDim] or [keys, vDim]');
  const padding = snapshotMask(keyPaddingMask, undefined, KEY_PADDING_MASK, null);
  if (padding !== undefined) {
    if (padding.shape === null) {
      const s = memory.kv.shape;
      padding.shape = s.length === 3 ? [s[0], s[1]] : s.length === 2 ? [s[0]] : [padding.data.length];
      if (padding.data.length !== numelOf(padding.shape)) {
        throw new Error(
          `keyPaddingMask has ${padding.data.length} elements; expected ${numelOf(padding.shape)}, one per key of each sequence (batch, keys) = ${fmtShape(padding.shape)}`,
        );
      }
    }
    memory.key_padding_mask = padding;
  }
  return memory;
}

// A copy of the bytes of an ArrayBuffer or a view (a Uint8Array, a Node Buffer), or null.
function copyBytes(v) {
  let view = null;
  try {
    if (Object.prototype.toString.call(v) === '[object ArrayBuffer]') view = new Uint8Array(v);
    else if (ArrayBuffer.isView(v)) view = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  } catch {
    view = null;
  }
  if (view === null) {
    throw new Error(
      `load option wasmBinary must be an ArrayBuffer or a Uint8Array with the bytes of attnkit.wasm; got ${describe(v)}`,
    );
  }
  const bytes = new Uint8Array(view.length);
  bytes.set(view);
  return bytes;
}

// → { mode: 'auto' | true | false, wasmBinary?: Uint8Array (a copy), locateFile?: function }
export function normaliseLoadOptions(options) {
  const o = checkOptionsObject(options, 'load options');
  if (o === undefined) return { mode: 'auto' };
  checkKeys(o, LOAD_KEYS, 'load option');
  const { threads, wasmBinary, locateFile } = o;
  const mode = threads === undefined ? 'auto' : threads;
  if (mode !== 'auto' && typeof mode !== 'boolean') {
    throw new Error(`load option threads must be 'auto', true or false; got ${describe(mode)}`);
  }
  const out = { mode };
  if (wasmBinary !== undefined) {
    const bytes = copyBytes(wasmBinary);
    if (!WebAssembly.validate(bytes)) {
      throw new Error(
        `load option wasmBinary (${bytes.length} bytes) is not a valid WebAssembly module; expected the bytes of dist/attnkit.wasm (or dist/attnkit-mt.wasm for threads: true)`,
      );
    }
    out.wasmBinary = bytes;
  }
  if (locateFile !== undefined) {
    if (typeof locateFile !== 'function') {
      throw new Error(
        `load option locateFile must be a function (path, prefix) => URL or path of the file; got ${describe(locateFile)}`,
      );
    }
    out.locateFile = locateFile;
  }
  return out;
}
