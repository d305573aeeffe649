// The forward + backward cells of the comparison (issue 12 §4): causal attention of C2 and C3 (b, h heads of
// d_out / h, n tokens), forward and backward, attnkit (build/bench/attnkit_grad_cell: attention_forward +
// attention_backward) against PyTorch (torch_grad_peer.py: Debian's torch through /usr/bin/python3, autograd), in
// --rounds paired rounds, each side in a fresh process. PyTorch's results are checked against attnkit's (≤ 1e-4
// relative) before it is timed. Reported: medians (wall clock; CPU time too), the ratio PyTorch / attnkit (the median
// of the rounds' ratios), attnkit's backward / forward, its fraction of the FMA peak, and both sides' peak memory.
//
//   node bench/compare/grad-run.mjs [--configs C2,C3] [--what op,module] [--threads 1,2] [--rounds 3] [--quick] [--peak GFLOPS]
//                                   [--out FILE]
// run.mjs runs the same cells after the others (its --grad option) with the FMA peak it measured.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { budget, median } from './timing.mjs';
import { PYTHON, torchEnv, torchStatus } from './torch-env.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const CELL = join(root, 'build', 'bench', 'attnkit_grad_cell');

function spawnCollect(cmd, args, env = process.env) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '',
      stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 600000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

const lastJson = (s) => {
  const line = s
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .pop();
  return line ? JSON.parse(line) : null;
};

async function attnkitCell(c, what, threads, repeats, dir) {
  const base = { peer: 'attnkit-native', env: 'native', what, config: c.name, threads };
  if (!existsSync(CELL))
    return { ...base, error: 'build/bench/attnkit_grad_cell not built (bash scripts/build-native.sh)' };
  const args = ['--config', c.name, '--threads', String(threads), '--repeats', String(repeats)];
  if (what === 'module') args.push('--module');
  const r = await spawnCollect(CELL, dir ? [...args, '--dir', dir] : args);
  const j = lastJson(r.stdout);
  return j && r.code === 0
    ? { ...base, ...j }
    : { ...base, error: r.stderr.trim().split('\n').pop() || `exit ${r.code}` };
}

// c: the shape attnkit_grad_cell reported (batch, heads, tokens, head_dim, d_in).
async function torchCell(c, what, threads, quick, dir) {
  const b = budget(c, quick);
  const shape = [c.batch, c.heads, c.tokens, c.head_dim, c.d_in].map(String);
  const args = [join(here, 'torch_grad_peer.py'), dir, c.name, what, String(threads), ...shape];
  const r = await spawnCollect(
    PYTHON,
    [...args, String(Math.min(b.warmup, 2)), String(b.budgetMs), String(b.minRuns), String(b.maxRuns)],
    torchEnv(),
  );
  const j = lastJson(r.stdout);
  if (j) return { env: 'native', ...j };
  return { peer: 'pytorch', env: 'native', what, config: c.name, threads, error: r.stderr.trim().split('\n').pop() };
}

/**
 * configs: names (C2, C3); whats: 'op' (the attention op) and/or 'module' (the configuration's module, Module::backward);
 * peak: one core's FMA peak in GFLOP/s (or undefined). Returns { results, table, targets }.
 */
export async function runGradCells({
  configs,
  whats = ['op', 'module'],
  threads,
  rounds,
  quick,
  peak,
  say = console.log,
}) {
  const results = [];
  // A PyTorch that cannot run is a row with its reason (the report's Errors), never left out.
  const status = torchStatus();
  const torch = !status.error;
  if (status.error) say(`grad: ${status.error}`);
  if (status.warning) say(`grad: ${status.warning}`);
  const work = mkdtempSync(join(tmpdir(), 'attnkit-grad-'));
  try {
    for (const what of whats)
      for (const name of configs) {
        const c = { name };
        for (const t of threads) {
          const dir = join(work, `${what}-${name}-${t}`);
          mkdirSync(dir);
          const ours = [],
            theirs = [];
          for (let k = 0; k < rounds; k++) {
            ours.push(await attnkitCell(c, what, t, quick ? 1 : 5, k === 0 ? dir : null));
            if (torch && !ours[0].error) theirs.push(await torchCell({ ...ours[0], name }, what, t, quick, dir));
          }
          const a = merge(ours);
          const o = { peer: 'pytorch', env: 'native', what, config: name, threads: t };
          if (!torch) o.error = status.error;
          else if (!theirs.length) o.error = `not run: attnkit's cell failed (${ours[0].error})`;
          else Object.assign(o, merge(theirs));
          if (!a.error) {
            a.backward_over_forward = a.backward_ms / a.forward_ms;
            a.cpu_backward_over_forward = a.cpu_backward_ms / a.cpu_forward_ms;
            a.gflops = (a.forward_flops + a.backward_flops) / (a.median_ms * 1e6);
            if (peak) a.fraction_of_peak = a.gflops / (peak * t);
          }
          if (o && !o.error && !a.error) {
            o.paired_ratio = median(ours.map((r, k) => theirs[k].median_ms / r.median_ms));
            o.cpu_ratio = (o.cpu_forward_ms + o.cpu_backward_ms) / (a.cpu_forward_ms + a.cpu_backward_ms);
          }
          for (const r of o ? [a, o] : [a]) {
            results.push(r);
            say(
              `  ${r.peer.padEnd(14)} ${what} ${name} fwd+bwd ${t}T  ${r.error ? `ERROR ${r.error}` : `${r.forward_ms.toFixed(1)} + ${r.backward_ms.toFixed(1)} ms, peak RSS ${r.max_rss_mb.toFixed(0)} MB`}`,
            );
          }
        }
      }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return { results, table: table(results, peak), targets: targets(results) };
}

// The rounds of one side: medians over the rounds' medians; the first failure wins.
function merge(rs) {
  const failed = rs.find((r) => r.error);
  if (failed) return failed;
  const m = { ...rs[0], rounds: rs.length, round_medians_ms: rs.map((r) => r.median_ms) };
  for (const k of ['forward_ms', 'backward_ms', 'median_ms', 'cpu_forward_ms', 'cpu_backward_ms'])
    m[k] = median(rs.map((r) => r[k]));
  return m;
}

export function table(results, peak) {
  const head = [
    'what',
    'config',
    'thr',
    'attnkit fwd + bwd ms',
    'bwd/fwd',
    'PyTorch fwd + bwd ms',
    'PyTorch/attnkit',
    '(CPU time)',
    'attnkit GFLOP/s',
    '% of peak',
    'peak RSS attnkit / PyTorch MB',
    'growth MB',
  ];
  const rows = [];
  for (const a of results.filter((r) => r.peer === 'attnkit-native')) {
    const o = results.find(
      (r) => r.peer === 'pytorch' && r.what === a.what && r.config === a.config && r.threads === a.threads,
    );
    const ms = (r) => (!r ? '–' : r.error ? 'error' : `${r.forward_ms.toFixed(1)} + ${r.backward_ms.toFixed(1)}`);
    const ok = !a.error && o && !o.error;
    rows.push([
      a.what,
      a.config,
      String(a.threads),
      ms(a),
      a.error ? '–' : `${a.backward_over_forward.toFixed(2)} (CPU ${a.cpu_backward_over_forward.toFixed(2)})`,
      ms(o),
      ok ? `${o.paired_ratio.toFixed(2)}×` : '–',
      ok ? `${o.cpu_ratio.toFixed(2)}×` : '–',
      a.error ? '–' : a.gflops.toFixed(1),
      a.fraction_of_peak ? `${(100 * a.fraction_of_peak).toFixed(1)} %` : '–',
      `${a.error ? '–' : a.max_rss_mb.toFixed(0)} / ${ok ? o.max_rss_mb.toFixed(0) : '–'}`,
      `${a.error ? '–' : a.working_mb.toFixed(0)} / ${ok ? o.working_mb.toFixed(0) : '–'}`,
    ]);
  }
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells) => '| ' + cells.map((x, i) => x.padStart(w[i])).join(' | ') + ' |';
  return [
    `\nForward + backward, causal (op: the attention op; module: the configuration's MultiHeadAttention; FMA peak ${peak ?? 'not measured'} GFLOP/s per core)`,
    line(head),
    '|' + w.map((n) => '-'.repeat(n + 1) + ':').join('|') + '|',
    ...rows.map(line),
  ].join('\n');
}

// Issue 12 §4: forward + backward ≥ 2× PyTorch in the same run, backward ≤ 2.5× the forward's time.
function targets(results) {
  const out = [];
  for (const a of results.filter((r) => r.peer === 'attnkit-native' && !r.error)) {
    const o = results.find(
      (r) => r.peer === 'pytorch' && r.what === a.what && r.config === a.config && r.threads === a.threads,
    );
    const at = `${a.what} ${a.config} ${a.threads}T`;
    out.push({
      target: `fwd+bwd ${at}: backward / forward`,
      value: Number(a.backward_over_forward.toFixed(3)),
      need: 2.5,
      met: a.backward_over_forward <= 2.5,
      unit: '× (≤)',
    });
    if (o && !o.error)
      out.push({
        target: `fwd+bwd ${at} vs PyTorch`,
        value: Number(o.paired_ratio.toFixed(3)),
        need: 2,
        met: o.paired_ratio >= 2,
        unit: '×',
      });
  }
  return out;
}

function parse(argv) {
  const o = {
    configs: ['C2', 'C3'],
    whats: ['op', 'module'],
    threads: [1, 2],
    rounds: 3,
    quick: false,
    peak: undefined,
    out: null,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i],
      v = argv[i + 1];
    if (a === '--quick') o.quick = true;
    else if (v === undefined) throw new Error(`${a} needs a value`);
    else if (a === '--configs') ((o.configs = v.split(',').map((s) => s.trim().toUpperCase())), i++);
    else if (a === '--what') ((o.whats = v.split(',').map((s) => s.trim())), i++);
    else if (a === '--threads') ((o.threads = v.split(',').map(Number)), i++);
    else if (a === '--rounds') ((o.rounds = Math.max(1, Number(v))), i++);
    else if (a === '--peak') ((o.peak = Number(v)), i++);
    else if (a === '--out') ((o.out = v), i++);
    else
      throw new Error(`unknown option '${a}'; expected --configs, --what, --threads, --rounds, --quick, --peak, --out`);
  }
  if (o.quick) o.rounds = 1;
  return o;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    const o = parse(process.argv.slice(2));
    const load0 = loadavg();
    const r = await runGradCells(o);
    console.log(r.table);
    for (const t of r.targets)
      console.log(
        `${t.met ? 'met' : 'NOT met'}: ${t.target} = ${t.value} (need ${t.unit.includes('≤') ? '≤' : '≥'} ${t.need})`,
      );
    console.log(
      `load average ${load0.map((l) => l.toFixed(2)).join(' ')} before, ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')} after`,
    );
    if (o.out) {
      mkdirSync(dirname(o.out), { recursive: true });
      writeFileSync(
        o.out,
        JSON.stringify({ date: new Date().toISOString(), options: o, load_average_before: load0, ...r }, null, 2) +
          '\n',
      );
    }
  } catch (e) {
    console.error(`grad-run: ${e.message}`);
    process.exit(2);
  }
}
