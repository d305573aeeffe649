// What a hostile caller found (issue "Reliability" §1, JS rows 11–14, 16–17, 21–23 and the "Also" list):
// arguments whose getters, Proxy traps or redefined properties change between reads, or call dispose(),
// ak.terminate() or another forward() in the middle of a call. The package copies every argument once and
// checks the layer and the instance after any code of the caller's could have run, so each row is answered
// by the exact error below, or by the correct result (checked against a float64 reference of `simplified`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import vm from 'node:vm';
import { load } from '../../wasm/index.mjs';
import { DIST, rng, randomArray } from './helpers.mjs';

const ak = await load({ threads: false });
const next = rng(2026);
const X = randomArray(2 * 6 * 3, next); // (2, 6, 3)

// float64 reference of `simplified`: scores = x·xᵀ, weights = softmax(scores), context = weights·x, per batch.
function simplifiedReference(x, [b, n, d]) {
  const out = new Float64Array(b * n * d);
  for (let s = 0; s < b; s++) {
    for (let i = 0; i < n; i++) {
      const scores = [];
      for (let j = 0; j < n; j++) {
        let dot = 0;
        for (let c = 0; c < d; c++) dot += x[(s * n + i) * d + c] * x[(s * n + j) * d + c];
        scores.push(dot);
      }
      const max = Math.max(...scores);
      const e = scores.map((v) => Math.exp(v - max));
      const sum = e.reduce((a, v) => a + v, 0);
      for (let j = 0; j < n; j++)
        for (let c = 0; c < d; c++) out[(s * n + i) * d + c] += (e[j] / sum) * x[(s * n + j) * d + c];
    }
  }
  return out;
}

function assertReference(out, x, shape) {
  const ref = simplifiedReference(x, shape);
  assert.equal(out.context.length, ref.length, 'context length');
  for (let i = 0; i < ref.length; i++) {
    assert.ok(
      Math.abs(out.context[i] - ref[i]) <= 1e-5 * Math.max(1, Math.abs(ref[i])),
      `context[${i}]: ${out.context[i]}, expected ${ref[i]}`,
    );
  }
}

function assertError(thunk, type, message) {
  let error;
  try {
    thunk();
  } catch (e) {
    error = e;
  }
  assert.ok(error !== undefined, 'expected an error, got a result');
  assert.equal(error.constructor, type, `expected ${type.name}, got ${error.constructor.name}: ${error.message}`);
  if (message instanceof RegExp) assert.match(error.message, message);
  else assert.equal(error.message, message);
}

// An Array [6, 3] whose element 0 reads `first` once and `later` afterwards.
function shiftingShape(first, later) {
  let reads = 0;
  const shape = [0, 3];
  Object.defineProperty(shape, 0, { get: () => (reads++ === 0 ? first : later), enumerable: true });
  return shape;
}

const PATHS = [
  ['fast path', undefined],
  ['general path', { returnWeights: true }],
];
const DISPOSED = 'layer was disposed; create a new one with ak.create()';
const TERMINATED_LAYER = 'layer was disposed by ak.terminate(); load a new instance with load() and create a new layer';
const TERMINATED = 'this attnkit instance was terminated (ak.terminate()); load a new one with load()';
const BUILDS = existsSync(join(DIST, 'attnkit-mt.mjs')) ? [false, true] : [false];
const ownInstance = () => load({ threads: false, wasmBinary: readFileSync(join(DIST, 'attnkit.wasm')) });

for (const [path, fo] of PATHS) {
  test(`row 11 (${path}): a shape whose dimension is 6 when read first and 2000 or 600 000 later gives the result for 6`, () => {
    const layer = ak.create('simplified');
    const x = X.subarray(0, 18);
    for (const later of [2000, 600000]) assertReference(layer.forward(x, shiftingShape(6, later), fo), x, [1, 6, 3]);
    // a Proxy shape whose length changes between reads
    let lengthReads = 0;
    const proxy = new Proxy([6, 3], { get: (t, k) => (k === 'length' ? (lengthReads++ === 0 ? 2 : 4000) : t[k]) });
    assertReference(layer.forward(x, proxy, fo), x, [1, 6, 3]);
    layer.dispose();
  });

  test(`rows 12–14 (${path}): getters that dispose the layer, terminate the instance or run another forward mid-call`, async () => {
    const layer = ak.create('simplified');
    const disposing = (target) => {
      const s = [6, 3];
      Object.defineProperty(s, 1, {
        get: () => {
          target.dispose();
          return 3;
        },
      });
      return s;
    };
    assertError(() => layer.forward(X.subarray(0, 18), disposing(layer), fo), Error, DISPOSED);
    // an element of a nested x, and a forward option, that dispose the layer
    const l2 = ak.create('simplified');
    const row = [0.1, 0.2, 0.3];
    Object.defineProperty(row, 2, {
      get: () => {
        l2.dispose();
        return 0.3;
      },
    });
    assertError(() => l2.forward([row, [0.4, 0.5, 0.6]], undefined, fo), Error, DISPOSED);
    const l3 = ak.create('simplified');
    assertError(
      () =>
        l3.forward(X, [2, 6, 3], {
          get train() {
            l3.dispose();
            return false;
          },
          returnWeights: fo !== undefined,
        }),
      Error,
      DISPOSED,
    );
    // a Proxy x (over an Array) whose trap terminates the instance
    const own = await ownInstance();
    const l4 = own.create('simplified');
    const trap = new Proxy(Array.from(X.subarray(0, 18)), {
      get: (t, k) => {
        if (k === '5') own.terminate();
        return t[k];
      },
    });
    assertError(() => l4.forward(trap, [6, 3], fo), Error, TERMINATED_LAYER);
    assertError(() => own.create('simplified'), Error, TERMINATED);
    // another forward on the same layer from inside a getter: both calls give the right numbers
    const l5 = ak.create('simplified');
    let inner = null;
    const xs = X.subarray(0, 18);
    const reentrant = [6, 3];
    Object.defineProperty(reentrant, 0, {
      get: () => {
        if (inner === null) inner = l5.forward(X, [2, 6, 3], fo);
        return 6;
      },
    });
    assertReference(l5.forward(xs, reentrant, fo), xs, [1, 6, 3]);
    assertReference(inner, X, [2, 6, 3]);
    l5.dispose();
  });
}

test('rows 12–14: a create() option getter that terminates the instance, or disposes nothing it needs', async () => {
  const own = await ownInstance();
  assertError(
    () =>
      own.create('self', {
        dIn: 3,
        get dOut() {
          own.terminate();
          return 2;
        },
      }),
    Error,
    TERMINATED,
  );
  assert.equal(own.memory().liveLayers, 0);
});

test('rows 16–17: a stateDict Map with a Symbol, number or object key is refused, naming the key, and leaks nothing', () => {
  const w = [
    [0.1, 0.2],
    [0.3, 0.4],
    [0.5, 0.6],
  ];
  const good = [
    ['W_query', w],
    ['W_key', w],
    ['W_value', w],
  ];
  const cases = [
    [Symbol('W_query'), 'symbol Symbol(W_query)'],
    [7, 'number 7'],
    [{ name: 'W_query' }, 'an object (Object)'],
  ];
  const create = (key) => ak.create('self-v1', { dIn: 3, dOut: 2, stateDict: new Map([...good, [key, w]]) });
  for (const [key, described] of cases) {
    assertError(
      () => create(key),
      Error,
      `stateDict has a key that is not a string: ${described}; expected parameter names such as 'W_query.weight'`,
    );
  }
  // an object state_dict with a Symbol key too
  assertError(
    () => ak.create('self-v1', { dIn: 3, dOut: 2, stateDict: { ...Object.fromEntries(good), [Symbol.iterator]: w } }),
    Error,
    "stateDict has a key that is not a string: symbol Symbol(Symbol.iterator); expected parameter names such as 'W_query.weight'",
  );
  for (const [key] of cases) {
    try {
      create(key);
    } catch {
      /* warm-up */
    }
  }
  const before = ak.memory().inUseBytes;
  for (let i = 0; i < 300; i++)
    for (const [key] of cases) {
      try {
        create(key);
      } catch {
        /* expected */
      }
    }
  assert.equal(ak.memory().inUseBytes, before, 'in-use bytes after 900 refused state_dicts');
  // a Map from another realm is a Map too
  const foreign = vm.runInNewContext('new Map()');
  for (const [k, v] of good) foreign.set(k, v);
  const layer = ak.create('self-v1', { dIn: 3, dOut: 2, stateDict: foreign });
  assert.deepEqual(Array.from(layer.stateDict().W_key.data), w.flat().map(Math.fround));
  layer.dispose();
});

for (const [path, fo] of PATHS) {
  test(`rows 21–23 (${path}): a Proxy of a Float32Array, a view on attnkit's own memory, a Float32Array whose length was redefined`, () => {
    const layer = ak.create('simplified');
    assertError(
      () => layer.forward(new Proxy(X, {}), [2, 6, 3], fo),
      Error,
      'x must be a Float32Array; got an object that only looks like one (a Proxy?); pass the Float32Array itself',
    );
    // length redefined on the array, or by a subclass: the array's real length is what counts
    const lying = X.slice();
    Object.defineProperty(lying, 'length', { value: 6 });
    assertError(() => layer.forward(lying, [2, 3], fo), Error, 'x has 36 elements but shape [2, 3] needs 6');
    assertReference(layer.forward(lying, [2, 6, 3], fo), X, [2, 6, 3]);
    class Short extends Float32Array {
      get length() {
        return 6;
      }
    }
    assertError(() => layer.forward(new Short(X), [2, 3], fo), Error, 'x has 36 elements but shape [2, 3] needs 6');
    assertReference(layer.forward(new Short(X), [2, 6, 3], fo), X, [2, 6, 3]);
    layer.dispose();
  });
}

for (const threads of BUILDS)
  test(`row 22 (${threads ? 'pthreads' : 'single-thread'}): a view on attnkit's own wasm memory, larger than the free heap, is read as it was when forward() was called`, async () => {
    const own = await load({
      threads,
      wasmBinary: readFileSync(join(DIST, threads ? 'attnkit-mt.wasm' : 'attnkit.wasm')),
    });
    const layer = own.create('self', { dIn: 8, dOut: 8, seed: 3 });
    // catch the package's own view on its memory as it copies an input (a hostile caller's trick)
    let memory = null;
    const set = Float32Array.prototype.set;
    Float32Array.prototype.set = function (...args) {
      memory ??= this.buffer;
      return set.apply(this, args);
    };
    try {
      layer.forward(randomArray(16, next), [2, 8]);
    } finally {
      Float32Array.prototype.set = set;
    }
    assert.ok(memory !== null && memory.byteLength >= 16 * 1024 * 1024, 'the wasm memory');
    const { wasmBytes, inUseBytes } = own.memory();
    const tokens = Math.floor(wasmBytes / 32) - 1; // the whole memory as x: more than is free, so the call grows it
    assert.ok(tokens * 32 > wasmBytes - inUseBytes);
    const view = new Float32Array(memory, 0, tokens * 8);
    const honest = new Float32Array(view); // the same numbers, in a buffer of its own
    let viewResult, viewError, honestResult, honestError;
    try {
      viewResult = layer.forward(view, [tokens, 8]);
    } catch (e) {
      viewError = e;
    }
    assert.ok(own.memory().wasmBytes > wasmBytes, 'the call grew the memory');
    try {
      honestResult = layer.forward(honest, [tokens, 8]);
    } catch (e) {
      honestError = e;
    }
    const same = (what) => {
      if (honestError) {
        assert.equal(viewError?.constructor, honestError.constructor, what);
        assert.equal(viewError.message, honestError.message, what); // e.g. a NaN in the heap's bytes, named at its index
      } else {
        assert.equal(viewError, undefined, `${what}: unexpected ${viewError}`);
        assert.deepEqual(viewResult.context, honestResult.context, what);
      }
    };
    same('a new input size (the input buffer is allocated first)');
    // the same size again on a view of the grown memory: nothing is allocated before the copy
    if (!threads) assert.equal(memory.byteLength, 0, 'the growth detached the old buffer');
    let grown = null;
    Float32Array.prototype.set = function (...args) {
      grown ??= this.buffer;
      return set.apply(this, args);
    };
    try {
      layer.forward(honest.subarray(0, 16), [2, 8]);
    } finally {
      Float32Array.prototype.set = set;
    }
    const view2 = new Float32Array(grown, 0, tokens * 8);
    const honest2 = new Float32Array(view2);
    [viewResult, viewError, honestResult, honestError] = [undefined, undefined, undefined, undefined];
    try {
      layer.forward(honest2, [tokens, 8]);
    } catch {
      /* sizes the input buffer for `tokens` */
    }
    try {
      viewResult = layer.forward(view2, [tokens, 8]);
    } catch (e) {
      viewError = e;
    }
    try {
      honestResult = layer.forward(honest2, [tokens, 8]);
    } catch (e) {
      honestError = e;
    }
    same('the same input size');
    own.terminate();
  });

test('Also: options given as a Map are refused (they used to be read as no options at all)', async () => {
  const options = new Map([
    ['dIn', 3],
    ['dOut', 2],
  ]);
  const message = (what) =>
    `${what} must be a plain object; got a Map (its entries are not read as options: pass { name: value, … }, e.g. Object.fromEntries(map))`;
  assertError(() => ak.create('self', options), Error, message('options'));
  const layer = ak.create('simplified');
  assertError(() => layer.forward(X, [2, 6, 3], new Map([['returnWeights', true]])), Error, message('forward options'));
  await assert.rejects(load(new Map([['threads', false]])), { constructor: Error, message: message('load options') });
  // an options object from another realm is a plain object
  const foreign = vm.runInNewContext('({ dIn: 3, dOut: 2, seed: 9 })');
  const a = ak.create('self', foreign);
  const b = ak.create('self', { dIn: 3, dOut: 2, seed: 9 });
  assert.deepEqual(a.forward(X, [2, 6, 3]).context, b.forward(X, [2, 6, 3]).context);
  a.dispose();
  b.dispose();
  layer.dispose();
});

test('Also: a Float32Array from another realm (node:vm) is accepted as x and as state_dict data', () => {
  const foreign = vm.runInNewContext('new Float32Array(36)');
  foreign.set(X);
  const layer = ak.create('simplified');
  for (const [, fo] of PATHS) assertReference(layer.forward(foreign, [2, 6, 3], fo), X, [2, 6, 3]);
  layer.dispose();
  const w = vm.runInNewContext('Float32Array.from([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])');
  const v1 = ak.create('self-v1', {
    dIn: 3,
    dOut: 2,
    stateDict: {
      W_query: { shape: [3, 2], data: w },
      W_key: { shape: [3, 2], data: w },
      W_value: { shape: [3, 2], data: w },
    },
  });
  assert.deepEqual(Array.from(v1.stateDict().W_value.data), Array.from(w));
  v1.dispose();
});

test('Also: ak.threads = 1000 reads back the threads a call uses (1 in the single-thread build)', () => {
  const before = ak.threads;
  ak.threads = 1000;
  assert.equal(ak.threads, 1);
  assert.equal(ak.maxThreads, 1);
  ak.threads = 0;
  assert.equal(ak.threads, 1);
  assertError(
    () => {
      ak.threads = -1;
    },
    RangeError,
    'option threads (-1) must not be negative',
  );
  assertError(
    () => {
      ak.threads = '2';
    },
    Error,
    'option threads must be an integer; got the string "2"',
  );
  ak.threads = before;
});

test("Also: one rule with the CLI for names and float32 rounding: renormalise only; 3.4028235e38 is float32's largest; dropout 0.99999999 < 1", () => {
  assertError(
    () => ak.create('causal', { dIn: 3, dOut: 2, causalRoute: 'renormalize' }),
    Error,
    'option causalRoute must be one of neg-inf, renormalise; got the string "renormalize"',
  );
  // 3.4028235e38 (FLT_MAX as %.8g prints it) rounds to FLT_MAX and is accepted; 3.5e38 rounds to Inf
  const FLT_MAX = 3.4028234663852886e38;
  const w = (v) => ({ W_query: [[v]], W_key: [[v]], W_value: [[v]] });
  const out = ak.run('self-v1', { dIn: 1, dOut: 1, stateDict: w(1e-20) }, [3.4028235e38], [1, 1]);
  assert.equal(out.context[0], Math.fround(FLT_MAX * Math.fround(1e-20)));
  const big = ak.run('self-v1', { dIn: 1, dOut: 1, stateDict: w(3.4028235e38) }, [1e-30], [1, 1]);
  assert.equal(big.context[0], Math.fround(Math.fround(1e-30) * FLT_MAX));
  assertError(
    () => ak.run('self-v1', { dIn: 1, dOut: 1, stateDict: w(1) }, [3.5e38], [1, 1]),
    RangeError,
    'x has 3.5e+38 at index 0, which overflows float32; expected numbers of magnitude at most 3.4028234663852886e+38',
  );
  // dropout is a double, as in PyTorch and the CLI: 0.99999999 is below 1
  const layer = ak.create('causal', { dIn: 3, dOut: 2, dropout: 0.99999999, seed: 1 });
  const plain = ak.create('causal', { dIn: 3, dOut: 2, dropout: 0, seed: 1 });
  assert.deepEqual(
    layer.forward(X, [2, 6, 3]).context,
    plain.forward(X, [2, 6, 3]).context,
    'no dropout outside training',
  );
  assert.ok(layer.forward(X, [2, 6, 3], { train: true }).context.every(Number.isFinite));
  layer.dispose();
  plain.dispose();
  assertError(
    () => ak.create('causal', { dIn: 3, dOut: 2, dropout: 1 }),
    RangeError,
    /^dropout \(1\) must be in \[0, 1\)$/,
  );
});

for (const [path, fo] of PATHS) {
  test(`rows 1–2, JS side (${path}): scores beyond float32 give the representable answer, a projection that overflows an Error naming it`, () => {
    const ones = (rows, cols) => Array.from({ length: rows }, () => new Array(cols).fill(1));
    // row 1: x·Wᵀ = 9e38 for the first token does not fit in float32
    const self = { 'W_query.weight': ones(3, 3), 'W_key.weight': ones(3, 3), 'W_value.weight': ones(3, 3) };
    assertError(
      () =>
        ak.run(
          'self',
          { dIn: 3, dOut: 3, stateDict: self },
          [
            [3e38, 3e38, 3e38],
            [-3e38, 3e38, -3e38],
          ],
          undefined,
          fo,
        ),
      RangeError,
      'queries overflow float32 at batch 0, token 0 (x·W_queryᵀ reached inf); expected inputs and weights whose projections stay below 3.4e38 in magnitude',
    );
    // row 2: scores 1e40…4e40 overflow float32, but the softmax's row maximum makes the answer representable
    const sd = {
      'W_query.weight': [[1]],
      'W_key.weight': [[1]],
      'W_value.weight': [[1]],
      'out_proj.weight': [[1]],
      'out_proj.bias': [0],
    };
    const out = ak.run('multihead', { dIn: 1, dOut: 1, numHeads: 1, stateDict: sd }, [[1e20], [2e20]], undefined, fo);
    assert.deepEqual(Array.from(out.context), [Math.fround(1e20), Math.fround(2e20)]);
    if (fo) assert.deepEqual(Array.from(out.weights), [1, 0, 0, 1]); // causal: the last token attends to itself only
  });
}
