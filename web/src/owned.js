// Results go to the page by transfer: an array that owns its whole (non-shared) buffer goes as is; a view
// (on wasm memory, or a SharedArrayBuffer in the pthreads build) is copied once, with slice() (a memcpy).
export const copy = (a) =>
  !a
    ? null
    : a.buffer instanceof ArrayBuffer && a.byteOffset === 0 && a.byteLength === a.buffer.byteLength
      ? a
      : a.slice();
