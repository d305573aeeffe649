// What a hostile caller found in loading, terminating and sizing (issue "Reliability" §1, JS rows 15, 18–20 and
// the pthreads build's memory() and threads): each answered by an Error/RangeError that says what to fix,
// and a later load() still works.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from '../../wasm/index.mjs';
import { DIST, rng, randomArray } from './helpers.mjs';

const HAS_MT = existsSync(join(DIST, 'attnkit-mt.mjs'));
const BUILDS = HAS_MT ? [false, true] : [false];
const wasmFile = (threads) => join(DIST, threads ? 'attnkit-mt.wasm' : 'attnkit.wasm');
const next = rng(15);
const TERMINATED = 'this attnkit instance was terminated (ak.terminate()); load a new one with load()';

// Runs `body` with console.warn/console.error recorded (what Emscripten prints goes there), and returns the lines.
async function quietly(body) {
  const printed = [];
  const { warn, error } = console;
  console.warn = (...a) => printed.push(a.join(' '));
  console.error = (...a) => printed.push(a.join(' '));
  try {
    await body();
  } finally {
    Object.assign(console, { warn, error });
  }
  return printed;
}

for (const threads of BUILDS) {
  const build = threads ? 'pthreads' : 'single-thread';

  test(`row 15 (${build}): after ak.terminate(), create(), run() and setting threads throw "terminated" (the pthreads build used to hang)`, async () => {
    const ak = await load({ threads, wasmBinary: readFileSync(wasmFile(threads)) });
    const layer = ak.create('self', { dIn: 3, dOut: 2 });
    ak.terminate();
    const t0 = Date.now();
    assert.throws(() => ak.create('self', { dIn: 3, dOut: 2 }).forward(new Float32Array(6), [2, 3]), {
      constructor: Error,
      message: TERMINATED,
    });
    assert.throws(() => ak.run('causal', { dIn: 3, dOut: 2 }, new Float32Array(6), [2, 3]), {
      constructor: Error,
      message: TERMINATED,
    });
    assert.throws(
      () => {
        ak.threads = 1;
      },
      { constructor: Error, message: TERMINATED },
    );
    assert.throws(() => layer.forward(new Float32Array(6), [2, 3]), {
      constructor: Error,
      message: /^layer was disposed by ak\.terminate\(\)/,
    });
    assert.ok(Date.now() - t0 < 1000);
    assert.equal(ak.memory().liveLayers, 0);
    ak.terminate(); // twice is harmless
  });

  test(`rows 12–14 (${build}): a getter that terminates the instance in the middle of forward() or create()`, async () => {
    const ak = await load({ threads, wasmBinary: readFileSync(wasmFile(threads)) });
    const layer = ak.create('multihead', { dIn: 4, dOut: 4, numHeads: 2 });
    const shape = [2, 8, 4];
    Object.defineProperty(shape, 1, {
      get: () => {
        ak.terminate();
        return 8;
      },
    });
    for (const options of [undefined, { returnWeights: true }]) {
      assert.throws(() => layer.forward(randomArray(64, next), shape, options), {
        constructor: Error,
        message: 'layer was disposed by ak.terminate(); load a new instance with load() and create a new layer',
      });
    }
    assert.throws(
      () =>
        ak.create('self', {
          dIn: 3,
          get dOut() {
            ak.terminate();
            return 2;
          },
        }),
      { constructor: Error, message: TERMINATED },
    );
  });

  test(`rows 18–19 (${build}): a bad wasmBinary or locateFile is refused with what to fix, quietly, and a later load() works`, async () => {
    const printed = await quietly(async () => {
      await assert.rejects(load({ threads, wasmBinary: new Uint8Array(10) }), {
        constructor: Error,
        message:
          'load option wasmBinary (10 bytes) is not a valid WebAssembly module; expected the bytes of dist/attnkit.wasm (or dist/attnkit-mt.wasm for threads: true)',
      });
      await assert.rejects(load({ threads, wasmBinary: 'attnkit.wasm' }), {
        constructor: Error,
        message:
          'load option wasmBinary must be an ArrayBuffer or a Uint8Array with the bytes of attnkit.wasm; got the string "attnkit.wasm"',
      });
      await assert.rejects(load({ threads, locateFile: 5 }), {
        constructor: Error,
        message: 'load option locateFile must be a function (path, prefix) => URL or path of the file; got number 5',
      });
      // the other build's module: valid WebAssembly, but not what this glue links
      await assert.rejects(load({ threads, wasmBinary: readFileSync(wasmFile(!threads)) }), {
        constructor: Error,
        message:
          /^load could not start the module from load option wasmBinary: .+; expected the bytes of dist\/attnkit\.wasm \(threads: false\) or dist\/attnkit-mt\.wasm \(threads: true\)$/,
      });
      const missing = join(DIST, 'no-such-file.wasm');
      await assert.rejects(load({ threads, locateFile: () => missing }), {
        constructor: Error,
        message: new RegExp(
          `^load could not start the module from '${missing.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}' \\(what locateFile returned for 'attnkit(-mt)?\\.wasm'\\): .*(ENOENT|no such file).*; expected locateFile to give the path or URL of attnkit(-mt)?\\.wasm$`,
        ),
      });
      await assert.rejects(load({ threads, locateFile: () => 42 }), {
        constructor: Error,
        message:
          /^load could not start .*load option locateFile returned number 42 for 'attnkit(-mt)?\.wasm'; expected its path or URL \(a string\)/,
      });
    });
    assert.deepEqual(printed, [], 'nothing printed while the loads failed');
    const ak = await load({ threads });
    assert.equal(ak.run('self', { dIn: 3, dOut: 2 }, new Float32Array(6), [2, 3]).context.length, 4);
    // locateFile that finds the real file works
    const own = await load({ threads, locateFile: (path) => join(DIST, path) });
    assert.equal(own.multithreaded, threads);
    own.terminate();
  });

  test(`row 20 (${build}): a layer whose parameters cannot fit in 4 GB is refused at once, naming the bytes`, async () => {
    const ak = await load({ threads });
    const t0 = Date.now();
    assert.throws(() => ak.create('self', { dIn: 2 ** 27, dOut: 1 }), {
      constructor: RangeError,
      // 4.5 GB: attnkit::Module::parameter_bytes saturates at SIZE_MAX, 2^32 - 1 in wasm32
      message:
        'creating self with d_in 134217728 and d_out 1 needs more than 4294967295 bytes of wasm memory for its parameters; expected at most 4294967296 bytes (the wasm32 limit)',
    });
    // the stacked q|k|v weight 1.5 GiB (under the 2 GiB a tensor may have), held three times: over 4 GB
    assert.throws(() => ak.create('multihead', { dIn: 16384, dOut: 8192, numHeads: 4 }), {
      constructor: RangeError,
      message: /^creating multihead with d_in 16384 and d_out 8192 needs more than 4294967295 bytes of wasm memory/,
    });
    assert.ok(Date.now() - t0 < 1000, `took ${Date.now() - t0} ms`);
    const before = ak.memory().inUseBytes;
    for (let i = 0; i < 100; i++) assert.throws(() => ak.create('self', { dIn: 2 ** 27, dOut: 1 }), RangeError);
    assert.equal(ak.memory().inUseBytes, before);
  });
}

test(
  'Also (pthreads build): memory().wasmBytes follows the memory as it grows',
  { skip: HAS_MT ? false : 'pthreads build not built' },
  async () => {
    const ak = await load({ threads: true, wasmBinary: readFileSync(wasmFile(true)) });
    const before = ak.memory();
    const layer = ak.create('self', { dIn: 8, dOut: 8 });
    const batches = Math.ceil(before.wasmBytes / (16 * 8 * 4)) + 64; // more input than the memory holds
    layer.forward(new Float32Array(batches * 16 * 8).fill(0.25), [batches, 16, 8]);
    const after = ak.memory();
    assert.ok(after.wasmBytes > before.wasmBytes, `${before.wasmBytes} → ${after.wasmBytes}`);
    assert.ok(
      after.wasmBytes >= after.heapBytes,
      `the linear memory (${after.wasmBytes}) holds malloc's arena (${after.heapBytes})`,
    );
    assert.equal(after.wasmBytes % 65536, 0);
    layer.dispose();
    ak.terminate();
  },
);

test(
  'Also (pthreads build): ak.threads reads back the threads a call uses, at most ak.maxThreads',
  { skip: HAS_MT ? false : 'pthreads build not built' },
  async () => {
    const ak = await load({ threads: true });
    const before = ak.threads;
    ak.threads = 1000;
    assert.equal(ak.maxThreads, 4);
    assert.equal(ak.threads, Math.min(ak.maxThreads, ak.hardwareThreads));
    ak.threads = 1;
    assert.equal(ak.threads, 1);
    const x = randomArray(2 * 32 * 8, next);
    const one = ak.run('multihead', { dIn: 8, dOut: 8, numHeads: 2 }, x, [2, 32, 8]);
    const many = ak.run('multihead', { dIn: 8, dOut: 8, numHeads: 2 }, x, [2, 32, 8], { threads: 1000 }); // capped
    assert.deepEqual(many.context, one.context);
    ak.threads = before;
  },
);
