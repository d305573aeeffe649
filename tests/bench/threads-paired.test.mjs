// bench/compare/threads-paired.mjs: its options are checked (one line, exit 2), and threads-pairs.mjs's rows are the
// medians of what it timed and their ratios, for both builds of the package.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { load } from 'attnkit';
import { threadsPairs } from '../../bench/compare/threads-pairs.mjs';

const script = fileURLToPath(new URL('../../bench/compare/threads-paired.mjs', import.meta.url));
const run = (...args) => spawnSync(process.execPath, [script, ...args], { encoding: 'utf8' });

test('threads-paired: bad options get one line naming what is expected, and exit code 2', () => {
  for (const [args, message] of [
    [['--bogus'], /unknown option '--bogus'; expected --configs, --pairs, --skip-node, --skip-browser, --help/],
    [['--pairs', '0'], /--pairs must be a whole number ≥ 1; got '0'/],
    [['--configs', 'C9', '--skip-browser'], /unknown config 'C9'; expected one of C1, C2, C3, C4, C5/],
    [
      ['--pairs'],
      /'--pairs <value>' argument missing \(expected --configs, --pairs, --skip-node, --skip-browser, --help\)/,
    ],
  ]) {
    const r = run(...args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});

test('threads-paired --help prints its usage and exits 0', () => {
  const r = run('--help');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /node bench\/compare\/threads-paired\.mjs \[--configs C2,C3\] \[--pairs 15\]/);
});

test('threadsPairs: one row per config, the medians of its timed calls and their ratios', async () => {
  const single = await load({ threads: false }),
    pthreads = await load({ threads: true });
  try {
    assert.equal(single.multithreaded, false);
    assert.equal(pthreads.multithreaded, true);
    const rows = threadsPairs(single, pthreads, ['C1'], { pairs: 5, warmup: 1 });
    assert.equal(rows.length, 1);
    const r = rows[0];
    assert.equal(r.config, 'C1');
    assert.equal(r.pairs, 5);
    for (const k of ['single_1_thread_ms', 'pthreads_1_thread_ms', 'pthreads_2_threads_ms'])
      assert.ok(Number.isFinite(r[k]) && r[k] > 0, `${k} = ${r[k]}`); // Node's clock resolves far below a C1 call
    assert.equal(r.speedup_over_single, r.single_1_thread_ms / r.pthreads_2_threads_ms);
    assert.equal(r.speedup_same_build, r.pthreads_1_thread_ms / r.pthreads_2_threads_ms);
  } finally {
    single.terminate();
    pthreads.terminate();
  }
});
