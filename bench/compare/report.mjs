// The comparison's report: the tables run.mjs prints, from a run's JSON, and (as a command) the same tables written
// into the READMEs between their markers, so the committed figures are the run's:
//   node bench/compare/report.mjs [--json bench/results/latest.json] [--readme]
// --readme replaces bench/README.md's `<!-- issue14-goals -->` block (the machine, the load and the goals table),
// bench/compare/README.md's `<!-- compare-tables -->` block (every table of the run) and README.md's
// `<!-- performance -->` block (the short table); without it, prints the report.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { config, gflops } from './configs.mjs';
import { failureText, goalRows, goalsMarkdown, machineText } from './goals.mjs';
import { fmtTime, markdown } from './markdown.mjs';

export { fmtTime, markdown };

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
  if (r.error) return 'fails';
  return fmtTime(r.median_ms);
}

export function table(results, opts) {
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

// Issue 5's targets (ratios against the peers, C4's memory, C1's time), each as a figure of this run; issue 14's
// goals are goals.mjs's.
export function targets(results) {
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
  return out;
}

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const loadText = (l) => (l || []).map((x) => x.toFixed(2)).join(' ');

/** The run's header: when, on what, under which load, how long. */
export function runLine(doc) {
  const partial = doc.partial
    ? `PARTIAL (stopped after ${Object.keys(doc.seconds_per_section || {}).join(', ')}): `
    : '';
  return `${partial}${doc.date.slice(0, 16).replace('T', ' ')} UTC, ${machineText(doc.machine)}; load average (1, 5, 15 min) ${loadText(doc.load_average_before)} before, ${loadText(doc.load_average_after)} after; ${doc.seconds} s (\`${doc.command}\`)`;
}

/** The goals table of issue 14 with its header line (the report's last block). */
export function goalsBlock(doc) {
  return `Goals (issue 14), ${runLine(doc)}\n\n${goalsMarkdown(goalRows(doc))}`;
}

/** The whole report of a run's JSON, as run.mjs prints it. */
export async function reportText(doc) {
  const out = [];
  const results = doc.results || [];
  out.push(`attnkit vs peers — medians; ratio = peer time / attnkit time (> 1: attnkit is faster). ${runLine(doc)}`);
  out.push(table(results, doc.options));
  if (doc.cells) out.push((await import('./cells-run.mjs')).table(doc.cells.results, doc.cells.node_copy_gbps));
  if (doc.grad)
    out.push((await import('./grad-run.mjs')).table(doc.grad.results, doc.machine?.attnkit?.peak_gflops_per_core));
  if (doc.weights) out.push(weightsTable(doc.weights));
  const tgt = doc.targets || [];
  if (tgt.length)
    out.push(
      '\nTargets (issues 5, 11 and 12)\n' +
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
  const all = [...results, ...(doc.cells?.results || []), ...(doc.grad?.results || [])];
  const errors = all.filter((r) => r.error && !r.unavailable);
  for (const u of new Set(all.filter((r) => r.unavailable).map((r) => r.error))) out.push(`note: ${u}`);
  if (errors.length)
    out.push('\nErrors\n' + errors.map((r) => `- ${r.env} ${r.peer} ${r.config} ${r.threads}T: ${r.error}`).join('\n'));
  const unchecked = results.filter((r) => !r.error && r.unchecked);
  if (unchecked.length)
    out.push(
      `\nNot checked against attnkit (no reference output): ${unchecked.map((r) => `${r.env} ${r.peer} ${r.config} ${r.threads}T`).join(', ')}`,
    );
  for (const s of doc.notes || []) out.push(`note: ${s}`);
  out.push('\n' + goalsBlock(doc));
  return out.join('\n');
}

// C2 with the attention weights against the fused forward (weights-run.mjs), natively and in wasm.
function weightsTable(w) {
  const rows = ['native', 'wasm'].map((env) => {
    const r = w[env];
    if (!r) return [env, '–', '–', '–', 'not run'];
    if (r.error) return [env, '–', '–', '–', r.error];
    return [env, fmtTime(r.fused_ms), fmtTime(r.weights_ms), `${r.ratio.toFixed(2)}×`, r.how];
  });
  return `\nC2 with the attention weights (returnWeights), 1 thread\n${markdown(['where', 'fused', 'with weights', 'ratio', 'how'], rows)}`;
}

// The README's short table: attnkit and its peers per config and thread count, native and in Chromium, from the run.
export function summaryBlock(doc) {
  const results = doc.results || [];
  const find = (env, peer, c, t) =>
    results.find((r) => r.env === env && r.peer === peer && r.config === c && r.threads === t);
  const peerText = (p, a, name, limit) => {
    if (!p) return null;
    if (p.error) return `${name}: ${failureText(p.error, limit).replace(/^fails: /, 'fails, ')}`;
    const ratio = p.paired_ratio ?? p.median_ms / a.median_ms;
    return `${name} ${fmtTime(p.median_ms)} (${ratio >= 100 ? ratio.toFixed(0) : ratio.toFixed(2)}×)`;
  };
  const rows = [];
  for (const [env, peers] of [
    [
      'native',
      [
        ['ort-node', 'onnxruntime-node'],
        ['pytorch', 'PyTorch'],
      ],
    ],
    [
      'chromium',
      [
        ['ort-web', 'onnxruntime-web'],
        ['plain-js', 'plain JS'],
      ],
    ],
  ])
    for (const c of doc.options?.configs || [])
      for (const t of doc.options?.threads || []) {
        const a = find(env, env === 'native' ? 'attnkit-native' : 'attnkit-wasm', c, t);
        if (!a || a.error) continue;
        const cfg = config(c);
        const e = a.efficiency_cpu ?? a.efficiency; // over CPU time where the cell has it (goals.mjs)
        const eff = e !== undefined && c !== 'C1' ? `, ${(100 * e).toFixed(1)} % of ${a.simd}'s peak per core` : '';
        const mem = a.max_rss_mb !== undefined && c >= 'C4' ? `, peak ${a.max_rss_mb.toFixed(0)} MB` : '';
        const others = peers.map(([p, name]) => peerText(find(env, p, c, t), a, name, doc.options?.peer_data_limit_gb));
        rows.push([
          `${env === 'native' ? 'native' : 'Chromium (wasm)'} ${c} b${cfg.batch} n${cfg.tokens}`,
          String(t),
          `${fmtTime(a.median_ms)} (${gflops(cfg, a.median_ms).toFixed(1)} GFLOP/s${eff}${mem})`,
          others.filter(Boolean).join('; ') || '–',
        ]);
      }
  return `${runLine(doc)}. Ratio: the peer's time / attnkit's (> 1: attnkit is faster), medians of paired rounds where both ran in rounds.\n\n${markdown(['config', 'threads', 'attnkit', 'peers, same run'], rows, ['l', 'r', 'l', 'l'])}`;
}

// Replaces the block between `<!-- NAME:begin -->` and `<!-- NAME:end -->` in FILE with TEXT.
function replaceBlock(file, name, text) {
  const src = readFileSync(file, 'utf8');
  const begin = `<!-- ${name}:begin -->`,
    end = `<!-- ${name}:end -->`;
  const i = src.indexOf(begin),
    j = src.indexOf(end);
  if (i < 0 || j < i) throw new Error(`${file} has no ${begin} … ${end} block`);
  writeFileSync(file, src.slice(0, i + begin.length) + '\n\n' + text.trim() + '\n\n' + src.slice(j));
}

async function main() {
  const argv = process.argv.slice(2);
  const at = argv.indexOf('--json');
  const file = at >= 0 ? argv[at + 1] : join(ROOT, 'bench', 'results', 'latest.json');
  const doc = JSON.parse(readFileSync(file, 'utf8'));
  if (!argv.includes('--readme')) {
    console.log(await reportText(doc));
    return;
  }
  replaceBlock(join(ROOT, 'bench', 'README.md'), 'issue14-goals', goalsBlock(doc));
  replaceBlock(join(ROOT, 'README.md'), 'performance', summaryBlock(doc));
  replaceBlock(
    join(ROOT, 'bench', 'compare', 'README.md'),
    'compare-tables',
    '```text\n' + (await reportText(doc)) + '\n```',
  );
  console.log(
    'report: wrote the goals into bench/README.md, the tables into bench/compare/README.md, the summary into README.md',
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href)
  main().catch((e) => {
    console.error(`report: ${e.message}`);
    process.exit(2);
  });
