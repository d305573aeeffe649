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
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { config, flopCount, gflops, makeInput, makeStateDict } from './configs.mjs';
import { budget } from './timing.mjs';
import { torchCell, torchStatus } from './torch-cell.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const NATIVE = join(root, 'build', 'native', 'attnkit');
const TOLERANCE = 1e-4;
// Peers on the configs whose unfused attention needs n² memory (C5: 12·16384² float scores, 12.9 GB) run under this
// data-segment limit, so that on a shared machine they fail with their own allocation error instead of taking
// every other process's memory; the table reports the failure.
const PEER_DATA_LIMIT_GB = 8;
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
    else if (a === '--help' || a === '-h') {
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
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    if (input !== undefined) child.stdin.end(input);
    else child.stdin.end();
  });
}

// [cmd, args] under the peers' data limit for the long configs (bash's ulimit -d; V8's address-space reservations
// are not data, so Node runs under it).
function limited(c) {
  if (!LONG_CONFIGS.includes(c.name)) return (cmd, args) => [cmd, args];
  return (cmd, args) => [
    'bash',
    ['-c', `ulimit -d ${PEER_DATA_LIMIT_GB * 1024 * 1024} && exec "$@"`, 'bash', cmd, ...args],
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
    max_rss_mb: rss ? Number(rss[1]) / 1024 : undefined,
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
  if (rounds.every((r) => r.efficiency !== undefined)) {
    out.efficiency = median(rounds.map((r) => r.efficiency));
    out.peak_gflops_per_core = median(rounds.map((r) => r.peak_gflops_per_core));
  }
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

async function nodeCell(peer, c, threads, quick, refDir, writeRef) {
  const ref = join(refDir, `${c.name}.bin`);
  const args = [join(here, 'node-peer.mjs'), '--peer', peer, '--config', c.name, '--threads', String(threads)];
  if (quick) args.push('--quick');
  if (writeRef) args.push('--ref-out', ref);
  else args.push('--ref-in', ref);
  const [cmd, full] = limited(c)(process.execPath, args);
  const r = await run(cmd, full, { timeoutMs: LONG_CONFIGS.includes(c.name) ? 900000 : 300000 });
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
// Machine.

// The CPU, the dispatched kernel table and its peak on one core as `attnkit bench` measures them (C1, one run: the
// peak loop of attnkit/peak.hpp takes ~0.1 s). Each native cell also reports its own, measured in its process.
function nativeMachine() {
  if (!existsSync(NATIVE)) return undefined;
  const r = spawnSync(NATIVE, ['bench', '--config', 'C1', '--repeats', '1', '--format', 'json'], { encoding: 'utf8' });
  return r.status === 0 ? lastJsonLine(r.stdout)?.machine : undefined;
}

function machine() {
  const info = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /model name\s*:\s*(.*)/.exec(info)?.[1];
  const flags = /flags\s*:\s*(.*)/.exec(info)?.[1].split(' ') || [];
  const mhz = /cpu MHz\s*:\s*(.*)/.exec(info)?.[1];
  return {
    cpu: model,
    cores: cpus().length,
    mhz: mhz ? Number(mhz) : undefined,
    avx512: ['avx512f', 'avx512bw', 'avx512dq', 'avx512vl'].filter((f) => flags.includes(f)),
    family: Number(/cpu family\s*:\s*(\d+)/.exec(info)?.[1]),
    model: Number(/model\s*:\s*(\d+)/.exec(info)?.[1]),
    fma: flags.includes('fma'),
    avx2: flags.includes('avx2'),
    memory_gb: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    attnkit: nativeMachine(), // { cpu, family, model, mhz, table, peak_gflops_per_core }
  };
}

// ---------------------------------------------------------------------------------------------------------
// Table.

function fmtTime(ms) {
  if (ms === undefined || Number.isNaN(ms)) return '–';
  if (ms < 0.1) return `${(ms * 1000).toFixed(ms < 0.01 ? 2 : 1)} µs`;
  if (ms < 10) return `${ms.toFixed(2)} ms`;
  return `${ms.toFixed(ms < 100 ? 1 : 0)} ms`;
}

const SECTIONS = [
  { env: 'native', title: 'Native (x86-64)', attnkit: 'attnkit-native', peers: ['ort-node', 'pytorch'] },
  { env: 'node', title: 'WebAssembly in Node', attnkit: 'attnkit-wasm', peers: ['ort-web', 'tfjs-wasm', 'plain-js'] },
  {
    env: 'chromium',
    title: 'WebAssembly in headless Chromium (cross-origin isolated)',
    attnkit: 'attnkit-wasm',
    peers: ['ort-web', 'tfjs-wasm', 'plain-js'],
  },
];

function cellText(r) {
  if (!r) return '–';
  if (r.error) return 'error';
  return fmtTime(r.median_ms);
}

function table(results, opts) {
  const find = (env, peer, c, t) =>
    results.find((r) => r.env === env && r.peer === peer && r.config === c && r.threads === t);
  const lines = [];
  for (const s of SECTIONS) {
    const rows = [];
    for (const c of opts.configs) {
      for (const t of opts.threads) {
        const ak = find(s.env, s.attnkit, c, t);
        const peers = s.peers.map((p) => find(s.env, p, c, t));
        if (!ak && peers.every((p) => !p)) continue;
        const cfg = config(c);
        const akOk = ak && !ak.error;
        const row = [c, String(t), cellText(ak), akOk ? `${gflops(cfg, ak.median_ms).toFixed(1)}` : '–'];
        for (const p of peers) {
          row.push(cellText(p));
          row.push(akOk && p && !p.error ? `${(p.paired_ratio ?? p.median_ms / ak.median_ms).toFixed(2)}×` : '–');
        }
        rows.push(row);
      }
    }
    if (!rows.length) continue;
    const head = ['config', 'threads', s.attnkit, 'GFLOP/s', ...s.peers.flatMap((p) => [p, `${p}/attnkit`])];
    lines.push(`\n${s.title}`);
    lines.push(markdown(head, rows));
  }
  return lines.join('\n');
}

function markdown(head, rows) {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells) => '| ' + cells.map((c, i) => c.padStart(w[i])).join(' | ') + ' |';
  return [line(head), '|' + w.map((n) => '-'.repeat(n + 1) + ':').join('|') + '|', ...rows.map(line)].join('\n');
}

// The issue's targets, each as a ratio in this run.
function targets(results) {
  const get = (env, peer, c, t) =>
    results.find((r) => r.env === env && r.peer === peer && r.config === c && r.threads === t && !r.error);
  const out = [];
  const ratio = (env, ak, peer, c, t, need, what) => {
    const a = get(env, ak, c, t),
      p = get(env, peer, c, t);
    if (!a || !p) return;
    const paired = ak === 'attnkit-wasm-out' ? p.paired_ratio_out : p.paired_ratio;
    const value = paired ?? p.median_ms / a.median_ms;
    out.push({
      target: what,
      config: c,
      threads: t,
      value: Number(value.toFixed(3)),
      need,
      met: value >= need,
      unit: '×',
    });
  };
  for (const t of [1, 2])
    for (const c of ['C2', 'C3'])
      ratio('native', 'attnkit-native', 'ort-node', c, t, 1.3, `native ${c} ${t}T vs onnxruntime-node`);
  for (const t of [1, 2])
    ratio('native', 'attnkit-native', 'ort-node', 'C4', t, 3, `native C4 ${t}T vs onnxruntime-node`);
  for (const t of [1, 2]) {
    const a = get('native', 'attnkit-native', 'C4', t);
    if (a && a.max_rss_mb !== undefined)
      out.push({
        target: `native C4 ${t}T peak memory`,
        config: 'C4',
        threads: t,
        value: Number(a.max_rss_mb.toFixed(1)),
        need: 150,
        met: a.max_rss_mb < 150,
        unit: 'MB (<)',
      });
  }
  for (const t of [1, 2]) {
    const a = get('native', 'attnkit-native', 'C1', t);
    if (a)
      out.push({
        target: `native C1 ${t}T`,
        config: 'C1',
        threads: t,
        value: Number((a.median_ms * 1000).toFixed(3)),
        need: 1,
        met: a.median_ms * 1000 < 1,
        unit: 'µs (<)',
      });
  }
  for (const c of ['C2', 'C3'])
    ratio('chromium', 'attnkit-wasm', 'ort-web', c, 1, 1.5, `Chromium ${c} 1T vs onnxruntime-web`);
  for (const c of ['C2', 'C3'])
    ratio('chromium', 'attnkit-wasm', 'ort-web', c, 2, 1.5, `Chromium ${c} 2T vs onnxruntime-web (2T)`);
  const js = get('chromium', 'attnkit-wasm', 'C1', 1);
  if (js)
    out.push({
      target: 'Chromium C1 from JS',
      config: 'C1',
      threads: 1,
      value: Number((js.median_ms * 1000).toFixed(2)),
      need: 3,
      met: js.median_ms * 1000 <= 3,
      unit: 'µs (≤)',
    });
  ratio('chromium', 'attnkit-wasm', 'plain-js', 'C1', 1, 1, 'Chromium C1 vs a plain JavaScript loop');
  ratio('chromium', 'attnkit-wasm-out', 'plain-js', 'C1', 1, 1, 'Chromium C1 with forward’s out vs the plain loop');
  // Issue 14: efficiency against the dispatched table's peak (each cell's own, measured in its process), 1 thread;
  // 2 threads against 1; C5's memory, linear in n.
  for (const [c, need] of [
    ['C2', 80],
    ['C4', 75],
  ]) {
    const a = get('native', 'attnkit-native', c, 1);
    if (a && a.efficiency !== undefined)
      out.push({
        target: `native ${c} 1T efficiency vs the ${a.simd} table's peak (${a.peak_gflops_per_core} GFLOP/s/core)`,
        config: c,
        threads: 1,
        value: Number((a.efficiency * 100).toFixed(1)),
        need,
        met: a.efficiency * 100 >= need,
        unit: '% (≥)',
      });
  }
  for (const c of ['C2', 'C3', 'C4']) {
    const one = get('native', 'attnkit-native', c, 1),
      two = get('native', 'attnkit-native', c, 2);
    if (one && two)
      out.push({
        target: `native ${c} 2T speed-up over 1T`,
        config: c,
        threads: 2,
        value: Number((one.median_ms / two.median_ms).toFixed(2)),
        need: 1.9,
        met: one.median_ms / two.median_ms >= 1.9,
        unit: '×',
      });
  }
  for (const t of [1, 2]) {
    const a = get('native', 'attnkit-native', 'C5', t);
    if (a && a.max_rss_mb !== undefined)
      out.push({
        target: `native C5 ${t}T peak memory`,
        config: 'C5',
        threads: t,
        value: Number(a.max_rss_mb.toFixed(1)),
        need: 400,
        met: a.max_rss_mb <= 400,
        unit: 'MB (≤)',
      });
  }
  return out;
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
  const m = machine();
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
    grad = null;

  try {
    for (const name of opts.configs) {
      const c = config(name);
      const wasm = opts.wasmConfigs.includes(name);
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
        // ±15 % over minutes (a shared host), and a ratio of two cells run side by side cancels most of it.
        for (const t of opts.threads) {
          const ours = [],
            theirs = [];
          for (let k = 0; k < opts.rounds; k++) {
            ours.push(await nativeCell(c, t, opts.quick));
            theirs.push(await nodeCell('ort-node', c, t, opts.quick, refDir, false));
          }
          const [a, o] = [mergeRounds(ours), mergeRounds(theirs)];
          if (!a.error && !o.error) o.paired_ratio = median(ours.map((r, k) => theirs[k].median_ms / r.median_ms));
          note(a);
          note(o);
        }
        for (const t of torch ? opts.threads : []) {
          if (torch.error) note({ peer: 'pytorch', env: 'native', config: c.name, threads: t, error: torch.error });
          else
            note(
              await torchCell({ run, limit: limited(c), c, threads: t, budget: budget(c, opts.quick), refDir, work }),
            );
        }
      }
      if (wasm && opts.node) {
        note(await nodeCell('ort-web', c, 1, opts.quick, refDir, false));
        note(await nodeCell('tfjs-wasm', c, 1, opts.quick, refDir, false));
        if (name === 'C1') note(await nodeCell('plain-js', c, 1, opts.quick, refDir, false));
      }
    }
    if (opts.browser && opts.wasmConfigs.length) {
      say('Chromium (headless, COOP/COEP):');
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
      }).catch((e) => say(`  Chromium run failed: ${e.message}`));
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
    }
    if (opts.native && opts.cells.length) {
      const { runCells } = await import('./cells-run.mjs');
      extra = await runCells({
        names: opts.cells,
        threads: opts.threads,
        rounds: opts.rounds,
        quick: opts.quick,
        run,
        native: NATIVE,
        say,
      });
    }
    if (opts.native && opts.grad.length) {
      const { runGradCells } = await import('./grad-run.mjs');
      grad = await runGradCells({
        configs: opts.grad,
        threads: opts.threads,
        rounds: opts.rounds,
        quick: opts.quick,
        peak: m.attnkit?.peak_gflops_per_core,
        say,
      });
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }

  for (const r of results)
    if (!r.error && r.median_ms !== undefined && r.config !== '*')
      r.gflops = Number(gflops(config(r.config), r.median_ms).toFixed(3));
  const tgt = [...targets(results), ...(extra?.targets || []), ...(grad?.targets || [])];
  const doc = {
    date: new Date().toISOString(),
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
      quick: opts.quick,
    },
    notes: skipped,
    native_checks: checks,
    results,
    targets: tgt,
    cells: extra && { names: opts.cells, node_copy_gbps: extra.nodeCopy, results: extra.results },
    grad: grad && { configs: opts.grad, results: grad.results },
  };
  mkdirSync(dirname(opts.out), { recursive: true });
  writeFileSync(opts.out, JSON.stringify(doc, null, 2) + '\n');

  console.log(
    `\nattnkit vs peers — medians; ratio = peer time / attnkit time (> 1: attnkit is faster). ${m.cpu}, ${m.cores} cores.`,
  );
  console.log(table(results, opts));
  if (extra) console.log(extra.table);
  if (grad) console.log(grad.table);
  if (tgt.length) {
    console.log('\nTargets (issues 5 and 14)');
    console.log(
      markdown(
        ['target', 'reached', 'needed', 'met'],
        tgt.map((t) => [
          t.target,
          `${t.value} ${t.unit.split(' ')[0]}`,
          `${t.unit.includes('(') ? t.unit.split(' ')[1].slice(1, -1) + ' ' : '≥ '}${t.need}`,
          t.met ? 'yes' : 'NO',
        ]),
      ),
    );
  }
  const errors = [...results, ...(extra?.results || []), ...(grad?.results || [])].filter(
    (r) => r.error && !r.unavailable,
  );
  const unavailable = [...new Set((extra?.results || []).filter((r) => r.unavailable).map((r) => r.error))];
  for (const u of unavailable) console.log(`note: ${u}`);
  if (errors.length) {
    console.log('\nErrors');
    for (const r of errors) console.log(`- ${r.env} ${r.peer} ${r.config} ${r.threads}T: ${r.error}`);
  }
  const unchecked = results.filter((r) => !r.error && r.unchecked);
  if (unchecked.length)
    console.log(
      `\nNot checked against attnkit (no reference output): ${unchecked.map((r) => `${r.env} ${r.peer} ${r.config} ${r.threads}T`).join(', ')}`,
    );
  for (const s of skipped) console.log(`note: ${s}`);
  console.log(`\nwrote ${relative(process.cwd(), opts.out)} (${doc.seconds} s)`);
}

main().catch((e) => {
  console.error(`bench:compare: ${e.message}`);
  process.exit(2);
});
