// attnkit — ak.attention(query, key, value, options): scaled dot-product attention on the caller's own tensors.
//
// Read once (issue "Reliability" §2): each option is read once, then each tensor is copied into a fresh
// Float32Array the package owns (nested Arrays are walked once, each element read once), and only those copies
// are checked and handed to wasm (wasm/attention.cpp). The core checks shapes and values, with the CLI's messages.
import { boolOption, checkKeys, checkOptionsObject, describe, seedOption, sizeOption } from './values.mjs';
import { snapshotShape, snapshotTensor } from './tensors.mjs';
import { snapshotMask } from './masks.mjs';

const ATTENTION_KEYS = Object.freeze([
  'queryShape',
  'keyShape',
  'valueShape',
  'attnMask',
  'attnMaskShape',
  'causal',
  'scale',
  'dropout',
  'train',
  'seed',
  'returnWeights',
  'averageWeights',
  'threads',
]);
const CAUSAL = Object.freeze({ 'upper-left': 'upper_left', 'lower-right': 'lower_right' });

const TENSOR_HINT = '[b, heads, tokens, dim]';
// scaled_dot_product_attention's sense of a boolean mask
const ATTN_MASK = Object.freeze({
  name: 'attnMask',
  shapeName: 'attnMaskShape',
  allowed: 'true = may attend',
  example: '[queries, keys] or [b, 1, 1, keys]',
});

// → { native: the snake_case options for wasm/attention.cpp, shapes: { query, key, value, mask }, mask }
function normaliseOptions(options) {
  const o = checkOptionsObject(options, 'attention options');
  const given = o === undefined ? {} : o;
  if (o !== undefined) checkKeys(o, ATTENTION_KEYS, 'attention option');
  const {
    queryShape,
    keyShape,
    valueShape,
    attnMask,
    attnMaskShape,
    causal,
    scale,
    dropout,
    train,
    seed,
    returnWeights,
    averageWeights,
    threads,
  } = given;
  const shapes = {
    query: queryShape === undefined ? undefined : snapshotShape(queryShape, 'queryShape', 16),
    key: keyShape === undefined ? undefined : snapshotShape(keyShape, 'keyShape', 16),
    value: valueShape === undefined ? undefined : snapshotShape(valueShape, 'valueShape', 16),
    mask: attnMaskShape === undefined ? undefined : snapshotShape(attnMaskShape, 'attnMaskShape', 16),
  };
  let align = 'none';
  if (causal !== undefined && causal !== false) {
    if (typeof causal !== 'string' || !Object.hasOwn(CAUSAL, causal)) {
      throw new Error(
        `option causal must be 'upper-left' (PyTorch's is_causal=True), 'lower-right' (the last query sees every key) or false; got ${describe(causal)}`,
      );
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

// → the snapshot every later step uses: { query, key, value, mask, native }. Runs every piece of the caller's
// code that the call can run (getters, Proxy traps, Array elements' getters).
export function snapshotAttention(query, key, value, options) {
  const { native, shapes, mask } = normaliseOptions(options);
  return {
    query: snapshotTensor(query, shapes.query, 'query', TENSOR_HINT),
    key: snapshotTensor(key, shapes.key, 'key', TENSOR_HINT),
    value: snapshotTensor(value, shapes.value, 'value', TENSOR_HINT),
    mask: snapshotMask(mask, shapes.mask, ATTN_MASK),
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
