// attnkit — a state_dict from the caller → [{ name, shape, data }] the bindings copy into the core.
//
// Accepted: an object or a Map from parameter names to nested Arrays of numbers or booleans (what PyTorch's
// `{k: v.tolist() for k, v in model.state_dict().items()}` dumps; a 0-d tensor is a bare number) or to
// { shape, data }. Each name, value,
// shape and data is read once; keys must be strings (a Symbol, number or object key of a Map is named in
// the error, before anything reaches wasm, so nothing is allocated for a call that fails here).
import { checkNumber, describe, fmtShape, numelOf } from './values.mjs';
import { float32Length, fromNested, isFloat32Array, snapshotShape } from './tensors.mjs';

const MAP_SIZE = Object.getOwnPropertyDescriptor(Map.prototype, 'size').get;
const MAP_ENTRIES = Map.prototype.entries;

function isMap(v) {
  // a Map from any realm, and not a Proxy or an object that inherits from Map.prototype
  try {
    MAP_SIZE.call(v);
    return true;
  } catch {
    return false;
  }
}

function entry(name, value, dict) {
  if (typeof name !== 'string') {
    throw new Error(
      `${dict} has a key that is not a string: ${describe(name)}; expected parameter names such as 'W_query.weight'`,
    );
  }
  const what = `${dict}['${name}']`;
  if (Array.isArray(value)) {
    // booleans as 0/1: GPT-2's `bias` buffer is a boolean mask (the CLI reads them the same way)
    const { shape, data } = fromNested(value, what, 4, false, true);
    return { name, shape, data };
  }
  if (typeof value === 'number') {
    // a 0-d tensor, as PyTorch's tolist() dumps one (GPT-2's masked_bias)
    checkNumber(value, what, '[]');
    return { name, shape: [], data: new Float32Array([value]) };
  }
  if (isFloat32Array(value)) {
    throw new Error(`${what} is a Float32Array without a shape; pass { shape, data } or nested Arrays`);
  }
  if (value !== null && typeof value === 'object' && !ArrayBuffer.isView(value) && 'data' in value) {
    const shapeGiven = value.shape;
    let data = value.data;
    const shape = snapshotShape(shapeGiven, `${what}.shape`, 8);
    if (Array.isArray(data)) {
      data = fromNested(data, `${what}.data`, 8, true).data;
    } else if (isFloat32Array(data)) {
      // always a copy: a getter of a later entry could still detach or resize the caller's buffer
      const copy = new Float32Array(float32Length(data));
      copy.set(data);
      data = copy;
    } else {
      throw new Error(`${what}.data must be a Float32Array or an Array of numbers; got ${describe(data)}`);
    }
    if (data.length !== numelOf(shape)) {
      throw new Error(`${what}.data has ${data.length} elements but shape ${fmtShape(shape)} needs ${numelOf(shape)}`);
    }
    return { name, shape, data };
  }
  throw new Error(`${what} must be nested Arrays of numbers, a number or { shape, data }; got ${describe(value)}`);
}

// `dict`: its name in messages (optimizer.step()'s gradients are read the same way).
export function normaliseStateDict(sd, dict = 'stateDict') {
  if (sd === undefined) return undefined;
  if (sd === null || typeof sd !== 'object' || Array.isArray(sd) || ArrayBuffer.isView(sd)) {
    const what = dict === 'stateDict' ? 'option stateDict' : dict;
    throw new Error(`${what} must be an object mapping parameter names to tensors; got ${describe(sd)}`);
  }
  const out = [];
  if (isMap(sd)) {
    for (const [name, value] of MAP_ENTRIES.call(sd)) out.push(entry(name, value, dict));
    return out;
  }
  for (const symbol of Object.getOwnPropertySymbols(sd)) {
    if (Object.prototype.propertyIsEnumerable.call(sd, symbol)) entry(symbol, undefined, dict); // throws, naming it
  }
  for (const [name, value] of Object.entries(sd)) out.push(entry(name, value, dict));
  return out;
}
