// Same numbers everywhere: the wasm module and the native CLI (build/native/attnkit) agree to ≤ 1e-6
// relative on random cases, with parameters given as a state_dict (--weights) and drawn from a seed.
// The native CLI is built here if it is missing (cmake target `attnkit` in build/).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { load } from '../../wasm/index.mjs';
import { CLI, ensureNative, rng, randomArray } from './helpers.mjs';

const TOL = 1e-6;

ensureNative();
const ak = await load({ threads: false });
const dir = mkdtempSync(join(tmpdir(), 'attnkit-native-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

function nest(data, shape) {
  if (shape.length === 0) return data[0];
  if (shape.length === 1) return Array.from(data);
  const inner = shape.slice(1).reduce((a, b) => a * b, 1);
  const out = [];
  for (let i = 0; i < shape[0]; i++) out.push(nest(data.subarray(i * inner, (i + 1) * inner), shape.slice(1)));
  return out;
}

function flatten(v) {
  return Array.isArray(v) ? v.flatMap(flatten) : [v];
}

let fileCounter = 0;
function runNative(args, x, shape, sd) {
  const id = fileCounter++;
  const input = join(dir, `x${id}.json`);
  writeFileSync(input, JSON.stringify({ x: nest(x, shape) }));
  const argv = ['run', ...args, '--input', input, '--format', 'json'];
  if (sd) {
    const weights = join(dir, `w${id}.json`);
    const obj = {};
    for (const [k, v] of Object.entries(sd)) obj[k] = nest(v.data, v.shape);
    writeFileSync(weights, JSON.stringify(obj));
    argv.push('--weights', weights);
  }
  return JSON.parse(execFileSync(CLI, argv, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 }));
}

// max |a − b| / max |b|: the difference relative to the tensor's scale.
function relDiff(a, b) {
  assert.equal(a.length, b.length, 'lengths');
  let num = 0,
    den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return den === 0 ? num : num / den;
}

const MECHANISMS = ['simplified', 'self-v1', 'self', 'causal', 'multihead-wrapper', 'multihead'];
function randomCase(next, i, big) {
  const mechanism = MECHANISMS[i % MECHANISMS.length];
  const r = (lo, hi) => lo + Math.floor(next() * (hi - lo + 1));
  const heads = mechanism.startsWith('multihead') ? r(1, 4) : 1;
  const headDim = big ? r(16, 40) : r(1, 9);
  const c = {
    mechanism,
    batched: next() < 0.7,
    b: r(1, 3),
    n: big ? r(64, 160) : r(1, 24),
    dIn: big ? r(32, 96) : r(1, 13),
    heads,
    dOut: mechanism === 'multihead' ? heads * headDim : headDim,
    qkvBias: next() < 0.5,
    causal: next() < 0.5,
    seed: r(0, 1e6),
    scale: [0.25, 0.5, 1][r(0, 2)],
  };
  return c;
}

function createOptions(c) {
  if (c.mechanism === 'simplified') return {};
  const o = { dIn: c.dIn, dOut: c.dOut, seed: c.seed };
  if (c.mechanism.startsWith('multihead')) o.numHeads = c.heads;
  if (c.mechanism !== 'self-v1') o.qkvBias = c.qkvBias;
  if (c.mechanism !== 'self-v1') o.causal = c.causal;
  return o;
}

function cliArgs(c) {
  const a = ['--mechanism', c.mechanism];
  if (c.mechanism === 'simplified') return a;
  a.push('--d-out', String(c.dOut), '--seed', String(c.seed));
  if (c.mechanism.startsWith('multihead')) a.push('--heads', String(c.heads));
  if (c.mechanism !== 'self-v1') {
    if (c.qkvBias) a.push('--qkv-bias');
    a.push(c.causal ? '--causal' : '--no-causal');
  }
  return a;
}

const worst = { context: 0, weights: 0, fast: 0 };
const next = rng(20261127);
const cases = [];
for (let i = 0; i < 30; i++) cases.push(randomCase(next, i, false));
for (let i = 0; i < 6; i++) cases.push(randomCase(next, i, true));

for (const [i, c] of cases.entries()) {
  const shape = c.batched ? [c.b, c.n, c.dIn] : [c.n, c.dIn];
  const label = `${c.mechanism} shape [${shape}] dOut ${c.dOut} heads ${c.heads}${c.qkvBias ? ' qkvBias' : ''}${c.causal ? ' causal' : ''} seed ${c.seed}`;
  test(`native vs wasm #${i}: ${label}`, (t) => {
    // inputs scaled by 1/sqrt(d_in) keep the scores O(1): softmax of scores of size s amplifies
    // float32 rounding by about s, so huge scores would measure conditioning, not agreement
    const x = randomArray(
      shape.reduce((a, b) => a * b, 1),
      next,
      c.scale / Math.sqrt(c.dIn),
    );
    const layer = ak.create(c.mechanism, createOptions(c));
    const sd = layer.stateDict();
    const explain = layer.forward(x, shape, { returnWeights: true });
    const fast = layer.forward(x, shape);
    layer.dispose();

    // parameters given as a state_dict (nested lists)
    const viaWeights = runNative(cliArgs(c), x, shape, c.mechanism === 'simplified' ? undefined : sd);
    assert.deepEqual(viaWeights.context_shape, explain.contextShape);
    assert.deepEqual(viaWeights.weights_shape, explain.weightsShape);
    const dc = relDiff(explain.context, flatten(viaWeights.context));
    const dw = relDiff(explain.weights, flatten(viaWeights.attention_weights));
    // parameters drawn natively from the same seed
    const viaSeed = runNative(cliArgs(c), x, shape);
    const ds = relDiff(explain.context, flatten(viaSeed.context));
    // the fused fast path (no weights kept) on both sides
    const viaFast = runNative([...cliArgs(c), '--no-weights'], x, shape, c.mechanism === 'simplified' ? undefined : sd);
    const df = relDiff(fast.context, flatten(viaFast.context));
    worst.context = Math.max(worst.context, dc, ds);
    worst.weights = Math.max(worst.weights, dw);
    worst.fast = Math.max(worst.fast, df);
    t.diagnostic(
      `relative difference: context ${dc.toExponential(2)} (seed-drawn ${ds.toExponential(2)}), weights ${dw.toExponential(2)}, fast path ${df.toExponential(2)}`,
    );
    assert.ok(dc <= TOL, `context differs by ${dc} (relative)`);
    assert.ok(dw <= TOL, `weights differ by ${dw} (relative)`);
    assert.ok(ds <= TOL, `context with seed-drawn parameters differs by ${ds} (relative)`);
    assert.ok(df <= TOL, `fast-path context differs by ${df} (relative)`);
  });
}

test('report: largest native-vs-wasm relative difference', (t) => {
  t.diagnostic(
    `max relative difference native vs wasm: context ${worst.context.toExponential(2)}, ` +
      `weights ${worst.weights.toExponential(2)}, fast path ${worst.fast.toExponential(2)} over ${cases.length} cases`,
  );
  assert.ok(Math.max(worst.context, worst.weights, worst.fast) <= TOL);
});
