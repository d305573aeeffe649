// The pthreads build (dist/attnkit-mt.*): same numbers as the single-thread build, bitwise identical for any
// thread count, and a Node process that used it exits on its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DIST, ROOT, rng, randomArray } from './helpers.mjs';
import { load } from '../../wasm/index.mjs';

const HAS_MT = existsSync(join(DIST, 'attnkit-mt.mjs'));
const skip = HAS_MT ? false : 'pthreads build not built (ATTNKIT_WASM_MT=0)';

test('load() picks the pthreads build in Node; load({ threads: false }) the single-thread one', { skip }, async () => {
  const mt = await load();
  const st = await load({ threads: false });
  assert.equal(mt.multithreaded, true);
  assert.equal(st.multithreaded, false);
  assert.equal(st.threads, 1);
  assert.ok(mt.threads >= 1 && mt.threads <= 4);
  assert.equal(await load(), mt, 'load() caches the instance');
});

test('bitwise identical results for 1..4 threads, and equal to the single-thread build', { skip }, async () => {
  const mt = await load({ threads: true });
  const st = await load({ threads: false });
  const next = rng(99);
  const x = randomArray(4 * 96 * 48, next, 0.2);
  for (const [m, o] of [
    ['multihead', { dIn: 48, dOut: 48, numHeads: 4 }],
    ['multihead-wrapper', { dIn: 48, dOut: 12, numHeads: 3 }],
    ['causal', { dIn: 48, dOut: 32, dropout: 0.2 }],
  ]) {
    for (const opts of [{}, { returnWeights: true }, { train: true, returnWeights: true }]) {
      const ref = st.run(m, { ...o, seed: 5 }, x, [4, 96, 48], opts);
      for (const threads of [1, 2, 3, 4]) {
        const out = mt.run(m, { ...o, seed: 5 }, x, [4, 96, 48], { ...opts, threads });
        assert.deepEqual(out.context, ref.context, `${m} ${JSON.stringify(opts)} threads ${threads}: context`);
        if (opts.returnWeights) assert.deepEqual(out.weights, ref.weights, `${m} threads ${threads}: weights`);
      }
    }
  }
});

test('a Node process that used the pthreads build exits by itself', { skip }, () => {
  const script = `
    import { load } from ${JSON.stringify(join(ROOT, 'wasm', 'index.mjs'))};
    const ak = await load();
    const out = ak.run('multihead', { dIn: 16, dOut: 16, numHeads: 4 }, new Float32Array(2 * 64 * 16).fill(0.25), [2, 64, 16], { threads: 2 });
    console.log(ak.multithreaded, out.context.length);`;
  const t0 = Date.now();
  const stdout = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    timeout: 20000,
  });
  assert.equal(stdout.trim(), 'true 2048');
  assert.ok(Date.now() - t0 < 15000, 'exited promptly');
});

test('terminate() frees the live layers and the next load() starts a fresh instance', async () => {
  const ak = await load({ threads: false });
  const layer = ak.create('self', { dIn: 3, dOut: 2 });
  ak.terminate();
  assert.equal(ak.memory().liveLayers, 0);
  const again = await load({ threads: false });
  assert.notEqual(again, ak);
  assert.equal(again.run('self', { dIn: 3, dOut: 2 }, new Float32Array(6), [2, 3]).context.length, 4);
  assert.equal(layer.disposed, true);
  assert.throws(() => layer.forward(new Float32Array(6), [2, 3]), {
    constructor: Error,
    message: /^layer was disposed/,
  });
  layer.dispose(); // harmless
});
