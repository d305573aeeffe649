// attnkit — checks of plain JS values, and the words the messages use for them.
//
// Every check here runs on a value the caller handed over exactly once: the readers below read each option
// of an object once (a getter runs once) and return plain numbers, booleans and strings, which are then
// the only copies the package uses (issue "Reliability", §2: copy once, validate the copy).

export const MAX_SIZE = 0xffffffff; // size_t on wasm32
const FLOAT32_MAX = 3.4028234663852886e38;

const hasOwn = Object.prototype.hasOwnProperty;
const objectToString = Object.prototype.toString;

export function describe(v) {
  if (v === null) return 'null';
  if (typeof v === 'symbol') return `symbol ${String(v)}`;
  if (Array.isArray(v)) return `an Array of length ${v.length}`;
  if (ArrayBuffer.isView(v)) return `a ${v.constructor.name} of length ${v.length}`;
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  if (typeof v === 'object')
    return `an object (${v.constructor && v.constructor.name ? v.constructor.name : 'Object'})`;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return `${typeof v} ${String(v)}`;
  return typeof v;
}

export function fmtShape(shape) {
  return `[${Array.from(shape).join(', ')}]`;
}

// Options are read from an object's properties: anything else is refused, including a Map or a Set, whose
// entries are not properties (a Map of options used to be read as an empty object and silently ignored).
export function checkOptionsObject(obj, what) {
  if (obj === undefined) return undefined;
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj) || ArrayBuffer.isView(obj)) {
    throw new Error(`${what} must be an object; got ${describe(obj)}`);
  }
  const proto = Object.getPrototypeOf(obj);
  if (proto !== Object.prototype && proto !== null) {
    const tag = objectToString.call(obj); // also a Map or Set from another realm
    if (tag === '[object Map]' || tag === '[object Set]') {
      const kind = tag.slice(8, -1);
      throw new Error(
        `${what} must be a plain object; got a ${kind} (its entries are not read as options: pass { name: value, … }, e.g. Object.fromEntries(map))`,
      );
    }
  }
  return obj;
}

// The own enumerable keys (what Object.keys gives, in the same order) must all be in `allowed`. Written with
// for-in and === because forward() runs it on every call: normalising { threads: 1 } took 75 ns with
// Object.keys + includes and takes 40 ns this way (Chromium 156).
export function checkKeys(obj, allowed, what) {
  for (const key in obj) {
    if (!hasOwn.call(obj, key)) continue;
    let known = false;
    for (let i = 0; i < allowed.length; i++) {
      if (allowed[i] === key) {
        known = true;
        break;
      }
    }
    if (!known) throw new Error(`unknown ${what} '${key}'; expected one of ${allowed.join(', ')}`);
  }
}

export function sizeOption(value, name, fallback) {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || !Number.isInteger(value)) {
    throw new Error(`option ${name} must be an integer; got ${describe(value)}`);
  }
  if (value < 0) throw new RangeError(`option ${name} (${value}) must not be negative`);
  if (value > MAX_SIZE) throw new RangeError(`option ${name} (${value}) is too large; expected at most ${MAX_SIZE}`);
  return value;
}

export function boolOption(value, name, fallback) {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new Error(`option ${name} must be true or false; got ${describe(value)}`);
  return value;
}

// [low 32 bits, high 32 bits], or undefined for the core's default seed.
export function seedOption(value) {
  if (value === undefined) return undefined;
  if (typeof value === 'bigint') {
    if (value < 0n || value > 0xffffffffffffffffn) throw new RangeError(`option seed (${value}) must be in [0, 2^64)`);
    return [Number(value & 0xffffffffn), Number(value >> 32n)];
  }
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new Error(`option seed must be a non-negative integer (number or BigInt); got ${describe(value)}`);
  }
  if (value < 0 || value > Number.MAX_SAFE_INTEGER) {
    throw new RangeError(
      `option seed (${value}) must be in [0, ${Number.MAX_SAFE_INTEGER}]; pass a BigInt for larger seeds`,
    );
  }
  return [value % 0x100000000, Math.floor(value / 0x100000000)];
}

// One element of a tensor given as numbers. A finite number that rounds to ±Inf in float32 (1e39) is refused;
// one that rounds to a finite float32 is accepted as that float32 (3.4028235e38, float32's largest value as
// `%.8g` prints it, is FLT_MAX): the rule the CLI applies too. NaN/±Inf are reported by the core.
export function checkNumber(v, what, index) {
  if (typeof v !== 'number') {
    throw new Error(`${what} has a non-number at index ${index}: ${describe(v)}; expected numbers`);
  }
  if (Number.isFinite(v) && !Number.isFinite(Math.fround(v))) {
    throw new RangeError(
      `${what} has ${v} at index ${index}, which overflows float32; expected numbers of magnitude at most ${FLOAT32_MAX}`,
    );
  }
}

// Shape dimensions: integers in [0, MAX_SIZE]. `dims` is already a plain Array the package owns.
export function checkDims(dims, what) {
  for (let i = 0; i < dims.length; i++) {
    const d = dims[i];
    if (typeof d !== 'number' || !Number.isInteger(d)) {
      throw new Error(`${what} ${describe(dims)} must hold integers; got ${describe(d)}`);
    }
    if (d < 0) throw new RangeError(`${what} ${fmtShape(dims)} has a negative dimension`);
    if (d > MAX_SIZE) throw new RangeError(`${what} ${fmtShape(dims)} has a dimension larger than ${MAX_SIZE}`);
  }
  return dims;
}

export function numelOf(shape) {
  let n = 1;
  for (let i = 0; i < shape.length; i++) n *= shape[i];
  return n;
}
