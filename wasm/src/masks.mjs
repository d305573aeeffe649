// attnkit — masks from the caller (ak.attention's attnMask, forward's keyPaddingMask and attnMask), copied once:
// boolean masks (a Uint8Array of 0/1, or nested Arrays of booleans) become 1/0 floats, additive ones (a
// Float32Array) a fresh copy. What a boolean 1 means is the caller's API's (wasm/src/attention.mjs, layer.mjs).
import { describe, fmtShape, numelOf } from './values.mjs';

const TypedArrayPrototype = Object.getPrototypeOf(Uint8Array.prototype);
const TYPED_ARRAY_NAME = Object.getOwnPropertyDescriptor(TypedArrayPrototype, Symbol.toStringTag).get;
const TYPED_ARRAY_LENGTH = Object.getOwnPropertyDescriptor(TypedArrayPrototype, 'length').get;

// A Uint8Array's 0/1 become 0/1 floats (any other value is reported by the core); a Float32Array is copied.
function copyOf(typed) {
  const data = new Float32Array(TYPED_ARRAY_LENGTH.call(typed));
  data.set(typed);
  return data;
}

// Nested Arrays of booleans → { shape, data: 1/0 floats }, each Array's length and each element read once.
function fromNestedBooleans(value, what) {
  const shape = [];
  const values = [];
  const index = [];
  let leafDepth = -1;
  const walk = (v, depth) => {
    if (!Array.isArray(v) || depth === leafDepth) {
      if (leafDepth === -1 && depth === shape.length) leafDepth = depth;
      if (depth !== leafDepth || typeof v !== 'boolean') {
        throw new Error(
          `${what.name} has ${describe(v)} at index [${index.join(', ')}]; expected an Array of booleans (${what.allowed}) of shape ${fmtShape(shape)}, or a Float32Array of values added to the scores`,
        );
      }
      values.push(v ? 1 : 0);
      return;
    }
    const length = v.length;
    if (depth === shape.length) {
      if (depth === 4) throw new Error(`${what.name} is nested more than 4 levels deep; expected rank 1 to 4`);
      shape.push(length);
    } else if (length !== shape[depth]) {
      throw new Error(
        `${what.name} is ragged at index [${index.join(', ')}]: ${describe(v)}; expected an Array of length ${shape[depth]}`,
      );
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

// A mask → undefined or { kind: 'boolean' | 'additive', shape, data: a fresh Float32Array }. `what`: { name,
// shapeName, allowed: what true means, example: shapes to name }. `shape` undefined: a nested Array's own shape,
// else `defaultShape` (a typed array's implied shape; null: the caller fills it in), else an error.
export function snapshotMask(mask, shape, what, defaultShape) {
  if (mask === undefined) {
    if (shape !== undefined) throw new Error(`option ${what.shapeName} was given without ${what.name}`);
    return undefined;
  }
  const kind = TYPED_ARRAY_NAME.call(mask);
  let t;
  if (kind === 'Float32Array' || kind === 'Uint8Array') {
    if (shape === undefined) shape = defaultShape;
    if (shape === null)
      return { kind: kind === 'Uint8Array' ? 'boolean' : 'additive', shape: null, data: copyOf(mask) };
    if (shape === undefined)
      throw new Error(`${what.shapeName} is required with a ${kind} ${what.name}: e.g. ${what.example}`);
    t = { kind: kind === 'Uint8Array' ? 'boolean' : 'additive', shape, data: copyOf(mask) };
  } else if (Array.isArray(mask)) {
    const nested = fromNestedBooleans(mask, what);
    // a flat Array takes the implied shape when there is one (null: the caller fills it in)
    if (shape === undefined && nested.shape.length === 1 && defaultShape !== undefined) shape = defaultShape;
    if (shape === null) return { kind: 'boolean', shape: null, data: nested.data };
    t = { kind: 'boolean', shape: shape === undefined ? nested.shape : shape, data: nested.data };
  } else {
    throw new Error(
      `${what.name} must be a Uint8Array or an Array of booleans (${what.allowed}), or a Float32Array (added to the scores); got ${describe(mask)}`,
    );
  }
  const need = numelOf(t.shape);
  if (t.data.length !== need) {
    throw new Error(
      `${what.name} has ${t.data.length} elements but ${what.shapeName} ${fmtShape(t.shape)} needs ${need}`,
    );
  }
  return t;
}
