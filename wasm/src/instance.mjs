// attnkit — Attnkit: one loaded WebAssembly module (what load() resolves to): layers, threads, memory,
// and the facts the core exports (mechanisms, bench configurations, FLOP counts).
import { checkMechanism, normaliseCreateOptions } from './options.mjs';
import { sizeOption } from './values.mjs';
import { check, makeHeap } from './heap.mjs';
import { Layer } from './layer.mjs';
import { benchConfigsOf, mechanismsOf } from './catalog.mjs';
import { snapshotShape } from './tensors.mjs';
import { attentionResult, snapshotAttention } from './attention.mjs';
import { Optimizer, normaliseOptimizerOptions } from './optimizer.mjs';
import { Model, normaliseModelOptions, tasksOf } from './model.mjs';
import { rawLayer } from './layer.mjs';

export class Attnkit {
  #runtime; // { m, heap, live, terminated }, shared with this instance's layers
  #names; // mechanism names, for messages
  #routes; // causal route names
  #onTerminate;

  constructor(m, onTerminate) {
    this.#runtime = { m, heap: makeHeap(m), live: new Set(), terminated: false };
    this.#onTerminate = onTerminate;
    // [{ name, bookClass, description, defaultCausal, hasParameters, options }], from the core's traits table
    this.mechanisms = mechanismsOf(m);
    this.#names = Object.freeze(this.mechanisms.map((t) => t.name));
    this.#routes = Object.freeze(Array.from(m.causalRouteNames()));
    // [{ name, batch, tokens, dIn, dOut, numHeads, causal, description, flops }]: C1–C4, the configurations
    // `attnkit bench` and bench/compare time, with the FLOP count they report against
    this.benchConfigs = benchConfigsOf(m);
    // [{ name, what, causal, tokens, vocab, goalAccuracy, goalSteps }]: createModel's tasks and their goals
    this.tasks = tasksOf(m);
    this.simd = m.simdInstructionSet();
    this.version = m.version();
    this.multithreaded = m.threadedBuild();
    // The pthreads build's worker pool: no call uses more threads (1 in the single-thread build).
    this.maxThreads = m.threadPoolSize;
    // read-only: createModel names ak.tasks in its messages, and a reassigned catalog would say what is not so
    for (const name of ['mechanisms', 'benchConfigs', 'tasks', 'simd', 'version', 'multithreaded', 'maxThreads']) {
      Object.defineProperty(this, name, { writable: false, configurable: false });
    }
  }

  #alive() {
    if (this.#runtime.terminated)
      throw new Error('this attnkit instance was terminated (ak.terminate()); load a new one with load()');
    return this.#runtime.m;
  }

  create(mechanism, options) {
    this.#alive();
    const name = checkMechanism(mechanism, this.#names);
    const { native, stateDict } = normaliseCreateOptions(options, this.#routes);
    const m = this.#alive(); // a getter or Proxy above may have terminated the instance
    const raw = new m.Layer();
    let info;
    try {
      info = check(this.#runtime.heap, raw.init(name, native, stateDict));
    } catch (e) {
      raw.delete();
      throw e;
    }
    return new Layer(this.#runtime, raw, info);
  }

  // Useful FLOPs of one forward pass of create(mechanism, options) on x of `shape` ([b, n, dIn] or [n, dIn]):
  // the core's count (projections, q·kᵀ and weights·v; the masked half of causal attention not counted).
  forwardFlops(mechanism, options, shape) {
    const name = checkMechanism(mechanism, this.#names);
    const { native } = normaliseCreateOptions(options, this.#routes, false);
    const dims = snapshotShape(shape, 'shape', 16);
    return check(this.#runtime.heap, this.#alive().forwardFlops(name, native, dims));
  }

  // Scaled dot-product attention on the caller's query (b, h_q, n_q, d), key (b, h_kv, n_k, d) and value
  // (b, h_kv, n_k, d_v): see wasm/src/attention.mjs and core/include/attnkit/attention.hpp.
  attention(query, key, value, options) {
    this.#alive();
    const s = snapshotAttention(query, key, value, options);
    const m = this.#alive(); // a getter or Proxy above may have terminated the instance
    return attentionResult(check(this.#runtime.heap, m.attention(s.query, s.key, s.value, s.mask, s.native)));
  }

  // torch.optim's AdamW or SGD over `layer`'s parameters (wasm/src/optimizer.mjs).
  optimizer(name, layer, options) {
    this.#alive();
    const native = normaliseOptimizerOptions(name, options);
    const m = this.#alive();
    const { raw: rawTarget, runtime } = rawLayer(layer);
    if (runtime !== this.#runtime)
      throw new Error('layer belongs to another attnkit instance; expected a layer of this one');
    const raw = new m.Optimizer();
    let info;
    try {
      info = check(this.#runtime.heap, raw.init(name, rawTarget, native));
    } catch (e) {
      raw.delete();
      throw e;
    }
    return new Optimizer(layer, raw, this.#runtime, info);
  }

  // The tiny trainable model on a built-in task (wasm/src/model.mjs).
  createModel(options) {
    this.#alive();
    const native = normaliseModelOptions(
      options,
      this.tasks.map((t) => t.name),
    );
    const m = this.#alive();
    const raw = new m.Model();
    let info;
    try {
      info = check(this.#runtime.heap, raw.init(native));
    } catch (e) {
      raw.delete();
      throw e;
    }
    return new Model(this.#runtime, raw, info);
  }

  run(mechanism, options, x, shape, forwardOptions) {
    const layer = this.create(mechanism, options);
    try {
      return layer.forward(x, shape, forwardOptions);
    } finally {
      layer.dispose();
    }
  }

  // Threads used by forward() when it does not say. Setting it caps the value at the worker pool and the
  // hardware, and reading it back gives the number a call uses (always 1 in the single-thread build).
  get threads() {
    return this.#runtime.m.defaultThreads();
  }
  set threads(n) {
    const value = sizeOption(n, 'threads', 0);
    this.#alive().setDefaultThreads(value);
  }
  get hardwareThreads() {
    return this.#runtime.m.hardwareThreads();
  }

  // Wasm memory in bytes: the whole linear memory, what malloc holds from it, and what is in use now.
  memory() {
    const m = this.#runtime.m;
    return {
      wasmBytes: m.wasmMemoryBytes(),
      heapBytes: m.heapArena(),
      inUseBytes: m.heapInUse(),
      liveLayers: this.#runtime.live.size,
    };
  }

  // Frees every live layer and stops the worker threads of the pthreads build (lets a Node process exit).
  // The instance is unusable afterwards: create(), run() and setting threads throw.
  terminate() {
    const runtime = this.#runtime;
    for (const raw of runtime.live) {
      try {
        raw.release();
        raw.delete();
      } catch {
        /* ignore */
      }
    }
    runtime.live.clear();
    if (runtime.terminated) return;
    runtime.terminated = true;
    this.#onTerminate(this);
    if (runtime.m.PThread) runtime.m.PThread.terminateAllThreads();
  }
}
