// Memory: create/forward/dispose cycles leave the wasm heap flat; forgotten layers are reclaimed by the
// FinalizationRegistry; results are copies that survive memory growth.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import vm from 'node:vm';
import { setTimeout as sleep } from 'node:timers/promises';
import { load } from '../../wasm/index.mjs';
import { rng, randomArray, mechanismCases } from './helpers.mjs';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');

const ak = await load({ threads: false });
const next = rng(7);
const X = randomArray(2 * 6 * 3, next);
const MECHS = mechanismCases(0.1);

function cycle(i) {
  const [m, o] = MECHS[i % MECHS.length];
  const layer = ak.create(m, { ...o, seed: i });
  const out = layer.forward(X, [2, 6, 3], {
    returnWeights: i % 2 === 0,
    train: i % 3 === 0,
    intermediates: i % 5 === 0,
  });
  layer.dispose();
  return out;
}

// 10 000 by default; ATTNKIT_CYCLES=100000 node --test tests/wasm/memory.test.mjs for the long run.
const CYCLES = Number(process.env.ATTNKIT_CYCLES || 10000);

test(`${CYCLES} create/forward/dispose cycles leave wasm memory flat`, () => {
  for (let i = 0; i < 60; i++) cycle(i); // warm-up: first-use allocations, memory growth
  const before = ak.memory();
  for (let i = 0; i < CYCLES; i++) cycle(i);
  const after = ak.memory();
  assert.equal(after.liveLayers, 0);
  assert.equal(after.inUseBytes, before.inUseBytes, `malloc in-use bytes: ${before.inUseBytes} → ${after.inUseBytes}`);
  assert.equal(after.wasmBytes, before.wasmBytes, `wasm memory: ${before.wasmBytes} → ${after.wasmBytes}`);
  assert.ok(after.heapBytes <= before.heapBytes + 64 * 1024, `malloc arena: ${before.heapBytes} → ${after.heapBytes}`);
});

test('run() disposes its layer, even when forward fails', () => {
  const before = ak.memory();
  for (let i = 0; i < 500; i++) {
    ak.run('multihead', { dIn: 3, dOut: 4, numHeads: 2 }, X, [2, 6, 3], { returnWeights: true });
    assert.throws(() => ak.run('multihead', { dIn: 3, dOut: 4, numHeads: 2 }, X, [2, 9, 2]), Error);
  }
  const after = ak.memory();
  assert.equal(after.liveLayers, before.liveLayers);
  assert.equal(after.inUseBytes, before.inUseBytes);
});

test('forgotten layers are reclaimed by the FinalizationRegistry', async () => {
  const before = ak.memory().inUseBytes;
  (() => {
    for (let i = 0; i < 200; i++) {
      const layer = ak.create('multihead', { dIn: 64, dOut: 64, numHeads: 4 }); // ~66 KB of parameters each
      layer.forward(randomArray(8 * 64, next), [8, 64]);
    }
  })();
  const held = ak.memory().inUseBytes - before;
  assert.ok(held > 200 * 60000, `200 live layers hold ${held} bytes`);
  for (let i = 0; i < 50 && ak.memory().inUseBytes - before > held / 10; i++) {
    gc();
    await sleep(20);
  }
  const left = ak.memory().inUseBytes - before;
  assert.ok(left < held / 10, `after GC ${left} of ${held} bytes still held`);
  assert.ok(ak.memory().liveLayers < 20, `live layers after GC: ${ak.memory().liveLayers}`);
});

test('results are copies: they survive wasm memory growth and later calls', () => {
  const layer = ak.create('multihead', { dIn: 3, dOut: 4, numHeads: 2 });
  const out = layer.forward(X, [2, 6, 3], { returnWeights: true });
  const saved = Array.from(out.context);
  const wasm = ak.memory().wasmBytes;
  // a large call grows the memory (detaching any view on the old buffer): its weights alone are larger than
  // the whole memory now
  const big = ak.create('causal', { dIn: 16, dOut: 16 });
  const n = Math.ceil(Math.sqrt(wasm / 4)) + 64;
  big.forward(randomArray(n * 16, next), [n, 16], { returnWeights: true });
  big.dispose();
  assert.ok(ak.memory().wasmBytes > wasm, 'memory grew');
  assert.equal(out.context.length, 48);
  assert.deepEqual(Array.from(out.context), saved);
  assert.ok(!(out.context.buffer instanceof SharedArrayBuffer));
  assert.notEqual(out.context.buffer.byteLength, ak.memory().wasmBytes);
  // the layer still works after growth
  assert.deepEqual(Array.from(layer.forward(X, [2, 6, 3], { returnWeights: true }).context), saved);
  layer.dispose();
});

test('dispose is idempotent and Symbol.dispose works', () => {
  const layer = ak.create('self', { dIn: 3, dOut: 2 });
  layer.dispose();
  layer.dispose();
  assert.equal(layer.disposed, true);
  const l2 = ak.create('self', { dIn: 3, dOut: 2 });
  l2[Symbol.dispose]();
  assert.equal(l2.disposed, true);
});
