// attnkit — Decoder: generation token by token through a KV cache (layer.decoder({ maxTokens, batch })).
//
// step(x, shape) appends the keys and values of x's tokens to the cache and returns their context: the rows of
// a causal forward over every token since the start or reset() (core/include/attnkit/decoder.hpp). The session
// lives in the layer's wasm object, so disposing the layer (or ak.terminate()) ends it too. Arguments are read
// once (wasm/src/tensors.mjs), and the session is checked alive after the caller's code could have run.
import { boolOption, checkKeys, checkOptionsObject, sizeOption } from './values.mjs';
import { snapshotMemory } from './options.mjs';
import { input, ownView, snapshotInput, stableFloat32 } from './tensors.mjs';
import { check, wasmBuffer } from './heap.mjs';

const DECODER_KEYS = Object.freeze(['maxTokens', 'batch', 'kv', 'kvShape', 'value', 'valueShape', 'keyPaddingMask']);
const MEMORY_KEYS = Object.freeze(['kv', 'kvShape', 'value', 'valueShape', 'keyPaddingMask']);
const STEP_KEYS = Object.freeze(['threads', 'returnWeights']);

// → { maxTokens, batch, memory } as plain values (the core checks their ranges against the layer); memory: the
// encoder's output for cross-attention (wasm/src/options.mjs snapshotMemory), or undefined for self-attention.
export function normaliseDecoderOptions(options) {
  const o = checkOptionsObject(options, 'decoder options');
  if (o === undefined) throw new Error('decoder options are required: { maxTokens, batch? }');
  checkKeys(o, DECODER_KEYS, 'decoder option');
  const { maxTokens, batch, kv, kvShape, value, valueShape, keyPaddingMask } = o;
  if (maxTokens === undefined) throw new Error('decoder option maxTokens is required: the most tokens the cache holds');
  const out = { maxTokens: sizeOption(maxTokens, 'maxTokens'), batch: sizeOption(batch, 'batch', 1) };
  out.memory = snapshotMemory(kv, kvShape, value, valueShape, keyPaddingMask);
  if (out.memory !== undefined && batch !== undefined) {
    throw new Error('decoder option batch is taken from kv for cross-attention; expected no batch with kv');
  }
  return out;
}

function normaliseMemory(options) {
  const o = checkOptionsObject(options, 'setMemory options');
  if (o === undefined)
    throw new Error('setMemory options are required: { kv, kvShape?, value?, valueShape?, keyPaddingMask? }');
  checkKeys(o, MEMORY_KEYS, 'setMemory option');
  const { kv, kvShape, value, valueShape, keyPaddingMask } = o;
  if (kv === undefined) throw new Error("setMemory option kv is required: the encoder's output (batch, keys, kDim)");
  return snapshotMemory(kv, kvShape, value, valueShape, keyPaddingMask);
}

export class Decoder {
  #alive; // () => the layer's raw object, or throws (layer disposed, instance terminated)
  #heap;
  #id;
  #disposed = false;

  constructor(alive, heap, id) {
    this.#alive = alive;
    this.#heap = heap;
    this.#id = id;
  }

  #raw() {
    const raw = this.#alive(); // throws first if the layer is gone: its sessions went with it
    if (this.#disposed) throw new Error('decoder was disposed; start a new one with layer.decoder()');
    return raw;
  }

  // x: (batch, t, dIn), or (t, dIn) with batch 1 → { context, contextShape }: (batch, t, dOutTotal) or (t, dOutTotal)
  // returnWeights: also each new token's weights, (batch, heads, t, keys) or (heads, t, keys), keys = length after the
  // step (self-attention; 0 in a token's future) or the memory's keys (cross-attention; 0 at padding).
  step(x, shape, options) {
    this.#raw();
    let threads = 0;
    let weights = false;
    if (options !== undefined) {
      const o = checkOptionsObject(options, 'step options');
      checkKeys(o, STEP_KEYS, 'step option');
      const { threads: t, returnWeights } = o;
      threads = sizeOption(t, 'threads', 0);
      weights = boolOption(returnWeights, 'returnWeights', false);
    }
    snapshotInput(x, shape); // last: no code of the caller's runs after it
    const { data, owned, rank, d0, d1, d2 } = input;
    const raw = this.#raw();
    const view = owned ? data : ownView(stableFloat32(data, wasmBuffer(this.#heap)));
    const dims = rank === 3 ? [d0, d1, d2] : [d0, d1];
    const r = check(this.#heap, raw.decodeStep(this.#id, view, dims, threads, weights));
    const out = { context: r.context.data, contextShape: r.context.shape };
    if (r.weights) {
      out.weights = r.weights.data;
      out.weightsShape = r.weights.shape;
    }
    return out;
  }

  // Cross-attention: a new encoder output (the same batch, any number of keys); every decoded token is forgotten.
  setMemory(options) {
    this.#raw();
    const memory = normaliseMemory(options);
    check(this.#heap, this.#raw().decodeSetMemory(this.#id, memory));
  }

  // Tokens in the cache.
  get length() {
    return this.#raw().decodeLength(this.#id);
  }
  get disposed() {
    try {
      this.#raw();
      return false;
    } catch {
      return true;
    }
  }

  // Forget every token; the cache's memory is kept for the next sequence.
  reset() {
    this.#raw().decodeReset(this.#id);
  }

  // Frees the cache now. Later calls throw "decoder was disposed". Safe to call twice, and after the layer's dispose.
  dispose() {
    if (this.#disposed) return;
    this.#disposed = true;
    let raw;
    try {
      raw = this.#alive();
    } catch {
      return;
    } // the layer freed it already
    raw.endDecode(this.#id);
  }

  [Symbol.dispose]() {
    this.dispose();
  }
}
