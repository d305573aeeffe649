// attnkit — the npm package entry (ESM). Loads the WebAssembly module and wraps the Embind layer in a
// small, validated API:
//
//   import { load } from "attnkit";
//   const ak = await load();
//   const layer = ak.create("multihead", { dIn: 3, dOut: 2, numHeads: 2, contextLength: 6 });
//   const out = layer.forward(x /* Float32Array */, [2, 6, 3], { returnWeights: true });
//   layer.dispose();
//
// Errors are thrown as Error (malformed or inconsistent input) or RangeError (a number out of range), with
// the native CLI's messages for everything the core checks, and JS-specific messages for wrong JS types.

const MECHANISMS = Object.freeze(['simplified', 'self-v1', 'self', 'causal', 'multihead-wrapper', 'multihead']);
const CREATE_KEYS = Object.freeze(['dIn', 'dOut', 'numHeads', 'contextLength', 'causal', 'qkvBias', 'dropout', 'seed', 'stateDict', 'causalRoute']);
const FORWARD_KEYS = Object.freeze(['returnWeights', 'train', 'intermediates', 'threads']);
const LOAD_KEYS = Object.freeze(['threads', 'wasmBinary', 'locateFile']);
const CAUSAL_ROUTES = Object.freeze(['neg-inf', 'renormalise']);
const MAX_SIZE = 0xffffffff; // size_t on wasm32
// The pthreads build starts a pool of this many workers (-sPTHREAD_POOL_SIZE in wasm/CMakeLists.txt). The core
// joins its threads synchronously, so it must never need more workers than the pool holds: threads are capped.
const MAX_THREADS = 4;

// ---------------------------------------------------------------------------------------------------------
// Small helpers for messages and checks.

function describe(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `an Array of length ${v.length}`;
  if (ArrayBuffer.isView(v)) return `a ${v.constructor.name} of length ${v.length}`;
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  if (typeof v === 'object') return `an object (${v.constructor && v.constructor.name ? v.constructor.name : 'Object'})`;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return `${typeof v} ${String(v)}`;
  return typeof v;
}

function fmtShape(shape) {
  return `[${Array.from(shape).join(', ')}]`;
}

function checkPlainObject(obj, what) {
  if (obj === undefined) return {};
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj) || ArrayBuffer.isView(obj)) {
    throw new Error(`${what} must be an object; got ${describe(obj)}`);
  }
  return obj;
}

const hasOwn = Object.prototype.hasOwnProperty;

// The own enumerable keys (what Object.keys gives, in the same order) must all be in `allowed`. Written with
// for-in and === because forward() runs it on every call: normalising { threads: 1 } took 75 ns with
// Object.keys + includes and takes 40 ns this way (Chromium 156).
function checkKeys(obj, allowed, what) {
  for (const key in obj) {
    if (!hasOwn.call(obj, key)) continue;
    let known = false;
    for (let i = 0; i < allowed.length; i++) {
      if (allowed[i] === key) { known = true; break; }
    }
    if (!known) throw new Error(`unknown ${what} '${key}'; expected one of ${allowed.join(', ')}`);
  }
}

function sizeOption(value, name, fallback) {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || !Number.isInteger(value)) {
    throw new Error(`option ${name} must be an integer; got ${describe(value)}`);
  }
  if (value < 0) throw new RangeError(`option ${name} (${value}) must not be negative`);
  if (value > MAX_SIZE) throw new RangeError(`option ${name} (${value}) is too large; expected at most ${MAX_SIZE}`);
  return value;
}

function boolOption(value, name, fallback) {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new Error(`option ${name} must be true or false; got ${describe(value)}`);
  return value;
}

function seedOption(value) {
  if (value === undefined) return [123, 0];
  if (typeof value === 'bigint') {
    if (value < 0n || value > 0xffffffffffffffffn) throw new RangeError(`option seed (${value}) must be in [0, 2^64)`);
    return [Number(value & 0xffffffffn), Number(value >> 32n)];
  }
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new Error(`option seed must be a non-negative integer (number or BigInt); got ${describe(value)}`);
  }
  if (value < 0 || value > Number.MAX_SAFE_INTEGER) {
    throw new RangeError(`option seed (${value}) must be in [0, ${Number.MAX_SAFE_INTEGER}]; pass a BigInt for larger seeds`);
  }
  return [value % 0x100000000, Math.floor(value / 0x100000000)];
}

function checkMechanism(mechanism) {
  if (typeof mechanism !== 'string') {
    throw new Error(`mechanism must be a string, one of ${MECHANISMS.join(', ')}; got ${describe(mechanism)}`);
  }
  // Unknown names are reported by the core, with the CLI's message.
  return mechanism;
}

const FLOAT32_MAX = 3.4028234663852886e38;

function checkNumber(v, what, index) {
  if (typeof v !== 'number') {
    throw new Error(`${what} has a non-number at index ${index}: ${describe(v)}; expected numbers`);
  }
  // finite in JS but not representable in float32 (e.g. 1e39): say so instead of reporting an Inf later
  if (Number.isFinite(v) && Math.abs(v) > FLOAT32_MAX && Math.fround(v) !== v) {
    throw new RangeError(`${what} has ${v} at index ${index}, which overflows float32; expected numbers of magnitude at most ${FLOAT32_MAX}`);
  }
}

// Flattens nested Arrays of numbers (a PyTorch `tensor.tolist()` dump) into { shape, data }.
function fromNested(value, what, maxRank = 8) {
  const shape = [];
  let probe = value;
  while (Array.isArray(probe)) {
    shape.push(probe.length);
    if (shape.length > maxRank) {
      let depth = shape.length;
      for (let p = probe[0]; Array.isArray(p) && depth < 1e6; p = p[0]) depth++;
      throw new Error(`${what} is nested ${depth} levels deep; expected at most ${maxRank}`);
    }
    if (probe.length === 0) break;
    probe = probe[0];
  }
  const numel = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(numel);
  let k = 0;
  const walk = (v, depth, index) => {
    if (depth === shape.length) {
      checkNumber(v, what, `[${index.join(', ')}]`);
      data[k++] = v;
      return;
    }
    if (!Array.isArray(v) || v.length !== shape[depth]) {
      throw new Error(`${what} is ragged at index [${index.join(', ')}]: ${describe(v)}; expected an Array of length ${shape[depth]} (shape ${fmtShape(shape)})`);
    }
    for (let i = 0; i < v.length; i++) walk(v[i], depth + 1, index.concat(i));
  };
  walk(value, 0, []);
  return { shape, data };
}

function fromFlat(arr, what) {
  for (let i = 0; i < arr.length; i++) checkNumber(arr[i], what, String(i));
  return Float32Array.from(arr);
}

function checkShapeArray(shape, what) {
  if (!Array.isArray(shape)) throw new Error(`${what} must be an Array of integers; got ${describe(shape)}`);
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isInteger(d)) {
      throw new Error(`${what} ${describe(shape)} must hold integers; got ${describe(d)}`);
    }
    if (d < 0) throw new RangeError(`${what} ${fmtShape(shape)} has a negative dimension`);
    if (d > MAX_SIZE) throw new RangeError(`${what} ${fmtShape(shape)} has a dimension larger than ${MAX_SIZE}`);
  }
  return shape;
}

function numelOf(shape) {
  return shape.reduce((a, b) => a * b, 1);
}

// One state_dict entry: nested Arrays, or { shape, data } with data a Float32Array or a flat Array.
function normaliseEntry(name, value) {
  const what = `stateDict['${name}']`;
  if (Array.isArray(value)) {
    const { shape, data } = fromNested(value, what, 4);
    return { name, shape, data };
  }
  if (value !== null && typeof value === 'object' && !ArrayBuffer.isView(value) && 'data' in value) {
    const shape = checkShapeArray(value.shape, `${what}.shape`);
    let data = value.data;
    if (Array.isArray(data)) {
      if (data.length > 0 && Array.isArray(data[0])) data = fromNested(data, `${what}.data`).data;
      else data = fromFlat(data, `${what}.data`);
    } else if (!(data instanceof Float32Array)) {
      throw new Error(`${what}.data must be a Float32Array or an Array of numbers; got ${describe(data)}`);
    }
    if (data.length !== numelOf(shape)) {
      throw new Error(`${what}.data has ${data.length} elements but shape ${fmtShape(shape)} needs ${numelOf(shape)}`);
    }
    return { name, shape: shape.slice(), data };
  }
  if (value instanceof Float32Array) {
    throw new Error(`${what} is a Float32Array without a shape; pass { shape, data } or nested Arrays`);
  }
  throw new Error(`${what} must be nested Arrays of numbers or { shape, data }; got ${describe(value)}`);
}

function normaliseStateDict(sd) {
  if (sd === undefined) return undefined;
  if (sd === null || typeof sd !== 'object' || Array.isArray(sd) || ArrayBuffer.isView(sd)) {
    throw new Error(`option stateDict must be an object mapping parameter names to tensors; got ${describe(sd)}`);
  }
  const entries = sd instanceof Map ? [...sd.entries()] : Object.entries(sd);
  return entries.map(([name, value]) => normaliseEntry(name, value));
}

function normaliseCreateOptions(options) {
  const o = checkPlainObject(options, 'options');
  checkKeys(o, CREATE_KEYS, 'option');
  const [seedLo, seedHi] = seedOption(o.seed);
  if (o.dropout !== undefined && (typeof o.dropout !== 'number')) {
    throw new Error(`option dropout must be a number in [0, 1); got ${describe(o.dropout)}`);
  }
  if (o.causal !== undefined && o.causal !== null && typeof o.causal !== 'boolean') {
    throw new Error(`option causal must be true or false; got ${describe(o.causal)}`);
  }
  if (o.causalRoute !== undefined && !CAUSAL_ROUTES.includes(o.causalRoute)) {
    throw new Error(`option causalRoute must be one of ${CAUSAL_ROUTES.join(', ')}; got ${describe(o.causalRoute)}`);
  }
  return {
    native: {
      d_in: sizeOption(o.dIn, 'dIn', 0),
      d_out: sizeOption(o.dOut, 'dOut', 0),
      num_heads: sizeOption(o.numHeads, 'numHeads', 1),
      context_length: sizeOption(o.contextLength, 'contextLength', 0),
      causal: o.causal === undefined ? null : o.causal,
      qkv_bias: boolOption(o.qkvBias, 'qkvBias', false),
      dropout: o.dropout === undefined ? 0 : o.dropout,
      seed_lo: seedLo,
      seed_hi: seedHi,
      causal_route: o.causalRoute === undefined ? 'neg-inf' : o.causalRoute,
    },
    stateDict: normaliseStateDict(o.stateDict),
  };
}

function normaliseInput(x, shape) {
  let data = x;
  if (x instanceof Float32Array) {
    // fine
  } else if (ArrayBuffer.isView(x)) {
    throw new Error(`x must be a Float32Array; got ${describe(x)} (convert it with Float32Array.from(x))`);
  } else if (Array.isArray(x)) {
    if (x.length > 0 && Array.isArray(x[0])) {
      const nested = fromNested(x, 'x', 3);
      if (shape === undefined) shape = nested.shape;
      data = nested.data;
    } else {
      data = fromFlat(x, 'x');
    }
  } else {
    throw new Error(`x must be a Float32Array; got ${describe(x)}`);
  }
  if (shape === undefined) throw new Error('shape is required: [batch, tokens, dIn] or [tokens, dIn]');
  checkShapeArray(shape, 'shape');
  if (shape.length !== 2 && shape.length !== 3) {
    throw new Error(`shape ${fmtShape(shape)} has rank ${shape.length}; expected [batch, tokens, dIn] or [tokens, dIn]`);
  }
  const need = numelOf(shape);
  if (data.length !== need) {
    throw new Error(`x has ${data.length} elements but shape ${fmtShape(shape)} needs ${need}`);
  }
  return { data, shape };
}

function normaliseForwardOptions(options) {
  const o = checkPlainObject(options, 'forward options');
  checkKeys(o, FORWARD_KEYS, 'forward option');
  return {
    return_weights: boolOption(o.returnWeights, 'returnWeights', false),
    train: boolOption(o.train, 'train', false),
    intermediates: boolOption(o.intermediates, 'intermediates', false),
    threads: Math.min(sizeOption(o.threads, 'threads', 0), MAX_THREADS),
  };
}

const NO_FORWARD_OPTIONS = Object.freeze({ return_weights: false, train: false, intermediates: false, threads: 0 });
// Inputs up to this many floats keep the fast path's buffers in wasm memory between calls (reused by the
// next call); larger ones free them after the call, so a layer never holds a large input or context.
const FAST_KEEP = 65536;

// true when x is a Float32Array and shape a valid rank-2/3 shape for it: normaliseInput would accept them
// unchanged (it runs on anything else, and gives the errors).
function plainInput(x, shape) {
  if (!(x instanceof Float32Array) || !Array.isArray(shape)) return false;
  const rank = shape.length;
  if (rank !== 2 && rank !== 3) return false;
  let numel = 1;
  for (let i = 0; i < rank; i++) {
    const d = shape[i];
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 0 || d > MAX_SIZE) return false;
    numel *= d;
  }
  return numel === x.length;
}

function check(result) {
  if (result !== null && typeof result === 'object' && typeof result.error === 'string') {
    throw result.kind === 'range' ? new RangeError(result.error) : new Error(result.error);
  }
  return result;
}

// Views on the wasm memory for the fast forward path, one set per module, shared by its layers. A call into
// the module may grow the memory, which detaches the old buffer (single-thread build) or leaves the views on
// the old, shorter SharedArrayBuffer (pthreads build). #forwardFast checks that the views cover what it
// touches after every call that may grow the memory, and calls syncViews() when they do not.
function makeHeap(m) {
  const heap = { m, memory: m.wasmMemory || null, f32: null, u32: null };
  syncViews(heap);
  return heap;
}

function syncViews(heap) {
  const buffer = heap.memory !== null ? heap.memory.buffer : heap.m.HEAPF32.buffer;
  heap.f32 = new Float32Array(buffer);
  heap.u32 = new Uint32Array(buffer);
  return heap.u32;
}

// The fast path's header in wasm memory (Layer::header_ in bindings.cpp), in 32-bit words: context address,
// input address, context rank, 4 dimensions.
const HEADER_WORDS = 7;

// ---------------------------------------------------------------------------------------------------------
// Layers.

const registry = typeof FinalizationRegistry === 'function'
  ? new FinalizationRegistry(({ raw, live }) => {
      if (!live.delete(raw)) return; // disposed meanwhile, or freed by ak.terminate()
      try { raw.release(); raw.delete(); } catch { /* module already gone */ }
    })
  : null;

class Layer {
  #raw;
  #info;
  #ak;
  #heap;          // the module's exports and current views on its memory (shared by every layer of the module)
  #self;          // the C++ Layer's address, the first argument of the fast path's C exports
  #hdr;           // index (in 32-bit words) of the fast path's header: context address, input address, rank, dims
  #inLen = 0;     // floats in the fast path's input buffer (in wasm memory, owned by raw)

  constructor(ak, heap, raw, info) {
    this.#ak = ak;
    this.#heap = heap;
    this.#raw = raw;
    this.#info = info;
    this.#self = raw.address();
    this.#hdr = raw.fastHeaderAddress() >>> 2;
    if (registry) registry.register(this, { raw, live: ak._live }, this);
    ak._live.add(raw);
  }

  get mechanism() { return this.#info.mechanism; }
  get causal() { return this.#info.causal; }
  get numHeads() { return this.#info.num_heads; }
  get headDim() { return this.#info.head_dim; }
  get dOutTotal() { return this.#info.d_out_total; }
  get disposed() { return this.#raw === null || !this.#ak._live.has(this.#raw); }

  #alive() {
    if (this.#raw !== null && !this.#ak._live.has(this.#raw)) this.#raw = null; // ak.terminate() freed it
    if (this.#raw === null) throw new Error('layer was disposed; create a new one with ak.create()');
    return this.#raw;
  }

  forward(x, shape, options) {
    const raw = this.#alive();
    let data = x;
    if (!plainInput(x, shape)) {
      const input = normaliseInput(x, shape);
      data = input.data;
      shape = input.shape;
    }
    if (options === undefined) {
      const out = this.#forwardFast(raw, data, shape, false, 0);
      if (out !== null) return out;
      return this.#forwardGeneral(raw, data, shape, NO_FORWARD_OPTIONS);
    }
    const fo = normaliseForwardOptions(options);
    if (!fo.return_weights && !fo.intermediates) {
      const out = this.#forwardFast(raw, data, shape, fo.train, fo.threads);
      if (out !== null) return out;
    }
    return this.#forwardGeneral(raw, data, shape, fo);
  }

  #forwardGeneral(raw, data, shape, fo) {
    const r = check(raw.forward(data, shape, fo));
    const out = { context: r.context.data, contextShape: r.context.shape };
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
  // copied into the layer's input buffer in wasm memory, and the context out of it. Returns null if the input
  // buffer could not be allocated (the general path then reports the error).
  #forwardFast(raw, data, shape, train, threads) {
    const heap = this.#heap;
    const m = heap.m;
    const hdr = this.#hdr;
    const len = data.length;
    if (len !== this.#inLen) {
      if (m._attnkit_input_buffer(this.#self, len) !== 0) return null; // may grow the wasm memory
      this.#inLen = len;
    }
    // The views may be stale: a call (this layer's input_buffer, or anything since the last look) may have grown
    // the memory. Single-thread build: growth detaches the old buffer (the views' length drops to 0). Pthreads
    // build: the old SharedArrayBuffer stays valid but keeps its old length. So a view that covers the bytes
    // being read or written is good to use, and is re-made only when it does not.
    let u32 = heap.u32;
    if (u32.length < hdr + HEADER_WORDS) u32 = syncViews(heap);
    if (len > 0) {
      const at = u32[hdr + 1] >>> 2;
      if (u32.length < at + len) u32 = syncViews(heap);
      heap.f32.set(data, at);
    }
    const status = shape.length === 3
      ? m._attnkit_forward_fast(this.#self, 3, shape[0], shape[1], shape[2], train ? 1 : 0, threads)
      : m._attnkit_forward_fast(this.#self, 2, 0, shape[0], shape[1], train ? 1 : 0, threads);
    if (status !== 0) {
      const message = raw.lastError();
      this.#dropFast(raw);
      throw status === 2 ? new RangeError(message) : new Error(message);
    }
    if (u32.length < hdr + HEADER_WORDS) u32 = syncViews(heap); // the pass may have grown the memory
    const rank = u32[hdr + 2];
    const contextShape = new Array(rank);
    let numel = 1;
    for (let i = 0; i < rank; i++) numel *= (contextShape[i] = u32[hdr + 3 + i]);
    const start = u32[hdr] >>> 2;
    if (u32.length < start + numel) syncViews(heap);
    const context = heap.f32.slice(start, start + numel); // a copy in a fresh ArrayBuffer
    if (len > FAST_KEEP || numel > FAST_KEEP) this.#dropFast(raw);
    return { context, contextShape };
  }

  #dropFast(raw) {
    raw.dropBuffers();
    this.#inLen = 0;
  }

  stateDict() {
    const list = check(this.#alive().stateDict());
    const sd = {};
    for (const item of list) sd[item.name] = { shape: item.shape, data: item.data };
    return sd;
  }

  parameterShapes() {
    const list = check(this.#alive().parameterShapes());
    const out = {};
    for (const item of list) out[item.name] = item.shape;
    return out;
  }

  dispose() {
    const raw = this.#raw;
    if (raw === null) return;
    this.#raw = null;
    if (registry) registry.unregister(this);
    if (!this.#ak._live.delete(raw)) return; // already freed by ak.terminate()
    raw.release();
    raw.delete();
  }

  [Symbol.dispose]() { this.dispose(); }
}

class Attnkit {
  #m;

  #heap;

  constructor(m) {
    this.#m = m;
    this.#heap = makeHeap(m);
    this._live = new Set();
    this.mechanisms = Object.freeze(Array.from(m.mechanisms()));
    this.simd = m.simdInstructionSet();
    this.version = m.version();
    this.multithreaded = m.threadedBuild();
  }

  create(mechanism, options) {
    checkMechanism(mechanism);
    const { native, stateDict } = normaliseCreateOptions(options);
    const raw = new this.#m.Layer();
    let info;
    try {
      info = check(raw.init(mechanism, native, stateDict));
    } catch (e) {
      raw.delete();
      throw e;
    }
    return new Layer(this, this.#heap, raw, info);
  }

  run(mechanism, options, x, shape, forwardOptions) {
    const layer = this.create(mechanism, options);
    try {
      return layer.forward(x, shape, forwardOptions);
    } finally {
      layer.dispose();
    }
  }

  // Threads used by forward() when it does not say (1 in the single-thread build).
  get threads() { return this.#m.defaultThreads(); }
  set threads(n) {
    sizeOption(n, 'threads', 0);
    this.#m.setDefaultThreads(Math.min(n === 0 ? this.#m.hardwareThreads() : n, MAX_THREADS));
  }
  get hardwareThreads() { return this.#m.hardwareThreads(); }

  // Wasm memory in bytes: the whole linear memory, what malloc holds from it, and what is in use now.
  memory() {
    return {
      wasmBytes: this.#m.HEAP8.buffer.byteLength,
      heapBytes: this.#m.heapArena(),
      inUseBytes: this.#m.heapInUse(),
      liveLayers: this._live.size,
    };
  }

  // Stops the worker threads of the multithreaded build (lets a Node process exit). The module is then unusable.
  terminate() {
    for (const raw of this._live) { try { raw.release(); raw.delete(); } catch { /* ignore */ } }
    this._live.clear();
    if (this._cacheKey) cache.delete(this._cacheKey); // the next load() starts a fresh instance
    this._cacheKey = undefined;
    if (this.#m.PThread) this.#m.PThread.terminateAllThreads();
  }
}

// ---------------------------------------------------------------------------------------------------------
// Loading.

const isNode = typeof process === 'object' && process !== null && !!(process.versions && process.versions.node);
const cache = new Map();

async function instantiate(threaded, moduleOptions) {
  const factory = threaded
    ? (await import('../dist/attnkit-mt.mjs')).default
    : (await import('../dist/attnkit.mjs')).default;
  const m = await factory(moduleOptions);
  if (threaded && isNode && m.PThread) {
    // Let Node exit while the pool's workers idle (they keep the event loop alive otherwise).
    for (const w of [...(m.PThread.unusedWorkers || []), ...(m.PThread.runningWorkers || [])]) {
      if (w && typeof w.unref === 'function') w.unref();
    }
  }
  m.setDefaultThreads(Math.min(m.hardwareThreads(), MAX_THREADS));
  return new Attnkit(m);
}

/**
 * Loads the WebAssembly module. `threads`: 'auto' (default) uses the multithreaded build where
 * SharedArrayBuffer is usable (Node, or a cross-origin-isolated page) and the single-thread build elsewhere;
 * true or false forces one. Repeated calls with the same choice return the same instance.
 */
export async function load(options) {
  const o = checkPlainObject(options, 'load options');
  checkKeys(o, LOAD_KEYS, 'load option');
  const mode = o.threads === undefined ? 'auto' : o.threads;
  if (mode !== 'auto' && typeof mode !== 'boolean') {
    throw new Error(`load option threads must be 'auto', true or false; got ${describe(mode)}`);
  }
  const canThread = typeof SharedArrayBuffer === 'function' && (isNode || globalThis.crossOriginIsolated === true);
  const threaded = mode === 'auto' ? canThread : mode;
  if (threaded && !canThread) {
    throw new Error('load({ threads: true }) needs SharedArrayBuffer: serve the page cross-origin isolated ' +
      "(Cross-Origin-Opener-Policy: same-origin, Cross-Origin-Embedder-Policy: require-corp), or use load({ threads: false })");
  }
  const moduleOptions = {};
  if (o.wasmBinary !== undefined) moduleOptions.wasmBinary = o.wasmBinary;
  if (o.locateFile !== undefined) moduleOptions.locateFile = o.locateFile;
  const custom = Object.keys(moduleOptions).length > 0;
  const key = threaded ? 'mt' : 'st';
  // 'auto' falls back to the single-thread build if the pthreads build is missing or fails to start.
  const start = () => (mode === 'auto' && threaded
    ? instantiate(true, moduleOptions).catch(() => instantiate(false, moduleOptions))
    : instantiate(threaded, moduleOptions));
  if (custom) return start();
  if (!cache.has(key)) {
    const p = start().then((ak) => { ak._cacheKey = key; return ak; });
    cache.set(key, p);
    p.catch(() => cache.delete(key));
  }
  return cache.get(key);
}

export { MECHANISMS as mechanisms };
export default load;
