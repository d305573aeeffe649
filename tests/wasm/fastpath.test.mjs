// forward() without returnWeights/intermediates takes a numbers-only fast path (wasm/index.mjs #forwardFast):
// it must give the same bits, shapes and errors as the general path, survive memory growth, and leak nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { load } from '../../wasm/index.mjs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { rng, randomArray, DIST, mechanismCases } from './helpers.mjs';
import createSingle from '../../dist/attnkit.mjs';

// The general path, called on the Embind layer directly (the package routes these calls to the fast path).
const embind = await createSingle();
function generalForward(mechanism, o, x, shape, fo = {}) {
  const raw = new embind.Layer();
  try {
    const info = raw.init(
      mechanism,
      {
        d_in: o.dIn ?? 0,
        d_out: o.dOut ?? 0,
        num_heads: o.numHeads ?? 1,
        context_length: o.contextLength ?? 0,
        causal: null,
        qkv_bias: o.qkvBias ?? false,
        dropout: o.dropout ?? 0,
        seed_lo: o.seed ?? 123,
        seed_hi: 0,
        causal_route: 'neg-inf',
      },
      undefined,
    );
    assert.equal(info.error, undefined);
    const opts = { return_weights: false, train: fo.train ?? false, intermediates: false, threads: 1 };
    const first = raw.forward(x, shape, opts);
    const second = raw.forward(x, shape, opts);
    return [first, second];
  } finally {
    raw.release();
    raw.delete();
  }
}

const next = rng(11);
const MECHS = mechanismCases(0.25);
const bits = (f32) => Array.from(new Uint32Array(f32.buffer, f32.byteOffset, f32.length));

for (const threads of [false, true]) {
  const ak = await load({ threads });
  const build = threads ? 'pthreads' : 'single-thread';

  test(`${build}: fast path and general path give identical bits and shapes`, () => {
    for (const [m, o] of MECHS) {
      for (const shape of [
        [2, 6, 3],
        [6, 3],
        [1, 1, 3],
        [3, 2, 3],
      ]) {
        for (const fo of [undefined, {}, { train: true }, { threads: 2 }]) {
          const x = randomArray(
            shape.reduce((a, b) => a * b, 1),
            next,
          );
          // fresh layers, so that dropout draws the same masks on both paths
          const a = ak.create(m, { ...o, seed: 5 });
          const fast = a.forward(x, shape, fo);
          const [general, general2] = generalForward(m, { ...o, seed: 5 }, x, shape, fo);
          const what = `${m} ${JSON.stringify(shape)} ${JSON.stringify(fo)}`;
          assert.deepEqual(Object.keys(fast), ['context', 'contextShape'], what);
          assert.deepEqual(fast.contextShape, general.context.shape, what);
          assert.deepEqual(bits(fast.context), bits(general.context.data), what);
          assert.ok(fast.context.buffer instanceof ArrayBuffer, `${what}: a copy, not a view on wasm memory`);
          // a second call on the same layer reuses the buffers and still agrees with the general path
          const fast2 = a.forward(x, shape, fo);
          assert.deepEqual(bits(fast2.context), bits(general2.context.data), `${what}, second call`);
          a.dispose();
        }
      }
    }
  });

  test(`${build}: fast path reports the core's errors like the general path, and leaks nothing`, () => {
    const layer = ak.create('multihead', { dIn: 3, dOut: 4, numHeads: 2, contextLength: 6 });
    const x = randomArray(2 * 7 * 3, next);
    layer.forward(randomArray(36, next), [2, 6, 3]); // buffers allocated
    const before = ak.memory().inUseBytes;
    for (const [xs, shape] of [
      [x, [2, 7, 3]],
      [randomArray(8, next), [2, 4]],
      [randomArray(0, next), [0, 0]],
    ]) {
      let fastErr, generalErr;
      try {
        layer.forward(xs, shape);
      } catch (e) {
        fastErr = e;
      }
      try {
        layer.forward(xs, shape, { returnWeights: true });
      } catch (e) {
        generalErr = e;
      }
      assert.ok(fastErr && generalErr, `both paths throw for ${JSON.stringify(shape)}`);
      assert.equal(fastErr.constructor, generalErr.constructor);
      assert.equal(fastErr.message, generalErr.message);
    }
    for (let i = 0; i < 200; i++) assert.throws(() => layer.forward(x, [2, 7, 3]), RangeError);
    layer.forward(randomArray(36, next), [2, 6, 3]);
    assert.equal(ak.memory().inUseBytes, before, 'errors on the fast path free what they allocated');
    layer.dispose();
    assert.throws(() => layer.forward(x, [2, 7, 3]), { message: /^layer was disposed/ });
  });

  test(`${build}: fast path survives wasm memory growth between and inside calls`, () => {
    const small = ak.create('self', { dIn: 8, dOut: 8 });
    const xs = randomArray(4 * 8, next);
    const ref = bits(generalForward('self', { dIn: 8, dOut: 8 }, xs, [4, 8])[0].context.data);
    assert.deepEqual(bits(small.forward(xs, [4, 8]).context), ref);
    const big = ak.create('self', { dIn: 8, dOut: 8 });
    const wasmBefore = ak.memory().wasmBytes;
    const b = 1 << 19; // 64 MB of input (4 tokens per sequence): grows the memory inside the call
    const out = big.forward(new Float32Array(b * 4 * 8).fill(0.5), [b, 4, 8]);
    assert.equal(out.context.length, b * 4 * 8);
    assert.ok(ak.memory().wasmBytes > wasmBefore, 'memory grew');
    assert.deepEqual(bits(small.forward(xs, [4, 8]).context), ref, 'after growth');
    big.dispose();
    small.dispose();
  });
}

// ---------------------------------------------------------------------------------------------------------
// The fast path's plain C exports (attnkit_input_buffer / attnkit_forward_fast, wasm/bindings.cpp).

const closeTo = (a, b, rel) => {
  let worst = 0,
    scale = 0;
  for (let i = 0; i < b.length; i++) {
    worst = Math.max(worst, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return worst <= rel * scale;
};

for (const threads of [false, true]) {
  const ak = await load({ threads });
  const build = threads ? 'pthreads' : 'single-thread';

  test(`${build}: fast path agrees with the returnWeights path (same shapes, context within 1e-6), batched and unbatched`, () => {
    // returnWeights takes the core's materialised-weights route; the fast path (and the general path without
    // weights) takes the fused one, whose rounding may differ in the last bit. Bits are compared with the
    // general path on the same route (first test above); here the two routes must agree closely.
    for (const [m, o] of MECHS) {
      const layer = ak.create(m, { ...o, seed: 9 });
      for (const shape of [
        [2, 6, 3],
        [6, 3],
        [1, 1, 3],
      ]) {
        const x = randomArray(
          shape.reduce((a, b) => a * b, 1),
          next,
        );
        const fast = layer.forward(x, shape);
        const withWeights = layer.forward(x, shape, { returnWeights: true });
        const what = `${m} ${JSON.stringify(shape)}`;
        assert.deepEqual(fast.contextShape, withWeights.contextShape, what);
        assert.ok(
          closeTo(fast.context, withWeights.context, 1e-6),
          `${what}: ${fast.context} vs ${withWeights.context}`,
        );
        // the same call through options that still take the fast path gives the same bits
        assert.deepEqual(bits(layer.forward(x, shape, {}).context), bits(fast.context), `${what} {}`);
        assert.deepEqual(
          bits(layer.forward(x, shape, { returnWeights: false, intermediates: false }).context),
          bits(fast.context),
          `${what} explicit false`,
        );
      }
      layer.dispose();
    }
  });

  test(`${build}: results are fresh arrays the caller owns`, () => {
    const layer = ak.create('multihead', { dIn: 3, dOut: 4, numHeads: 2, contextLength: 6 });
    const x = randomArray(36, next);
    const a = layer.forward(x, [2, 6, 3]);
    const b = layer.forward(x, [2, 6, 3]);
    assert.notEqual(a.context, b.context);
    assert.notEqual(a.context.buffer, b.context.buffer);
    assert.notEqual(a.contextShape, b.contextShape);
    assert.equal(a.context.byteOffset, 0);
    assert.equal(a.context.buffer.byteLength, a.context.byteLength, 'the result owns its whole buffer (transferable)');
    const saved = Array.from(a.context);
    a.context.fill(7);
    a.contextShape.push(99);
    assert.deepEqual(
      Array.from(layer.forward(x, [2, 6, 3]).context),
      saved,
      'writing a result changes nothing in the layer',
    );
    assert.deepEqual(layer.forward(x, [2, 6, 3]).contextShape, [2, 6, 4]);
    layer.dispose();
  });

  test(`${build}: every error the core reports comes out of the fast path as on the general path`, () => {
    const layer = ak.create('multihead', { dIn: 3, dOut: 4, numHeads: 2, contextLength: 6 });
    const nan = randomArray(36, next);
    nan[4] = NaN;
    const inf = randomArray(18, next);
    inf[17] = -Infinity;
    const cases = [
      [randomArray(48, next), [2, 6, 4]], // d_in mismatch
      [randomArray(2 * 7 * 3, next), [2, 7, 3]], // too many tokens
      [nan, [2, 6, 3]], // NaN
      [inf, [6, 3]], // -Inf, unbatched
      [randomArray(0, next), [0, 6, 3]], // empty batch
      [randomArray(0, next), [2, 0, 3]], // no tokens
    ];
    for (const [xs, shape] of cases) {
      let fastErr = null,
        generalErr = null,
        fastOut,
        generalOut;
      try {
        fastOut = layer.forward(xs, shape);
      } catch (e) {
        fastErr = e;
      }
      try {
        generalOut = layer.forward(xs, shape, { returnWeights: true });
      } catch (e) {
        generalErr = e;
      }
      const what = JSON.stringify(shape);
      assert.equal(
        fastErr === null,
        generalErr === null,
        `${what}: both paths throw, or neither (${fastErr?.message} / ${generalErr?.message})`,
      );
      if (fastErr) {
        assert.equal(fastErr.constructor, generalErr.constructor, what);
        assert.equal(fastErr.message, generalErr.message, what);
        assert.ok(fastErr instanceof Error, what);
      } else {
        assert.deepEqual(fastOut.contextShape, generalOut.contextShape, what);
      }
    }
    // the layer still works after every kind of error
    const x = randomArray(36, next);
    assert.deepEqual(bits(layer.forward(x, [2, 6, 3]).context), bits(layer.forward(x, [2, 6, 3]).context));
    layer.dispose();
  });

  test(`${build}: a disposed layer, or one freed by terminate(), is refused before any call into wasm`, async () => {
    const layer = ak.create('causal', { dIn: 3, dOut: 2 });
    const x = randomArray(18, next);
    layer.forward(x, [6, 3]);
    layer.dispose();
    for (const options of [undefined, {}, { threads: 1 }, { returnWeights: true }]) {
      assert.throws(
        () => layer.forward(x, [6, 3], options),
        (e) => e.constructor === Error && e.message === 'layer was disposed; create a new one with ak.create()',
      );
    }
    // terminate() frees the layers of its instance; a custom-options load gives an instance of our own
    const own = await load({
      threads,
      wasmBinary: readFileSync(join(DIST, threads ? 'attnkit-mt.wasm' : 'attnkit.wasm')),
    });
    const other = own.create('causal', { dIn: 3, dOut: 2 });
    other.forward(x, [6, 3]);
    own.terminate();
    assert.equal(other.disposed, true);
    assert.throws(() => other.forward(x, [6, 3]), { message: /^layer was disposed/ });
  });

  test(`${build}: memory growth between calls, by other layers and before a layer exists`, async () => {
    // an instance of our own, so that its memory starts small (16 MB) and a modest input grows it
    const own = await load({
      threads,
      wasmBinary: readFileSync(join(DIST, threads ? 'attnkit-mt.wasm' : 'attnkit.wasm')),
    });
    try {
      const x = randomArray(4 * 8, next);
      const ref = bits(generalForward('self', { dIn: 8, dOut: 8 }, x, [4, 8])[0].context.data);
      const a = own.create('self', { dIn: 8, dOut: 8 });
      assert.deepEqual(bits(a.forward(x, [4, 8]).context), ref);
      for (let round = 0; round < 2; round++) {
        // another layer grows the memory between two calls of `a`: its input alone needs more bytes than the
        // memory has free (sequences of 16 tokens, so the work stays small)
        const grower = own.create('self', { dIn: 8, dOut: 8 });
        const { wasmBytes: wasmBefore, inUseBytes } = own.memory();
        const batches = Math.ceil((wasmBefore - inUseBytes) / (16 * 8 * 4)) + 64;
        grower.forward(new Float32Array(batches * 16 * 8).fill(0.25), [batches, 16, 8]);
        assert.ok(own.memory().wasmBytes > wasmBefore, `round ${round}: memory grew`);
        grower.dispose();
        // a layer created after the growth (its header may lie beyond the old memory) and the old one
        const b = own.create('self', { dIn: 8, dOut: 8 });
        assert.deepEqual(bits(b.forward(x, [4, 8]).context), ref, `round ${round}: new layer`);
        assert.deepEqual(bits(a.forward(x, [4, 8]).context), ref, `round ${round}: old layer`);
        // a new input size on `a` re-allocates its input buffer (which may grow the memory) before the copy
        const x2 = randomArray(5 * 8, next);
        assert.deepEqual(
          bits(a.forward(x2, [5, 8]).context),
          bits(b.forward(x2, [5, 8]).context),
          `round ${round}: new size`,
        );
        b.dispose();
      }
      a.dispose();
    } finally {
      own.terminate();
    }
  });
}

test('the fast path is exported as plain C functions, and the Embind layer no longer carries it', () => {
  assert.equal(typeof embind._attnkit_forward_fast, 'function');
  assert.equal(typeof embind._attnkit_input_buffer, 'function');
  const raw = new embind.Layer();
  try {
    assert.equal(raw.forwardFast, undefined);
    assert.equal(raw.inputBuffer, undefined);
    const info = raw.init(
      'causal',
      {
        d_in: 3,
        d_out: 2,
        num_heads: 1,
        context_length: 0,
        causal: null,
        qkv_bias: false,
        dropout: 0,
        seed_lo: 123,
        seed_hi: 0,
        causal_route: 'neg-inf',
      },
      undefined,
    );
    assert.equal(info.error, undefined);
    const self = raw.address();
    const hdr = raw.fastHeaderAddress() >>> 2;
    // the header's layout and the status codes are exported by name (wasm/layer.hpp, wasm/errors.hpp)
    const layout = embind.fastHeaderLayout();
    assert.deepEqual(embind.statusCodes(), { ok: 0, invalid: 1, range: 2 });
    assert.equal(layout.maxRank, 4);
    assert.equal(layout.contextDims + layout.maxRank, layout.words);
    assert.equal(embind._attnkit_input_buffer(self, 18), 0);
    const x = randomArray(18, next);
    embind.HEAPF32.set(x, embind.HEAPU32[hdr + layout.inputAddress] >>> 2);
    assert.equal(embind._attnkit_forward_fast(self, 2, 0, 6, 3, 0, 1), 0);
    const u32 = embind.HEAPU32; // re-read: the call may have grown the memory
    assert.equal(u32[hdr + layout.contextRank], 2, 'rank in the header');
    assert.deepEqual(
      Array.from(u32.subarray(hdr + layout.contextDims, hdr + layout.contextDims + 2)),
      [6, 2],
      'dimensions in the header',
    );
    const at = u32[hdr + layout.contextAddress] >>> 2;
    const ctx = embind.HEAPF32.slice(at, at + 12);
    const general = raw.forward(x, [6, 3], { return_weights: false, train: false, intermediates: false, threads: 1 });
    assert.deepEqual(bits(ctx), bits(general.context.data));
    // errors: 2 for a RangeError, 1 for an Error, with the message from lastError()
    assert.equal(embind._attnkit_input_buffer(self, 21), 0);
    assert.equal(embind._attnkit_forward_fast(self, 2, 0, 7, 3, 0, 1), 0, 'no context_length: 7 tokens are fine');
    assert.equal(embind._attnkit_input_buffer(self, 24), 0);
    assert.equal(embind._attnkit_forward_fast(self, 2, 0, 6, 4, 0, 1), 1);
    assert.match(raw.lastError(), /d_in|3/);
    // sizes up to 2^32 - 1 arrive intact (uint32): this one is refused by the size check, not wrapped to a small number
    assert.equal(embind._attnkit_input_buffer(self, 0), 0);
    assert.equal(embind._attnkit_forward_fast(self, 3, 0xffffffff, 0xffffffff, 3, 0, 1), 2);
    assert.match(raw.lastError(), /4294967295/);
  } finally {
    raw.release();
    raw.delete();
  }
});

test('the single-thread build uses WebAssembly exception handling (no JS invoke_* trampolines)', () => {
  // wasm/CMakeLists.txt: -fwasm-exceptions for the single-thread build. With Emscripten's JS-based exceptions
  // every call that may throw inside a try (or a scope with destructors) leaves wasm through a JS invoke_*
  // wrapper, about 18 of them per small forward. The pthreads build keeps them (see the CMakeLists).
  const glue = readFileSync(join(DIST, 'attnkit.mjs'), 'utf8');
  assert.equal(/function invoke_/.test(glue), false, 'attnkit.mjs defines invoke_* wrappers');
  assert.equal(/function invoke_/.test(readFileSync(join(DIST, 'attnkit-mt.mjs'), 'utf8')), true);
});
