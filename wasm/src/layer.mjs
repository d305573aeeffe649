// attnkit — Layer: one module of a mechanism, its forward paths, its parameters and its lifetime.
//
// Every public method copies its arguments first (wasm/src/options.mjs, tensors.mjs), and only then checks
// that the layer and its instance are still alive: a getter, a Proxy trap or an Array element's getter may
// have called dispose(), ak.terminate() or another forward() meanwhile. After that point no code of the
// caller's runs until the call returns.
import { NO_FORWARD_OPTIONS, normaliseForwardOptions, normaliseStateDictOptions } from './options.mjs';
import {
  copyToOut,
  float32Length,
  fromNested,
  input,
  isFloat32Array,
  ownView,
  snapshotInput,
  stableFloat32,
} from './tensors.mjs';
import { check, failure, syncViews, wasmBuffer } from './heap.mjs';
import { Decoder, normaliseDecoderOptions } from './decoder.mjs';
import { describe, fmtShape, numelOf } from './values.mjs';

// Inputs up to this many floats keep the fast path's buffers in wasm memory between calls (reused by the
// next call); larger ones free them after the call, so a layer never holds a large input or context.
const FAST_KEEP = 65536;

// Frees a layer's, optimizer's or model's wasm object when JS collects its owner without dispose() (exported for
// optimizer.mjs and model.mjs).
export const registry =
  typeof FinalizationRegistry === 'function'
    ? new FinalizationRegistry(({ raw, live }) => {
        if (!live.delete(raw)) return; // disposed meanwhile, or freed by ak.terminate()
        try {
          raw.release();
          raw.delete();
        } catch {
          /* module already gone */
        }
      })
    : null;

// A typed keyPaddingMask is (batch, keys), or (keys) for unbatched x: keys from kv, else x's tokens.
function paddingShape(inputs, rank, d0, d1) {
  const padding = inputs.key_padding_mask;
  if (padding === undefined || padding.shape !== null) return;
  const kvShape = inputs.kv === undefined ? undefined : inputs.kv.shape;
  const keys = kvShape === undefined ? (rank === 3 ? d1 : d0) : kvShape.length >= 2 ? kvShape[kvShape.length - 2] : 0;
  padding.shape = rank === 3 ? [d0, keys] : [keys];
  const need = numelOf(padding.shape);
  if (padding.data.length !== need) {
    throw new Error(
      `keyPaddingMask has ${padding.data.length} elements; expected ${need}, one per key of each sequence (batch, keys) = ${fmtShape(padding.shape)}`,
    );
  }
}

// [{ name, shape, data }] → { name: { shape, data } }
export function entriesToRecord(list) {
  const out = {};
  for (const item of list) out[item.name] = { shape: item.shape, data: item.data };
  return out;
}

// gradContext: a Float32Array (or nested Arrays) of the context's shape → { shape, data: a fresh Float32Array }.
function snapshotGradContext(value, shape) {
  const need = numelOf(shape);
  let data;
  if (isFloat32Array(value)) {
    data = new Float32Array(float32Length(value));
    data.set(value);
  } else if (Array.isArray(value)) {
    data = fromNested(value, 'gradContext', 3, true).data;
  } else {
    throw new Error(
      `gradContext must be a Float32Array (or nested Arrays of numbers) of the context's shape ${fmtShape(shape)}; got ${describe(value)}`,
    );
  }
  if (data.length !== need) {
    throw new Error(
      `gradContext has ${data.length} elements; expected ${need}, the context's shape ${fmtShape(shape)} of the forward with { grad: true }`,
    );
  }
  return { shape, data };
}

// The raw wasm layer of a live Layer, for the optimizers (wasm/src/optimizer.mjs); throws as the layer's methods do.
const internals = new WeakMap();
// `reloads`: the caller is about to load new parameters into it.
export function rawLayer(layer, reloads = false) {
  const get = internals.get(layer);
  if (get === undefined) throw new Error(`layer must be a Layer made by ak.create(); got ${describe(layer)}`);
  return get(reloads);
}

export class Layer {
  #raw;
  #info;
  #runtime; // { m, heap, live: Set of raw layers, terminated } shared with the instance (instance.mjs)
  #self; // the C++ Layer's address, the first argument of the fast path's C exports
  #header; // index (in 32-bit words) of the fast path's header in wasm memory
  #inLen = 0; // floats in the fast path's input buffer (in wasm memory, owned by raw)
  #gradShape = null; // the context's shape of the last forward with grad, until backward (the core keeps its state)

  constructor(runtime, raw, info) {
    this.#runtime = runtime;
    this.#raw = raw;
    this.#info = info;
    this.#self = raw.address();
    this.#header = raw.fastHeaderAddress() >>> 2;
    if (registry) registry.register(this, { raw, live: runtime.live }, this);
    runtime.live.add(raw);
    internals.set(this, (reloads) => {
      const r = this.#alive();
      if (reloads) this.#gradShape = null; // an optimizer step reloads the parameters: the kept forward is dropped
      return { raw: r, runtime: this.#runtime };
    });
  }

  get mechanism() {
    return this.#info.mechanism;
  }
  get causal() {
    return this.#info.causal;
  }
  get numHeads() {
    return this.#info.num_heads;
  }
  get headDim() {
    return this.#info.head_dim;
  }
  get dOutTotal() {
    return this.#info.d_out_total;
  }
  get disposed() {
    return this.#raw === null || !this.#runtime.live.has(this.#raw);
  }

  #alive() {
    if (this.#raw !== null && !this.#runtime.live.has(this.#raw)) {
      // ak.terminate() freed it
      throw new Error('layer was disposed by ak.terminate(); load a new instance with load() and create a new layer');
    }
    if (this.#raw === null) throw new Error('layer was disposed; create a new one with ak.create()');
    return this.#raw;
  }

  forward(x, shape, options) {
    this.#alive();
    const fo = options === undefined ? NO_FORWARD_OPTIONS : normaliseForwardOptions(options);
    snapshotInput(x, shape); // last: see snapshotInput
    const { data, owned, length, rank, d0, d1, d2 } = input; // before any code of the caller's runs again
    const raw = this.#alive();
    if (fo.inputs !== undefined) {
      paddingShape(fo.inputs, rank, d0, d1);
    } else if (!fo.return_weights && !fo.intermediates && !fo.grad) {
      this.#gradShape = null; // the core drops a kept forward's state on a forward without grad
      const out = this.#forwardFast(raw, data, owned, length, rank, d0, d1, d2, fo.train, fo.threads, fo.out);
      if (out !== null) return out;
    }
    this.#gradShape = null;
    const out = this.#forwardGeneral(raw, data, owned, rank === 3 ? [d0, d1, d2] : [d0, d1], fo);
    if (fo.grad) this.#gradShape = out.contextShape.slice();
    return out;
  }

  // Gradients of Σ gradContext ⊙ context for the last forward with { grad: true } (Module::backward, once per such
  // forward): { input, kv?, value?, params }, each { shape, data }, params under the state_dict names. params are
  // also added into the layer's gradients (grads()), as torch accumulates param.grad, until zeroGrad().
  backward(gradContext) {
    this.#alive();
    const shape = this.#gradShape;
    if (shape === null) {
      throw new Error(
        'backward needs a forward with { grad: true } before it (none since the last backward, a forward without grad, or an optimizer step); expected layer.forward(x, shape, { grad: true }) first',
      );
    }
    const g = snapshotGradContext(gradContext, shape);
    const raw = this.#alive(); // an Array element's getter may have disposed the layer
    if (this.#gradShape !== shape)
      throw new Error(
        'backward: another forward ran while gradContext was read; expected no forward from inside its getters',
      );
    const r = check(this.#runtime.heap, raw.backward(g));
    this.#gradShape = null;
    const out = { input: r.input };
    if (r.kv) out.kv = r.kv;
    if (r.value) out.value = r.value;
    out.params = entriesToRecord(r.params);
    return out;
  }

  // The gradients backward() has added up since zeroGrad() (or creation), under the state_dict names; {} when none.
  grads() {
    return entriesToRecord(check(this.#runtime.heap, this.#alive().grads()));
  }

  // Forgets the accumulated gradients (torch's zero_grad(set_to_none=True)).
  zeroGrad() {
    this.#alive().zeroGrad();
  }

  #forwardGeneral(raw, data, owned, shape, fo) {
    const heap = this.#runtime.heap;
    // Embind reads x's `length` as a property and allocates before it copies: our own view on stable bytes
    const x = owned ? data : ownView(stableFloat32(data, wasmBuffer(heap)));
    const r = check(
      heap,
      fo.inputs === undefined ? raw.forward(x, shape, fo) : raw.forwardWith(x, shape, fo, fo.inputs),
    );
    const out = {
      context:
        fo.out === undefined ? r.context.data : copyToOut(fo.out, r.context.data, r.context.shape, wasmBuffer(heap)),
      contextShape: r.context.shape,
    };
    if (r.weights) {
      out.weights = r.weights.data;
      out.weightsShape = r.weights.shape;
    }
    if (r.intermediates) {
      out.intermediates = {};
      for (const item of r.intermediates) out.intermediates[item.name] = { data: item.data, shape: item.shape };
    }
    return out;
  }

  // forward() without weights or intermediates, through the plain C exports (numbers only, no Embind): x is
  // copied into the layer's input buffer in wasm memory, and the context out of it (into a new Float32Array, or
  // the caller's `out`). Returns null if the input buffer could not be allocated (the general path then reports
  // the error).
  #forwardFast(raw, data, owned, len, rank, d0, d1, d2, train, threads, out) {
    const heap = this.#runtime.heap;
    const m = heap.m;
    const header = this.#header;
    if (len !== this.#inLen) {
      if (!owned) data = stableFloat32(data, wasmBuffer(heap)); // input_buffer allocates
      if (m._attnkit_input_buffer(this.#self, len) !== heap.status.ok) return null; // may grow the wasm memory
      this.#inLen = len;
    }
    // The views may be stale: a call (this layer's input_buffer, or anything since the last look) may have grown
    // the memory. Single-thread build: growth detaches the old buffer (the views' length drops to 0). Pthreads
    // build: the old SharedArrayBuffer stays valid but keeps its old length. So a view that covers the bytes
    // being read or written is good to use, and is re-made only when it does not.
    let u32 = heap.u32;
    if (u32.length < header + heap.headerWords) u32 = syncViews(heap);
    if (len > 0) {
      const at = u32[header + heap.inputAddress] >>> 2;
      if (u32.length < at + len) u32 = syncViews(heap);
      heap.f32.set(data, at);
    }
    const status =
      rank === 3
        ? m._attnkit_forward_fast(this.#self, 3, d0, d1, d2, train ? 1 : 0, threads)
        : m._attnkit_forward_fast(this.#self, 2, 0, d0, d1, train ? 1 : 0, threads);
    if (status !== heap.status.ok) {
      const message = raw.lastError();
      this.#dropFast(raw);
      throw failure(heap, status, message);
    }
    if (u32.length < header + heap.headerWords) u32 = syncViews(heap); // the pass may have grown the memory
    const contextRank = u32[header + heap.contextRank];
    const dims = header + heap.contextDims;
    const contextShape = new Array(contextRank);
    let numel = 1;
    for (let i = 0; i < contextRank; i++) numel *= contextShape[i] = u32[dims + i];
    const start = u32[header + heap.contextAddress] >>> 2;
    if (u32.length < start + numel) syncViews(heap);
    const large = len > FAST_KEEP || numel > FAST_KEEP;
    if (out === undefined) {
      const context = heap.f32.slice(start, start + numel); // a copy in a fresh ArrayBuffer
      if (large) this.#dropFast(raw);
      return { context, contextShape };
    }
    try {
      return {
        context: copyToOut(out, heap.f32.subarray(start, start + numel), contextShape, wasmBuffer(heap)),
        contextShape,
      };
    } finally {
      if (large) this.#dropFast(raw);
    }
  }

  #dropFast(raw) {
    raw.dropBuffers();
    this.#inLen = 0;
  }

  // A KV-cache session for generation token by token (wasm/src/decoder.mjs): { maxTokens, batch = 1 }.
  decoder(options) {
    this.#alive();
    const { maxTokens, batch, memory } = normaliseDecoderOptions(options);
    const raw = this.#alive(); // a getter above may have disposed the layer
    const { id } = check(this.#runtime.heap, raw.beginDecode(maxTokens, batch, memory));
    return new Decoder(() => this.#alive(), this.#runtime.heap, id);
  }

  // The parameters in the book's names, or written in another format ({ format: 'torch-mha' | 'gpt2', prefix }).
  stateDict(options) {
    this.#alive();
    const [format, prefix] = options === undefined ? ['book', ''] : normaliseStateDictOptions(options);
    return entriesToRecord(check(this.#runtime.heap, this.#alive().stateDict(format, prefix)));
  }

  parameterShapes() {
    const list = check(this.#runtime.heap, this.#alive().parameterShapes());
    const out = {};
    for (const item of list) out[item.name] = item.shape;
    return out;
  }

  dispose() {
    const raw = this.#raw;
    if (raw === null) return;
    this.#raw = null;
    if (registry) registry.unregister(this);
    if (!this.#runtime.live.delete(raw)) return; // already freed by ak.terminate()
    raw.release();
    raw.delete();
  }

  [Symbol.dispose]() {
    this.dispose();
  }
}
