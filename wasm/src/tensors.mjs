// attnkit — tensors from the caller, copied or verified once: the input x, shapes, and state_dict entries.
//
// What this file hands on is owned by the package or cannot change under it: plain Arrays of numbers for
// shapes, and for data either a fresh Float32Array or the caller's Float32Array after its internal slots
// were read here (its bytes are copied into wasm memory before any code of the caller's could run again).
import { MAX_SIZE, checkDims, checkNumber, describe, fmtShape, numelOf } from './values.mjs';

// The intrinsic getters of %TypedArray%.prototype read a typed array's internal slots, so an own `length`
// property, a subclass's getter or a Proxy cannot make the package read other bytes than the array holds.
// They work on typed arrays from any realm (a node:vm context, an iframe).
const TypedArrayPrototype = Object.getPrototypeOf(Float32Array.prototype);
const intrinsic = (proto, name) => Object.getOwnPropertyDescriptor(proto, name).get;
const TYPED_ARRAY_NAME = intrinsic(TypedArrayPrototype, Symbol.toStringTag); // undefined for anything else
const TYPED_ARRAY_LENGTH = intrinsic(TypedArrayPrototype, 'length');
const TYPED_ARRAY_BUFFER = intrinsic(TypedArrayPrototype, 'buffer');
const TYPED_ARRAY_OFFSET = intrinsic(TypedArrayPrototype, 'byteOffset');
const ARRAY_BUFFER_LENGTH = intrinsic(ArrayBuffer.prototype, 'byteLength'); // throws for a SharedArrayBuffer
const TYPED_ARRAY_SET = TypedArrayPrototype.set; // a subclass's or an own `set` is never called

export const isFloat32Array = (v) => TYPED_ARRAY_NAME.call(v) === 'Float32Array';
export const float32Length = (v) => TYPED_ARRAY_LENGTH.call(v);

function isOrdinaryArrayBuffer(buffer) {
  try {
    ARRAY_BUFFER_LENGTH.call(buffer);
    return true;
  } catch {
    return false;
  }
}

// A Float32Array whose bytes stay put across a call into wasm that may allocate: the caller's own array when
// its buffer is an ordinary ArrayBuffer other than the wasm memory; otherwise a copy. A view on the
// single-thread build's memory is detached when an allocation grows it, and one on the pthreads build's
// SharedArrayBuffer sees malloc rewrite the bytes it views. (With no call into wasm between the checks and
// the copy into wasm memory, the caller's array is read as it is: the fast path's steady state.)
export function stableFloat32(x, wasmBuffer) {
  const buffer = TYPED_ARRAY_BUFFER.call(x);
  if (buffer !== wasmBuffer && isOrdinaryArrayBuffer(buffer)) return x;
  const copy = new Float32Array(TYPED_ARRAY_LENGTH.call(x));
  copy.set(x);
  return copy;
}

// forward's `out` (a Float32Array, checked as one when the options were read) ← the context's `numel` floats in
// `source`. Checked here, when no code of the caller's can run before the copy: its length now (a getter of x or
// shape may have detached or resized its buffer since), and that it is not a view on attnkit's memory (the context
// would be written over the heap) nor on any SharedArrayBuffer (the pthreads build's memory is one, and an old
// SharedArrayBuffer object of it cannot be told apart from the caller's own).
export function copyToOut(out, source, shape, wasmBuffer) {
  const buffer = TYPED_ARRAY_BUFFER.call(out);
  if (buffer === wasmBuffer || !isOrdinaryArrayBuffer(buffer)) {
    throw new Error(
      `forward option out must be a Float32Array on an ArrayBuffer of its own; got a view on ${buffer === wasmBuffer ? "attnkit's own wasm memory" : 'a SharedArrayBuffer'} (pass a new Float32Array(${numelOf(shape)}))`,
    );
  }
  const length = TYPED_ARRAY_LENGTH.call(out);
  const need = TYPED_ARRAY_LENGTH.call(source);
  if (length !== need) {
    throw new Error(
      `forward option out has ${length} elements${length === 0 ? ' (or its buffer was detached)' : ''}; expected ${need}, the context's shape ${fmtShape(shape)}`,
    );
  }
  TYPED_ARRAY_SET.call(out, source);
  return out;
}

// For Embind, which reads `length` as a property: the same bytes in a view the package made.
export function ownView(data) {
  return new Float32Array(TYPED_ARRAY_BUFFER.call(data), TYPED_ARRAY_OFFSET.call(data), TYPED_ARRAY_LENGTH.call(data));
}

// Flattens nested Arrays of numbers (a PyTorch `tensor.tolist()` dump) into { shape, data }, reading each
// Array's length once and each element once. shape[depth] is fixed by the first Array met at that depth.
// `flatIndex`: a rank-1 result names its bad index as `3` (a flat list), otherwise as `[0, 3]`.
// `booleans`: true and false are read as 1 and 0 (a state_dict's boolean buffers).
export function fromNested(value, what, maxRank = 8, flatIndex = false, booleans = false) {
  const shape = [];
  const values = [];
  const index = [];
  let leafDepth = -1;
  const at = () => (flatIndex && index.length === 1 ? String(index[0]) : `[${index.join(', ')}]`);
  const ragged = (v, depth) =>
    new Error(
      `${what} is ragged at index [${index.join(', ')}]: ${describe(v)}; expected an Array of length ${shape[depth]} (shape ${fmtShape(shape)})`,
    );
  const walk = (v, depth) => {
    if (!Array.isArray(v) || depth === leafDepth) {
      // a number's place (checkNumber names an Array found there)
      if (leafDepth === -1 && depth === shape.length) leafDepth = depth;
      if (depth !== leafDepth) throw ragged(v, depth);
      if (booleans && typeof v === 'boolean') v = v ? 1 : 0;
      checkNumber(v, what, at());
      values.push(v);
      return;
    }
    const length = v.length;
    if (depth === shape.length) {
      // the first Array at this depth (no number seen yet)
      if (depth === maxRank) {
        let total = depth + 1;
        for (let p = v[0]; Array.isArray(p) && total < 1e6; p = p[0]) total++;
        throw new Error(`${what} is nested ${total} levels deep; expected at most ${maxRank}`);
      }
      shape.push(length);
    } else if (length !== shape[depth]) {
      throw ragged(v, depth);
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

// A shape given by the caller → a plain Array the package owns (each dimension read once, not yet checked).
function copyShape(shape, what, maxRank) {
  if (!Array.isArray(shape)) throw new Error(`${what} must be an Array of integers; got ${describe(shape)}`);
  const rank = shape.length;
  if (rank > maxRank) throw new Error(`${what} has rank ${rank}; expected at most ${maxRank}`);
  const dims = new Array(rank);
  for (let i = 0; i < rank; i++) dims[i] = shape[i];
  return dims;
}

export const snapshotShape = (shape, what, maxRank) => checkDims(copyShape(shape, what, maxRank), what);

// A tensor argument other than forward's x (ak.attention's query, key, value; forward's kv) → { shape, data: a
// fresh Float32Array }: a Float32Array with its shape (named `${what}Shape`, e.g. `hint`), or nested Arrays.
export function snapshotTensor(value, shape, what, hint) {
  if (isFloat32Array(value)) {
    if (shape === undefined) throw new Error(`${what}Shape is required with a Float32Array ${what}: ${hint}`);
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
    throw new Error(
      `${what} must be a Float32Array or nested Arrays of numbers; got ${describe(value)} (convert it with Float32Array.from(${what}))`,
    );
  }
  if (value !== null && typeof value === 'object' && describe(value) === 'an object (Float32Array)') {
    throw new Error(
      `${what} must be a Float32Array; got an object that only looks like one (a Proxy?); pass the Float32Array itself`,
    );
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

// What snapshotInput read, for the call that made it. One object, reused, because forward() runs for inputs
// of a few floats and an allocation is a noticeable part of that: snapshotInput writes every field at its
// very end, after the last code of the caller's it may run (a getter that calls forward() again finishes
// first), and the caller reads them before any code of the caller's can run again.
//   data: a Float32Array of `length` floats (its internal length); owned: the package made it (else pass it
//   through stableFloat32 before a call into wasm that may allocate); rank 2: [d0, d1], rank 3: [d0, d1, d2].
export const input = { data: null, owned: false, length: 0, rank: 0, d0: 0, d1: 0, d2: 0 };

const isSize = (d) => typeof d === 'number' && Number.isInteger(d) && d >= 0 && d <= MAX_SIZE;

// forward()'s x and shape → `input`. Call it after every other argument has been read: a Float32Array x is
// verified here, and no code of the caller's may run between this and the copy into wasm memory (a getter
// could detach or resize its buffer).
export function snapshotInput(x, shape) {
  // each dimension read once; ranks other than 2 and 3 are copied (up to 16) to be named in the message
  let rank = -1,
    d0 = 0,
    d1 = 0,
    d2 = 0,
    other;
  if (shape !== undefined) {
    if (!Array.isArray(shape)) throw new Error(`shape must be an Array of integers; got ${describe(shape)}`);
    rank = shape.length;
    if (rank === 2 || rank === 3) {
      d0 = shape[0];
      d1 = shape[1];
      if (rank === 3) d2 = shape[2];
    } else {
      other = copyShape(shape, 'shape', 16);
    }
  }
  let data, owned;
  if (isFloat32Array(x)) {
    data = x;
    owned = false;
  } else if (Array.isArray(x)) {
    const t = fromNested(x, 'x', 3, true);
    data = t.data;
    owned = true;
    if (rank === -1 && t.shape.length > 1) {
      rank = t.shape.length;
      [d0, d1, d2 = 0] = t.shape;
    }
  } else if (TYPED_ARRAY_NAME.call(x) !== undefined) {
    throw new Error(`x must be a Float32Array; got ${describe(x)} (convert it with Float32Array.from(x))`);
  } else if (x !== null && typeof x === 'object' && describe(x) === 'an object (Float32Array)') {
    throw new Error(
      'x must be a Float32Array; got an object that only looks like one (a Proxy?); pass the Float32Array itself',
    );
  } else {
    throw new Error(`x must be a Float32Array; got ${describe(x)}`);
  }
  if (rank === -1) throw new Error('shape is required: [batch, tokens, dIn] or [tokens, dIn]');
  if (other !== undefined) {
    checkDims(other, 'shape');
    throw new Error(`shape ${fmtShape(other)} has rank ${rank}; expected [batch, tokens, dIn] or [tokens, dIn]`);
  }
  if (!isSize(d0) || !isSize(d1) || (rank === 3 && !isSize(d2)))
    checkDims(rank === 3 ? [d0, d1, d2] : [d0, d1], 'shape');
  const need = rank === 3 ? d0 * d1 * d2 : d0 * d1;
  const length = TYPED_ARRAY_LENGTH.call(data);
  if (length !== need) {
    throw new Error(
      `x has ${length} elements but shape ${fmtShape(rank === 3 ? [d0, d1, d2] : [d0, d1])} needs ${need}`,
    );
  }
  input.data = data;
  input.owned = owned;
  input.length = length;
  input.rank = rank;
  input.d0 = d0;
  input.d1 = d1;
  input.d2 = d2;
}
