// forward(x, shape, { out }): the context written into the caller's Float32Array (wasm/src/tensors.mjs copyToOut),
// on the fast path and the general one, in both builds: the right numbers (the book's printed ones, a float64
// reference at sizes around the SIMD width), `out` itself returned, and every bad `out` refused with an Error
// naming the expected length, also when a getter of x or shape changes `out` or the layer between the checks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import vm from 'node:vm';
import { load } from '../../wasm/index.mjs';
import { normaliseStateDict, referenceForward } from '../../web/src/reference.js';
import { assertClose, bookTensor, f32, golden, randomArray, rng } from './helpers.mjs';

const next = rng(29);
const BATCH = (() => {
  const inputs = golden('book_01').inputs.inputs_6x3;
  return f32([inputs, inputs]); // torch.stack((inputs, inputs), dim=0), (2, 6, 3)
})();

function assertError(fn, type, message) {
  assert.throws(fn, (e) => {
    assert.equal(e.constructor, type, `${e.constructor.name}: ${e.message}`);
    assert.equal(e.message, message);
    return true;
  });
}

for (const threads of [false, true]) {
  const ak = await load({ threads });
  const build = threads ? 'pthreads' : 'single-thread';
  const book = () => ak.create('multihead', { dIn: 3, dOut: 2, contextLength: 6, dropout: 0, numHeads: 2, seed: 123 });

  test(`${build}: out receives the book's multi-head context (fast and general path) and is returned`, () => {
    const t = bookTensor(golden('book_11'), 'mha = MultiHeadAttention(d_in, d_out, context_length, 0.0, num_heads=2)');
    const layer = book();
    for (const options of [{}, { threads: 1 }, { returnWeights: true }, { intermediates: true }]) {
      const out = new Float32Array(24).fill(NaN);
      const r = layer.forward(BATCH, [2, 6, 3], { ...options, out });
      assert.equal(r.context, out, 'the result is out itself');
      assert.deepEqual(r.contextShape, [2, 6, 2]);
      assertClose(out, t.expected, { atol: t.atol, what: `out with ${JSON.stringify(options)}` });
      if (t.full) assertClose(out, t.full, { atol: 2e-6, rtol: 2e-6, what: 'out, full precision' });
    }
    // the same out again and again: each call overwrites it completely
    const out = new Float32Array(24);
    for (let k = 0; k < 3; k++) {
      out.fill(1e30);
      layer.forward(BATCH, [2, 6, 3], { out });
      assertClose(out, t.expected, { atol: t.atol, what: `out, call ${k}` });
    }
    layer.dispose();
  });

  test(`${build}: out at contexts of 1, 3, 7, W−1, W, W+1, 3W and 8W+2 floats, unaligned, against a float64 reference`, () => {
    for (const numel of [1, 3, 7, 3, 4, 5, 12, 34]) {
      // (1, numel, 1) contexts of a one-head causal layer of dOut 1, or (1, 1, numel) of dOut = numel
      for (const [n, dOut] of [
        [numel, 1],
        [1, numel],
      ]) {
        const dIn = 3;
        const layer = ak.create('multihead', { dIn, dOut, numHeads: 1, contextLength: n, seed: 5 + numel });
        const sd = layer.stateDict();
        const x = randomArray(n * dIn, next, 4);
        const ref = referenceForward('multihead', { dOut, numHeads: 1, causal: true }, normaliseStateDict(sd), x, [
          1,
          n,
          dIn,
        ]);
        // a view at an unaligned start in a larger buffer: only its numel floats are written
        const backing = new Float32Array(numel + 3).fill(-7);
        const out = new Float32Array(backing.buffer, 4, numel);
        const r = layer.forward(x, [1, n, dIn], { out });
        assert.equal(r.context, out);
        assertClose(out, ref.context, { atol: 2e-6, rtol: 2e-6, what: `out (1, ${n}, ${dOut})` });
        assert.equal(backing[0], -7, 'the float before out is untouched');
        assert.equal(backing[numel + 1], -7, 'the float after out is untouched');
        layer.dispose();
      }
    }
  });

  test(`${build}: a bad out is refused with an Error naming the expected length`, () => {
    const layer = book();
    const wrong = (got, fo = {}) =>
      assertError(
        () => layer.forward(BATCH, [2, 6, 3], { ...fo, out: got }),
        Error,
        `forward option out has ${got.length} elements; expected 24, the context's shape [2, 6, 2]`,
      );
    wrong(new Float32Array(23));
    wrong(new Float32Array(25));
    wrong(new Float32Array(23), { returnWeights: true });
    const notF32 = 'forward option out must be a Float32Array with one element per element of the context; got ';
    assertError(
      () => layer.forward(BATCH, [2, 6, 3], { out: new Array(24).fill(0) }),
      Error,
      notF32 + 'an Array of length 24',
    );
    assertError(
      () => layer.forward(BATCH, [2, 6, 3], { out: new Float64Array(24) }),
      Error,
      notF32 + 'a Float64Array of length 24',
    );
    assertError(() => layer.forward(BATCH, [2, 6, 3], { out: null }), Error, notF32 + 'null');
    assertError(
      () => layer.forward(BATCH, [2, 6, 3], { out: new Proxy(new Float32Array(24), {}) }),
      Error,
      notF32 + 'an object (Float32Array)',
    );
    // detached: its length is 0 now
    const detached = new Float32Array(24);
    structuredClone(detached.buffer, { transfer: [detached.buffer] });
    assertError(
      () => layer.forward(BATCH, [2, 6, 3], { out: detached }),
      Error,
      "forward option out has 0 elements (or its buffer was detached); expected 24, the context's shape [2, 6, 2]",
    );
    // on a SharedArrayBuffer (the pthreads build's memory is one): refused in both builds, one rule
    assertError(
      () => layer.forward(BATCH, [2, 6, 3], { out: new Float32Array(new SharedArrayBuffer(96)) }),
      Error,
      'forward option out must be a Float32Array on an ArrayBuffer of its own; got a view on a SharedArrayBuffer (pass a new Float32Array(24))',
    );
    // the layer still works, and a refused out was not written
    const out = new Float32Array(24);
    assert.equal(layer.forward(BATCH, [2, 6, 3], { out }).context, out);
    layer.dispose();
  });

  test(`${build}: out as a view on attnkit's own memory is refused, and the heap is left as it was`, () => {
    const layer = book();
    // catch the package's own view on its memory as it copies an input (a hostile caller's trick)
    let memory = null;
    const set = Float32Array.prototype.set;
    Float32Array.prototype.set = function (...args) {
      memory ??= this.buffer;
      return set.apply(this, args);
    };
    try {
      layer.forward(BATCH, [2, 6, 3]);
    } finally {
      Float32Array.prototype.set = set;
    }
    assert.ok(memory !== null, "caught attnkit's memory");
    const view = new Float32Array(memory, 0, 24);
    const before = view.slice();
    assertError(
      () => layer.forward(BATCH, [2, 6, 3], { out: view }),
      Error,
      "forward option out must be a Float32Array on an ArrayBuffer of its own; got a view on attnkit's own wasm memory (pass a new Float32Array(24))",
    );
    assert.deepEqual(Array.from(view), Array.from(before), 'nothing was written there');
    const t = bookTensor(golden('book_11'), 'mha = MultiHeadAttention(d_in, d_out, context_length, 0.0, num_heads=2)');
    assertClose(layer.forward(BATCH, [2, 6, 3]).context, t.expected, { atol: t.atol, what: 'after the refusal' });
    layer.dispose();
  });

  test(`${build}: a subclass, an own set or length on out change nothing; a getter that detaches or disposes is caught`, () => {
    const t = bookTensor(golden('book_11'), 'mha = MultiHeadAttention(d_in, d_out, context_length, 0.0, num_heads=2)');
    const layer = book();
    let called = 0;
    class Sneaky extends Float32Array {
      set() {
        called++;
      }
      get length() {
        return 3;
      }
    }
    const sub = new Sneaky(24);
    Object.defineProperty(sub, 'set', { value: () => called++ });
    assert.equal(layer.forward(BATCH, [2, 6, 3], { out: sub }).context, sub);
    assert.equal(called, 0, "out's own or inherited set is never called");
    assertClose(new Float32Array(sub.buffer), t.expected, { atol: t.atol, what: 'a subclass out' });
    // a Float32Array from another realm
    const foreign = vm.runInNewContext('new Float32Array(24)');
    layer.forward(BATCH, [2, 6, 3], { out: foreign });
    assertClose(foreign, t.expected, { atol: t.atol, what: 'a cross-realm out' });

    // a shape whose getter detaches out after the options were read
    const out = new Float32Array(24);
    const detaching = [2, 6, 3];
    Object.defineProperty(detaching, 1, {
      get() {
        structuredClone(out.buffer, { transfer: [out.buffer] });
        return 6;
      },
    });
    assertError(
      () => layer.forward(BATCH, detaching, { out }),
      Error,
      "forward option out has 0 elements (or its buffer was detached); expected 24, the context's shape [2, 6, 2]",
    );
    // a getter that disposes the layer: the call stops before any work
    const fresh = new Float32Array(24).fill(5);
    const disposing = [2, 6, 3];
    Object.defineProperty(disposing, 0, {
      get() {
        layer.dispose();
        return 2;
      },
    });
    assertError(
      () => layer.forward(BATCH, disposing, { out: fresh }),
      Error,
      'layer was disposed; create a new one with ak.create()',
    );
    assert.ok(
      fresh.every((v) => v === 5),
      'out untouched',
    );
  });
}
