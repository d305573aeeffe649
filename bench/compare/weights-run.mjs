// run.mjs's weights cells (issue 14 §4: C2 with the attention weights ≤ 1.3× the fused forward), 1 thread:
// - native: build/bench/attnkit_bench_kernels' `forward/C2/threads:1` against `forward/C2/weights/threads:1` (the
//   same Module and input as `attnkit bench`), repetitions randomly interleaved, medians of CPU time;
// - wasm: weights-cell.mjs, the package's layer.forward with and without returnWeights, alternating in one process
//   (medians of CPU time).
// Returns { native, wasm }: each { fused_ms, weights_ms, ratio, how } or { error }.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const KERNELS = join(here, '..', '..', 'build', 'bench', 'attnkit_bench_kernels');

const lastJson = (text) =>
  text
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l))
    .pop();

async function native(run, quick) {
  if (!existsSync(KERNELS))
    return {
      error: 'build/bench/attnkit_bench_kernels not built (libbenchmark-dev): run `bash scripts/build-native.sh`',
    };
  const reps = quick ? 2 : 5;
  const r = await run(
    KERNELS,
    [
      '--benchmark_filter=^forward/C2(/weights)?/threads:1$',
      `--benchmark_repetitions=${reps}`,
      '--benchmark_enable_random_interleaving=true',
      '--benchmark_report_aggregates_only=true',
      '--benchmark_format=json',
    ],
    { timeoutMs: 300000 },
  );
  if (r.code !== 0) return { error: `attnkit_bench_kernels failed (exit ${r.code ?? r.signal}): ${r.stderr.trim()}` };
  const rows = JSON.parse(r.stdout).benchmarks.filter((b) => b.aggregate_name === 'median');
  const pick = (name) => rows.find((b) => b.run_name === name);
  const f = pick('forward/C2/threads:1'),
    w = pick('forward/C2/weights/threads:1');
  if (!f || !w) return { error: 'attnkit_bench_kernels has no forward/C2/weights benchmark in this build' };
  const toMs = (b) => b.cpu_time * { ns: 1e-6, us: 1e-3, ms: 1, s: 1e3 }[b.time_unit];
  return {
    fused_ms: toMs(f),
    weights_ms: toMs(w),
    ratio: toMs(w) / toMs(f),
    fused_wall_ms: f.real_time * { ns: 1e-6, us: 1e-3, ms: 1, s: 1e3 }[f.time_unit],
    weights_wall_ms: w.real_time * { ns: 1e-6, us: 1e-3, ms: 1, s: 1e3 }[w.time_unit],
    how: `attnkit_bench_kernels forward/C2 vs forward/C2/weights, ${reps} interleaved repetitions, medians of CPU time`,
  };
}

// weights-cell.mjs: the package's layer.forward with and without returnWeights (and ak.attention's), alternating in
// one Node process, medians of CPU time.
async function wasm(run, quick) {
  const reps = quick ? 2 : 7;
  const r = await run(process.execPath, [join(here, 'weights-cell.mjs'), '--reps', String(reps)], {
    timeoutMs: 300000,
  });
  const j = lastJson(r.stdout);
  if (!j || !j.forward)
    return { error: `weights-cell.mjs failed (exit ${r.code ?? r.signal}): ${r.stderr.trim().split('\n').pop()}` };
  return {
    fused_ms: j.forward.cpu_ms,
    weights_ms: j.forward_weights.cpu_ms,
    ratio: j.module_ratio,
    fused_wall_ms: j.forward.wall_ms,
    weights_wall_ms: j.forward_weights.wall_ms,
    op_ratio: j.op_ratio,
    how: `weights-cell.mjs: layer.forward with and without returnWeights, ${reps} alternating pairs, medians of CPU time; ak.attention's ratio ${j.op_ratio}`,
  };
}

/** run: run.mjs's process helper; say: its log. */
export async function runWeightsCells({ run, quick, say }) {
  say('C2 with the attention weights against the fused forward (1 thread):');
  const out = { native: await native(run, quick), wasm: await wasm(run, quick) };
  for (const [env, r] of Object.entries(out))
    say(
      `  ${env.padEnd(7)} ${r.error ? `ERROR ${r.error}` : `fused ${r.fused_ms.toFixed(1)} ms, with weights ${r.weights_ms.toFixed(1)} ms: ${r.ratio.toFixed(2)}×`}`,
    );
  return out;
}
