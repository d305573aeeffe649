// attnkit — views on the module's wasm memory, the fast path's header read by name, and the bindings'
// status codes turned into JS errors.
//
// One heap per module, shared by its layers. A call into the module may grow the memory, which detaches the
// old buffer (single-thread build) or leaves the views on the old, shorter SharedArrayBuffer (pthreads
// build): the fast path checks that the views cover what it touches after every call that may grow the
// memory, and calls syncViews() when they do not.

export function makeHeap(m) {
  const layout = m.fastHeaderLayout(); // word offsets into FastHeader (wasm/layer.hpp)
  const heap = {
    m,
    memory: findMemory(m),
    f32: null,
    u32: null,
    status: m.statusCodes(), // { ok, invalid, range } (wasm/errors.hpp)
    headerWords: layout.words,
    contextAddress: layout.contextAddress,
    inputAddress: layout.inputAddress,
    contextRank: layout.contextRank,
    contextDims: layout.contextDims,
  };
  syncViews(heap);
  return heap;
}

// The WebAssembly.Memory: imported in the pthreads build (m.wasmMemory), exported in the single-thread one.
function findMemory(m) {
  if (m.wasmMemory instanceof WebAssembly.Memory) return m.wasmMemory;
  for (const value of Object.values(m.asm || {})) if (value instanceof WebAssembly.Memory) return value;
  return null;
}

// The memory's current buffer (a caller's view on it is copied before use: wasm/src/tensors.mjs).
export function wasmBuffer(heap) {
  return heap.memory !== null ? heap.memory.buffer : heap.m.HEAPF32.buffer;
}

export function syncViews(heap) {
  const buffer = wasmBuffer(heap);
  heap.f32 = new Float32Array(buffer);
  heap.u32 = new Uint32Array(buffer);
  return heap.u32;
}

export function failure(heap, status, message) {
  return status === heap.status.range ? new RangeError(message) : new Error(message);
}

// An Embind entry point's result, or its { error, status } thrown as Error/RangeError.
export function check(heap, result) {
  if (result !== null && typeof result === 'object' && typeof result.error === 'string') {
    throw failure(heap, result.status, result.error);
  }
  return result;
}
