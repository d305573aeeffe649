// bench/compare/goals.mjs: issue 14's goals table, from a run's JSON. Synthetic runs with known figures: each goal's
// figure, its verdict at and around its bar, a missing cell reported as not measured, a peer's failure at C5 in words.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GOALS, failureText, goalRows, goalsMarkdown } from '../../bench/compare/goals.mjs';

const native = (peer, config, threads, extra) => ({ env: 'native', peer, config, threads, ...extra });
const attnkit = (config, threads, median_ms, extra = {}) =>
  native('attnkit-native', config, threads, { median_ms, simd: 'avx512bw', peak_gflops_per_core: 110, ...extra });

function run(overrides = {}) {
  return {
    machine: { cores: 2, attnkit: { cpu: 'AMD EPYC', family: 25, model: 17, mhz: 2596, table: 'avx512bw' } },
    options: { peer_data_limit_gb: 8 },
    results: [
      attnkit('C2', 1, 80, {
        efficiency: 0.7,
        gflops: 88,
        efficiency_cpu: 0.8,
        cpu_median_ms: 72,
        peak_gflops_per_core_cpu: 111,
      }),
      attnkit('C2', 2, 42.2),
      attnkit('C3', 1, 60),
      attnkit('C3', 2, 30),
      attnkit('C4', 1, 600, { efficiency: 0.7499, gflops: 82 }),
      attnkit('C4', 2, 320),
      attnkit('C5', 1, 9000, { max_rss_mb: 333.4 }),
      attnkit('C5', 2, 5000, { max_rss_mb: 400.1 }),
      native('ort-node', 'C2', 1, { median_ms: 144, paired_ratio: 1.8 }),
      native('ort-node', 'C4', 1, { median_ms: 1500, paired_ratio: 2.5 }),
      native('ort-node', 'C5', 1, {
        error: 'Error: Non-zero status … Failed to allocate memory for requested buffer of size 12884901888 | at',
      }),
      native('pytorch', 'C2', 1, { median_ms: 400 }),
      { env: 'chromium', peer: 'attnkit-wasm', config: 'C1', threads: 1, median_ms: 0.002 },
      { env: 'chromium', peer: 'plain-js', config: 'C1', threads: 1, median_ms: 0.0019, paired_ratio: 0.95 },
      { env: 'chromium', peer: 'attnkit-wasm', config: 'C2', threads: 1, median_ms: 240 },
      { env: 'chromium', peer: 'attnkit-wasm', config: 'C2', threads: 2, median_ms: 120 },
    ],
    weights: {
      native: { fused_ms: 80, weights_ms: 104, ratio: 1.3, how: 'test' },
      wasm: { fused_ms: 300, weights_ms: 393, ratio: 1.31, how: 'test' },
    },
    ...overrides,
  };
}

const row = (rows, id) => rows.find((r) => r.id === id);

test('every goal of issue 14 has one row, ids unique', () => {
  const ids = GOALS.map((g) => g.id);
  assert.equal(new Set(ids).size, ids.length);
  for (const id of [
    'c2-efficiency',
    'c4-efficiency',
    'native-c2-threads',
    'native-c3-threads',
    'native-c4-threads',
    'chromium-c2-threads',
    'chromium-c3-threads',
    'c5-memory-1t',
    'c5-memory-2t',
    'c5-ort-node',
    'weights-native',
    'weights-wasm',
    'c1-chromium',
    'c2-vs-ort-node',
    'c4-vs-ort-node',
    'c2-vs-pytorch',
  ])
    assert.ok(ids.includes(id), id);
  assert.equal(goalRows(run()).length, GOALS.length);
});

test('figures and verdicts at and around each bar', () => {
  const rows = goalRows(run());
  assert.deepEqual([row(rows, 'c2-efficiency').figure, row(rows, 'c2-efficiency').met], [80, true]);
  assert.deepEqual([row(rows, 'c4-efficiency').figure, row(rows, 'c4-efficiency').met], [75, true]); // 74.99 → 75.0
  assert.deepEqual([row(rows, 'native-c2-threads').figure, row(rows, 'native-c2-threads').met], [1.9, true]);
  assert.deepEqual([row(rows, 'native-c4-threads').figure, row(rows, 'native-c4-threads').met], [1.88, false]);
  assert.deepEqual([row(rows, 'chromium-c2-threads').figure, row(rows, 'chromium-c2-threads').met], [2, true]);
  assert.deepEqual([row(rows, 'c5-memory-1t').figure, row(rows, 'c5-memory-1t').met], [333.4, true]);
  assert.deepEqual([row(rows, 'c5-memory-2t').figure, row(rows, 'c5-memory-2t').met], [400.1, false]);
  assert.equal(row(rows, 'weights-native').met, true); // ≤ 1.3 holds at 1.3
  assert.equal(row(rows, 'weights-wasm').met, false);
  assert.deepEqual([row(rows, 'c1-chromium').figure, row(rows, 'c1-chromium').met], [0.95, false]);
  assert.deepEqual([row(rows, 'c2-vs-ort-node').figure, row(rows, 'c2-vs-ort-node').met], [1.8, true]);
  assert.deepEqual([row(rows, 'c4-vs-ort-node').figure, row(rows, 'c4-vs-ort-node').met], [2.5, false]);
  assert.deepEqual([row(rows, 'c2-vs-pytorch').figure, row(rows, 'c2-vs-pytorch').met], [5, 'reported']);
  // C2 is judged over CPU time, the wall-clock figure beside it; C4's cell has only the wall-clock one.
  assert.match(row(rows, 'c2-efficiency').against, /avx512bw peak 111 GFLOP\/s per CPU-second/);
  assert.match(row(rows, 'c2-efficiency').against, /wall clock: 70\.0 % of 110 GFLOP\/s/);
  assert.match(row(rows, 'c4-efficiency').against, /wall clock: 75\.0 %/);
});

test("a cell the run does not have is 'not measured', never left out", () => {
  const rows = goalRows(run({ results: [], weights: undefined }));
  assert.equal(rows.length, GOALS.length);
  for (const r of rows) assert.equal(r.met, 'not measured', r.id);
  assert.equal(goalsMarkdown(rows).split('\n').length, GOALS.length + 2);
});

test("a peer's failure at C5 is reported in words, with the refused size and the limit", () => {
  const r = row(goalRows(run()), 'c5-ort-node');
  assert.equal(r.met, 'reported');
  assert.equal(r.figure, 'fails: one allocation of 12.9 GB refused (8 GB data limit)');
  assert.match(r.against, /8 GB data limit/);
  assert.equal(
    failureText("RuntimeError: DefaultCPUAllocator: can't allocate memory: you tried to allocate 3221225472 bytes."),
    'fails: one allocation of 3.2 GB refused',
  );
  assert.equal(
    failureText('child failed (exit killed after the 600 s time limit): no output'),
    'fails: killed after the 600 s time limit',
  );
  assert.equal(row(goalRows(run()), 'c5-pytorch').met, 'not measured');
});
