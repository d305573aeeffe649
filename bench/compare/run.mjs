// attnkit against its peers, side by side in one run (issue 5's comparison; `npm run bench:compare`).
//
//   node bench/compare/run.mjs [--configs C1,C2,C3,C4] [--threads 1,2] [--skip-browser] [--skip-native]
//                              [--skip-node] [--wasm-configs C1,C2,C3] [--cells D1,D2,P1|none] [--grad C2,C3|none]
//                              [--rounds N] [--quick] [--browser-peers attnkit-wasm,plain-js] [--out FILE]
//
// Native: build/native/attnkit bench (JSON) vs onnxruntime-node (MultiHeadAttention op, MLAS) and PyTorch
// (only when `python3 -c "import torch"` works). Node: attnkit's wasm build (`import { load } from "attnkit"`)
// vs onnxruntime-web (wasm, SIMD) and tfjs-backend-wasm. Chromium (headless, cross-origin isolated): the
// same three in a page. Every peer's output is checked against attnkit's (relative error ≤ 1e-4) before it
// is timed; every cell runs in a fresh process (or page). Native cells alternate attnkit and onnxruntime-node,
// and Chromium pages alternate attnkit, onnxruntime-web and the plain JS loop, --rounds times (default 3,
// quick 1); their ratios are the medians of the rounds' ratios. Native cells D1 (a decoding step against a KV cache of
// 4096) and P1 (a padded prefill) follow C1–C4 (cells-run.mjs), then forward + backward of C2 and C3 against
// PyTorch's autograd (grad-run.mjs). Writes bench/results/latest.json.
// Issue 14: C5 (b1 n16384: attnkit's memory linear in n) runs one round; onnxruntime-node and PyTorch, whose unfused
// attention needs n² memory, run it once at the first thread count under a data limit (--peer-limit-gb, default 8)
// and a time limit, and the report says what they did. D1/D2/P1 and the forward + backward cells run --extra-rounds
// paired rounds (default 1: the whole run stays under ~25 minutes on a 2-vCPU machine). C2 with the attention
// weights against the fused forward, natively and in wasm (weights-run.mjs; --no-weights skips it). The report
// (report.mjs) ends with issue 14's goals table (goals.mjs), which `node bench/compare/report.mjs --readme` writes
// into bench/README.md from the JSON.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { config, flopCount, gflops, makeInput, makeStateDict } from './configs.mjs';
import { machine } from './machine.mjs';
import { fmtTime, reportText, targets } from './report.mjs';
import { budget } from './timing.mjs';
import { torchCell, torchStatus } from './torch-cell.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const NATIVE = join(root, 'build', 'native', 'attnkit');
const TOLERANCE = 1e-4;
// Peers on the configs whose unfused attention needs n² memory (C5: 12·16384² float scores, 12.9 GB) run once, at the
// first thread count, under this data-segment limit (--peer-limit-gb) and time limit, so that on a shared machine they
// fail with their own allocation error instead of taking every other process's memory; the report says what they did.
const PEER_DATA_LIMIT_GB = 8;
const PEER_TIME_LIMIT_S = 600;
const LONG_CONFIGS = ['C5'];

// ---------------------------------------------------------------------------------------------------------
// Options.

// The Chromium pages, in the order each round runs them (--browser-peers picks some; attnkit-wasm-out, the package with
// forward's `out` option, only when asked).
const BROWSER_PEERS = ['attnkit-wasm', 'ort-web', 'tfjs-wasm', 'plain-js'];
const OPTIONAL_PEERS = ['attnkit-wasm-out'];

function parseArgs(argv) {
  const o = {
    configs: ['C1', 'C2', 'C3', 'C4', 'C5'],
    threads: [1, 2],
    wasmConfigs: null,
    quick: false,
    rounds: null,
    cells: ['D1', 'D2', 'P1'],
    grad: ['C2', 'C3'],
    browser: true,
    browserPeers: BROWSER_PEERS,
    native: true,
    node: true,
    out: join(root, 'bench', 'results', 'latest.json'),
    peerLimitGb: PEER_DATA_LIMIT_GB,
    extraRounds: null,
    weights: true,
  };
  let explicitConfigs = false;
  const list = (v, what) => {
    if (v === undefined || v.startsWith('--')) throw new Error(`${what} needs a value`);
    return v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--configs') {
      o.configs = list(argv[++i], a).map((c) => config(c.toUpperCase()).name);
      explicitConfigs = true;
    } else if (a === '--wasm-configs') o.wasmConfigs = list(argv[++i], a).map((c) => config(c.toUpperCase()).name);
    else if (a === '--threads') {
      o.threads = list(argv[++i], a).map(Number);
      if (o.threads.some((t) => !Number.isInteger(t) || t < 1 || t > 64))
        throw new Error('--threads takes integers from 1 to 64, e.g. 1,2');
    } else if (a === '--rounds') {
      o.rounds = Number(argv[++i]);
      if (!Number.isInteger(o.rounds) || o.rounds < 1 || o.rounds > 50)
        throw new Error('--rounds takes an integer from 1 to 50, e.g. 3');
    } else if (a === '--cells') {
      const v = list(argv[++i], a).map((c) => c.toUpperCase());
      o.cells = v.length === 1 && v[0] === 'NONE' ? [] : v;
      const bad = o.cells.find((c) => c !== 'D1' && c !== 'D2' && c !== 'P1');
      if (bad) throw new Error(`unknown cell '${bad}' for --cells; expected D1, D2, P1 or none`);
    } else if (a === '--grad') {
      const v = list(argv[++i], a).map((c) => c.toUpperCase());
      o.grad = v.length === 1 && v[0] === 'NONE' ? [] : v.map((c) => config(c).name);
    } else if (a === '--quick') o.quick = true;
    else if (a === '--skip-browser') o.browser = false;
    else if (a === '--browser-peers') {
      o.browserPeers = list(argv[++i], a);
      const known = [...BROWSER_PEERS, ...OPTIONAL_PEERS];
      const bad = o.browserPeers.find((p) => !known.includes(p));
      if (bad) throw new Error(`unknown peer '${bad}' for --browser-peers; expected ${known.join(', ')}`);
    } else if (a === '--skip-native') o.native = false;
    else if (a === '--skip-node') o.node = false;
    else if (a === '--out') o.out = argv[++i];
    else if (a === '--no-weights') o.weights = false;
    else if (a === '--extra-rounds') {
      o.extraRounds = Number(argv[++i]);
      if (!Number.isInteger(o.extraRounds) || o.extraRounds < 1 || o.extraRounds > 50)
        throw new Error('--extra-rounds takes an integer from 1 to 50, e.g. 1');
    } else if (a === '--peer-limit-gb') {
      o.peerLimitGb = Number(argv[++i]);
      if (!(o.peerLimitGb >= 1 && o.peerLimitGb <= 4096))
        throw new Error('--peer-limit-gb takes a number of GB from 1 to 4096, e.g. 8');
    } else if (a === '--help' || a === '-h') {
      console.log(
        readFileSync(fileURLToPath(import.meta.url), 'utf8')
          .split('\n')
          .slice(0, 15)
          .join('\n'),
      );
      process.exit(0);
    } else
      throw new Error(
        `unknown option '${a}'; expected --configs, --threads, --wasm-configs, --cells, --grad, --rounds, --quick, --skip-browser, --browser-peers, --skip-native, --skip-node, --out`,
      );
  }
  // The wasm peers are not run on C4 unless asked: tfjs holds 12·4096² floats of scores (805 MB) and the
  // wasm runs take tens of seconds each; the issue's C4 target is native.
  if (o.quick && !explicitConfigs) o.configs = o.configs.filter((c) => c !== 'C4' && c !== 'C5');
  if (o.rounds === null) o.rounds = o.quick ? 1 : 3;
  // The D1/D2/P1 and forward + backward cells (issues 11 and 12) run one round unless asked: with three, the whole run
  // takes over half an hour on a loaded 2-vCPU machine.
  if (o.extraRounds === null) o.extraRounds = 1;
  if (!o.wasmConfigs) o.wasmConfigs = o.configs.filter((c) => c !== 'C4' && c !== 'C5');
  else o.wasmConfigs = o.wasmConfigs.filter((c) => o.configs.includes(c));
  return o;
}

// ---------------------------------------------------------------------------------------------------------
// Processes.

function run(cmd, args, { timeoutMs = 300000, input, env } = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: root, stdio: ['pipe', 'pipe', 'pipe'], env: env ?? process.env });
    let stdout = '',
      stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code,
        signal: timedOut ? `killed after the ${timeoutMs / 1000} s time limit` : signal,
        stdout,
        stderr,
      });
    });
    if (input !== undefined) child.stdin.end(input);
    else child.stdin.end();
  });
}

// [cmd, args] under the peers' data limit for the long configs (bash's ulimit -d; V8's address-space reservations
// are not data, so Node runs under it).
function limited(c, gb = PEER_DATA_LIMIT_GB) {
  if (!LONG_CONFIGS.includes(c.name)) return (cmd, args) => [cmd, args];
  return (cmd, args) => [
    'bash',
    ['-c', `ulimit -d ${Math.round(gb * 1024 * 1024)} && exec "$@"`, 'bash', cmd, ...args],
  ];
}

function lastJsonLine(text) {
  const lines = text
    .trim()
    .split('\n')
    .filter((l) => l.trim().startsWith('{'));
  if (!lines.length) return null;
  try {
    return JSON.parse(lines[lines.length - 1]);
  } catch {
    return null;
  }
}

function nativeArgsFor(c, quick) {
  // Bounded repeats: C2/C3 5 runs (quick 1), C4 3 runs (quick 1); C1 uses the CLI's default (≥ 5 runs, ≥ 1 s).
  if (c.name === 'C5') return ['--repeats', '1']; // ~10 s per run at 1 thread, after two untimed ones
  if (c.name === 'C4') return ['--repeats', quick ? '1' : '3'];
  if (c.name === 'C1') return quick ? ['--repeats', '20000'] : [];
  return ['--repeats', quick ? '1' : '5'];
}

async function nativeCell(c, threads, quick) {
  const base = { peer: 'attnkit-native', env: 'native', config: c.name, threads };
  if (!existsSync(NATIVE))
    return {
      ...base,
      error: `native attnkit not built (${relative(root, NATIVE)} missing): run \`bash scripts/build-native.sh\``,
    };
  const r = await run(
    '/usr/bin/time',
    [
      '-f',
      'maxrss_kb=%M',
      NATIVE,
      'bench',
      '--config',
      c.name,
      '--threads',
      String(threads),
      '--format',
      'json',
      ...nativeArgsFor(c, quick),
    ],
    { timeoutMs: 600000 },
  );
  const j = lastJsonLine(r.stdout);
  if (r.code !== 0 || !j)
    return { ...base, error: `attnkit bench failed (exit ${r.code ?? r.signal}): ${r.stderr.trim().split('\n')[0]}` };
  const rss = /maxrss_kb=(\d+)/.exec(r.stderr);
  return {
    ...base,
    median_ms: j.median_ms,
    min_ms: j.min_ms,
    runs: j.repeats,
    simd: j.simd,
    cli_gflops: j.gflops,
    efficiency: j.efficiency, // against the dispatched table's peak, measured by the same process (attnkit bench)
    peak_gflops_per_core: j.machine?.peak_gflops_per_core,
    cpu_median_ms: j.cpu_median_ms, // the process's CPU time per call (every thread)
    efficiency_cpu: j.efficiency_cpu, // the same ratio over CPU time: what a loaded machine's preemptions leave out
    peak_gflops_per_core_cpu: j.machine?.peak_gflops_per_core_cpu,
    max_rss_mb: rss ? Number(rss[1]) / 1024 : undefined, // /usr/bin/time's
    cli_max_rss_mb: j.max_rss_mb, // attnkit bench's own (getrusage)
  };
}

function median(xs) {
  const v = [...xs].sort((x, y) => x - y);
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
}

// One result from several rounds of the same cell: the median of the rounds' medians, the best run, the most memory.
function mergeRounds(rounds) {
  const failed = rounds.find((r) => r.error);
  if (failed || rounds.length === 1) return failed || rounds[0];
  const out = {
    ...rounds[0],
    median_ms: median(rounds.map((r) => r.median_ms)),
    rounds: rounds.length,
    round_medians_ms: rounds.map((r) => r.median_ms),
    runs: rounds.reduce((n, r) => n + (r.runs || 0), 0),
  };
  if (rounds.every((r) => r.min_ms !== undefined)) out.min_ms = Math.min(...rounds.map((r) => r.min_ms));
  if (rounds.every((r) => r.max_rss_mb !== undefined)) out.max_rss_mb = Math.max(...rounds.map((r) => r.max_rss_mb));
  for (const k of ['efficiency', 'peak_gflops_per_core', 'cpu_median_ms', 'efficiency_cpu', 'peak_gflops_per_core_cpu'])
    if (rounds.every((r) => r[k] !== undefined)) out[k] = median(rounds.map((r) => r[k]));
  return out;
}

// The native CLI's output on the comparison's own weights (`attnkit run --weights`), against attnkit-wasm's.
async function nativeCheck(c, refFile, work) {
  if (!existsSync(NATIVE) || !existsSync(refFile)) return null;
  const sd = makeStateDict(c),
    x = makeInput(c);
  const nested = (data, shape) => {
    const build = (offset, dims) => {
      if (dims.length === 1) return Array.from(data.subarray(offset, offset + dims[0]));
      const step = dims.slice(1).reduce((a, b) => a * b, 1);
      return Array.from({ length: dims[0] }, (_, i) => build(offset + i * step, dims.slice(1)));
    };
    return build(0, shape);
  };
  const wFile = join(work, `${c.name}-weights.json`),
    xFile = join(work, `${c.name}-x.json`);
  writeFileSync(
    wFile,
    JSON.stringify(Object.fromEntries(Object.entries(sd).map(([k, v]) => [k, nested(v.data, v.shape)]))),
  );
  writeFileSync(xFile, JSON.stringify({ x: nested(x, [c.batch, c.tokens, c.dIn]) }));
  const r = await run(
    NATIVE,
    [
      'run',
      '--mechanism',
      'multihead',
      '--input',
      xFile,
      '--weights',
      wFile,
      '--d-out',
      String(c.dOut),
      '--heads',
      String(c.heads),
      '--no-weights',
      '--format',
      'json',
    ],
    { timeoutMs: 120000 },
  );
  if (r.code !== 0) return { config: c.name, error: `attnkit run failed: ${r.stderr.trim().split('\n')[0]}` };
  const y = Float32Array.from(JSON.parse(r.stdout).context.flat(Infinity));
  const buf = readFileSync(refFile);
  const ref = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  let num = 0,
    den = 0;
  for (let i = 0; i < ref.length; i++) {
    num = Math.max(num, Math.abs(y[i] - ref[i]));
    den = Math.max(den, Math.abs(ref[i]));
  }
  const relError = y.length === ref.length ? num / den : Infinity;
  return { config: c.name, rel_error: relError, ok: relError <= TOLERANCE };
}

async function nodeCell(peer, c, threads, quick, refDir, writeRef, limitGb) {
  const ref = join(refDir, `${c.name}.bin`);
  const args = [join(here, 'node-peer.mjs'), '--peer', peer, '--config', c.name, '--threads', String(threads)];
  if (quick) args.push('--quick');
  if (writeRef) args.push('--ref-out', ref);
  else args.push('--ref-in', ref);
  const [cmd, full] = limited(c, limitGb)(process.execPath, args);
  const r = await run(cmd, full, { timeoutMs: LONG_CONFIGS.includes(c.name) ? PEER_TIME_LIMIT_S * 1000 : 300000 });
  const j = lastJsonLine(r.stdout);
  const env = peer === 'ort-node' ? 'native' : 'node';
  if (!j)
    return {
      peer,
      env,
      config: c.name,
      threads,
      error: `child failed (exit ${r.code ?? r.signal}): ${r.stderr.trim().split('\n').slice(-1)[0] || 'no output'}`,
    };
  return { env, ...j, peer, config: c.name, threads };
}

// ---------------------------------------------------------------------------------------------------------

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const say = (s) => process.stderr.write(s + '\n');
  const work = mkdtempSync(join(tmpdir(), 'attnkit-compare-'));
  const refDir = join(work, 'ref');
  mkdirSync(refDir);
  const results = [];
  const note = (r) => {
    results.push(r);
    const t = r.error
      ? `ERROR ${r.error}`
      : `${fmtTime(r.median_ms)} (${r.runs} runs${r.rel_error !== undefined ? `, rel. error ${r.rel_error.toExponential(1)}` : ''}${r.max_rss_mb ? `, peak ${r.max_rss_mb.toFixed(0)} MB` : ''})`;
    say(`  ${r.env.padEnd(8)} ${r.peer.padEnd(14)} ${r.config} ${r.threads}T  ${t}`);
  };
  const m = machine(NATIVE);
  const sections = {};
  const load0 = loadavg();
  say(
    `bench/compare: ${m.cpu} (family ${m.family} model ${m.model}, ${m.mhz} MHz), ${m.cores} cores, ${m.avx512.length ? 'AVX-512' : 'no AVX-512'}${m.avx2 && m.fma ? ', AVX2+FMA' : ''}; attnkit dispatches ${m.attnkit ? `${m.attnkit.table}, whose peak is ${m.attnkit.peak_gflops_per_core} GFLOP/s per core here` : 'nothing (native CLI not built)'}; load average ${load0.map((l) => l.toFixed(2)).join(' ')}`,
  );
  say(
    `configs ${opts.configs.join(',')} (wasm peers: ${opts.wasmConfigs.join(',') || 'none'}), threads ${opts.threads.join(',')}${opts.quick ? ', quick' : ''}`,
  );
  const torch = opts.native ? torchStatus() : null;
  const skipped = [];
  if (torch?.error) skipped.push(`PyTorch: ${torch.error}`);
  if (torch?.warning) skipped.push(`PyTorch: ${torch.warning}`);
  if (opts.native && !existsSync(NATIVE))
    skipped.push(`native attnkit: ${relative(root, NATIVE)} not built; run \`bash scripts/build-native.sh\``);
  skipped.forEach((s) => say(`  note: ${s}`));
  const checks = [];
  let extra = null,
    grad = null,
    weights = null;
  // The run's JSON, written after every section too (partial: true), so a run stopped by its caller keeps what it
  // measured.
  const save = (partial) => {
    for (const r of results)
      if (!r.error && r.median_ms !== undefined && r.config !== '*')
        r.gflops = Number(gflops(config(r.config), r.median_ms).toFixed(3));
    const tgt = [...targets(results), ...(extra?.targets || []), ...(grad?.targets || [])];
    const doc = {
      partial: partial || undefined,
      date: new Date(started).toISOString(), // the start
      finished: new Date().toISOString(),
      command: `node bench/compare/run.mjs ${process.argv.slice(2).join(' ')}`.trim(),
      machine: m,
      load_average_before: load0,
      load_average_after: loadavg(),
      seconds: Math.round((Date.now() - started) / 1000),
      options: {
        configs: opts.configs,
        wasm_configs: opts.wasmConfigs,
        cells: opts.cells,
        grad: opts.grad,
        threads: opts.threads,
        rounds: opts.rounds,
        extra_rounds: opts.extraRounds,
        quick: opts.quick,
        peer_data_limit_gb: opts.peerLimitGb,
        peer_time_limit_s: PEER_TIME_LIMIT_S,
      },
      seconds_per_section: sections,
      notes: skipped,
      native_checks: checks,
      results,
      targets: tgt,
      cells: extra && { names: opts.cells, node_copy_gbps: extra.nodeCopy, results: extra.results },
      grad: grad && { configs: opts.grad, results: grad.results },
      weights,
    };
    mkdirSync(dirname(opts.out), { recursive: true });
    writeFileSync(opts.out, JSON.stringify(doc, null, 2) + '\n');
    return doc;
  };
  const section = (name, t0) => {
    sections[name] = Math.round((Date.now() - t0) / 100) / 10;
    save(true);
  };

  try {
    for (const name of opts.configs) {
      const c = config(name);
      const wasm = opts.wasmConfigs.includes(name);
      const t0 = Date.now();
      say(
        `${name}: b${c.batch} n${c.tokens} d_in${c.dIn} d_out${c.dOut} h${c.heads}, ${(flopCount(c) / 1e9).toFixed(3)} GFLOP`,
      );
      // attnkit's wasm build first: its output is the reference every other peer is checked against.
      if (wasm && (opts.node || opts.browser)) {
        if (opts.node) {
          for (const [i, t] of opts.threads.entries())
            note(await nodeCell('attnkit-wasm', c, t, opts.quick, refDir, i === 0));
        } else {
          // Only the reference output is needed (for the page's checks): one quick run, not reported.
          const r = await nodeCell('attnkit-wasm', c, 1, true, refDir, true);
          if (r.error) say(`  reference (attnkit-wasm in Node) failed: ${r.error}`);
        }
      }
      if (opts.native) {
        if (wasm && (name === 'C1' || (name === 'C3' && !opts.quick))) {
          const chk = await nativeCheck(c, join(refDir, `${name}.bin`), work);
          if (chk) {
            checks.push(chk);
            say(
              `  native  attnkit run --weights vs attnkit-wasm: ${chk.error || `rel. error ${chk.rel_error.toExponential(1)} ${chk.ok ? 'ok' : 'MISMATCH'}`}`,
            );
          }
        }
        // attnkit and onnxruntime-node alternate, `rounds` times per thread count: this machine's speed drifts by
        // ±15 % over minutes (a shared host), and a ratio of two cells run side by side cancels most of it. C5: one
        // round, and the n² peers once, at the first thread count, under the data and time limits.
        const long = LONG_CONFIGS.includes(name);
        const peerThreads = long ? opts.threads.slice(0, 1) : opts.threads;
        for (const t of opts.threads) {
          const ours = [],
            theirs = [];
          for (let k = 0; k < (long ? 1 : opts.rounds); k++) {
            ours.push(await nativeCell(c, t, opts.quick));
            if (peerThreads.includes(t))
              theirs.push(await nodeCell('ort-node', c, t, opts.quick, refDir, false, opts.peerLimitGb));
          }
          const a = mergeRounds(ours);
          note(a);
          if (!theirs.length) continue;
          const o = mergeRounds(theirs);
          if (!a.error && !o.error) o.paired_ratio = median(ours.map((r, k) => theirs[k].median_ms / r.median_ms));
          note(o);
        }
        for (const t of torch ? peerThreads : []) {
          if (torch.error) note({ peer: 'pytorch', env: 'native', config: c.name, threads: t, error: torch.error });
          else {
            const limit = limited(c, opts.peerLimitGb);
            const cell = await torchCell({ run, limit, c, threads: t, budget: budget(c, opts.quick), refDir, work });
            if (torch.warning && !cell.error) cell.warning = torch.warning;
            note(cell);
          }
        }
      }
      if (wasm && opts.node) {
        note(await nodeCell('ort-web', c, 1, opts.quick, refDir, false));
        note(await nodeCell('tfjs-wasm', c, 1, opts.quick, refDir, false));
        if (name === 'C1') note(await nodeCell('plain-js', c, 1, opts.quick, refDir, false));
      }
      section(name, t0);
    }
    // Issue 14's weights goal before the cells of earlier issues: a run stopped early keeps it.
    if (opts.weights && (opts.native || opts.node)) {
      const t0 = Date.now();
      const { runWeightsCells } = await import('./weights-run.mjs');
      weights = await runWeightsCells({ run, quick: opts.quick, say });
      if (!opts.native) delete weights.native;
      section('weights', t0);
    }
    if (opts.browser && opts.wasmConfigs.length) {
      say('Chromium (headless, COOP/COEP):');
      const t0 = Date.now();
      const { runBrowser } = await import('./browser.mjs');
      const raw = [];
      await runBrowser({
        peers: opts.browserPeers,
        configs: opts.wasmConfigs,
        threads: opts.threads,
        quick: opts.quick,
        refDir,
        rounds: opts.rounds,
        log: (r) => {
          const cell = { env: 'chromium', ...r, config: r.config ?? '*' };
          raw.push(cell);
          if (!cell.error)
            say(
              `  chromium ${cell.peer.padEnd(14)} ${cell.config} ${cell.threads}T  ${fmtTime(cell.median_ms)} (round ${cell.round + 1})`,
            );
        },
      }).catch((e) => {
        say(`  Chromium run failed: ${e.message}`);
        skipped.push(`Chromium: the run failed (${e.message.split('\n')[0]}); its cells are missing`);
      });
      // One result per (peer, config, threads) over the rounds; a peer's ratio to attnkit is the median of the
      // rounds' ratios (the pages of one round run back to back).
      const key = (r) => `${r.peer}|${r.config}|${r.threads}`;
      const groups = new Map();
      for (const r of raw) groups.set(key(r), [...(groups.get(key(r)) || []), r]);
      for (const [, rounds] of groups) {
        const merged = mergeRounds(rounds);
        // paired_ratio against attnkit-wasm; paired_ratio_out against attnkit-wasm-out (forward's `out`), when it ran
        for (const [ak, field] of [
          ['attnkit-wasm', 'paired_ratio'],
          ['attnkit-wasm-out', 'paired_ratio_out'],
        ]) {
          const ours = groups.get(`${ak}|${merged.config}|${merged.threads}`) || [];
          if (merged.peer === ak || merged.peer.startsWith('attnkit') || merged.error || rounds.length < 2) continue;
          const ratios = rounds
            .map((r) => ours.find((a) => a.round === r.round && !a.error))
            .map((a, k) => a && rounds[k].median_ms / a.median_ms)
            .filter((x) => x);
          if (ratios.length) merged[field] = median(ratios);
        }
        delete merged.round;
        note(merged);
      }
      section('chromium', t0);
    }
    if (opts.native && opts.cells.length) {
      const t0 = Date.now();
      const { runCells } = await import('./cells-run.mjs');
      extra = await runCells({
        names: opts.cells,
        threads: opts.threads,
        rounds: opts.extraRounds,
        quick: opts.quick,
        run,
        native: NATIVE,
        say,
      });
      section('cells', t0);
    }
    if (opts.native && opts.grad.length) {
      const t0 = Date.now();
      const { runGradCells } = await import('./grad-run.mjs');
      grad = await runGradCells({
        configs: opts.grad,
        threads: opts.threads,
        rounds: opts.extraRounds,
        quick: opts.quick,
        peak: m.attnkit?.peak_gflops_per_core,
        say,
      });
      section('grad', t0);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }

  const doc = save(false);
  console.log('\n' + (await reportText(doc)));
  console.log(`\nwrote ${relative(process.cwd(), opts.out)} (${doc.seconds} s)`);
}

main().catch((e) => {
  console.error(`bench:compare: ${e.message}`);
  process.exit(2);
});
