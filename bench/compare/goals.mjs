// Issue 14's goals, defined once: the table that ends run.mjs's report and the one report.mjs writes into
// bench/README.md are both `goalRows(doc)` of a run's JSON (bench/results/latest.json), so the committed figures are
// the run's. Each goal names its figure, the bar, and what the figure is measured against (the dispatched kernel
// table's peak, the 1-thread time, the fused forward, a peer in the same run).
//
// doc: run.mjs's JSON — { machine, results: [{ env, peer, config, threads, median_ms, efficiency, max_rss_mb,
// paired_ratio, error, … }], weights: { native, wasm } }.

import { fmtTime as ms, markdown } from './markdown.mjs';

const find = (doc, env, peer, c, t) =>
  (doc.results || []).find((r) => r.env === env && r.peer === peer && r.config === c && r.threads === t);
const ok = (r) => r && !r.error && r.median_ms !== undefined;
const fixed = (x, d) => Number(x.toFixed(d));

// Efficiency (C2, C4, 1 thread): useful FLOPs per second of CPU time against the dispatched table's peak per second
// of CPU time, both measured by the cell's `attnkit bench` process (the shared machine's preemptions lengthen
// neither); the wall-clock ratio, the one an idle machine gives too, beside it.
// The CPU line every efficiency figure is measured on (attnkit bench's machine block: /proc/cpuinfo and the table).
export function machineText(m) {
  const a = m?.attnkit;
  if (!a) return `${m?.cpu ?? 'unknown CPU'} (family ${m?.family} model ${m?.model}), ${m?.cores} cores`;
  return `${a.cpu} family ${a.family} model ${a.model}, ${a.mhz} MHz, ${m.cores} cores, table ${a.table} (peak ${a.peak_gflops_per_core} GFLOP/s per core at the start)`;
}

function efficiency(c, need) {
  return {
    id: `${c.toLowerCase()}-efficiency`,
    goal: `native ${c}, 1 thread: fraction of the dispatched table's peak (CPU time)`,
    need,
    cmp: '≥',
    unit: '%',
    figure(doc) {
      const a = find(doc, 'native', 'attnkit-native', c, 1);
      if (!ok(a) || a.efficiency === undefined) return null;
      const wall = `wall clock: ${(100 * a.efficiency).toFixed(1)} % of ${a.peak_gflops_per_core} GFLOP/s (${ms(a.median_ms)}, ${(a.gflops ?? a.cli_gflops ?? 0).toFixed(1)} GFLOP/s)`;
      if (a.efficiency_cpu === undefined)
        return { value: fixed(100 * a.efficiency, 1), against: `${a.simd} peak, ${wall}` };
      return {
        value: fixed(100 * a.efficiency_cpu, 1),
        against: `${a.simd} peak ${a.peak_gflops_per_core_cpu} GFLOP/s per CPU-second, sampled in each round's process between its timed samples (${ms(a.cpu_median_ms)} of CPU per call; medians of the rounds); ${wall}`,
      };
    },
  };
}

function scaling(env, c, need) {
  const peer = env === 'native' ? 'attnkit-native' : 'attnkit-wasm';
  const where = env === 'native' ? 'native' : 'Chromium';
  return {
    id: `${env}-${c.toLowerCase()}-threads`,
    goal: `${where} ${c}: 2 threads' speed-up over 1`,
    need,
    cmp: '≥',
    unit: '×',
    figure(doc) {
      const one = find(doc, env, peer, c, 1),
        two = find(doc, env, peer, c, 2);
      if (!ok(one) || !ok(two)) return null;
      return {
        value: fixed(one.median_ms / two.median_ms, 2),
        against: `1 thread ${ms(one.median_ms)}, 2 threads ${ms(two.median_ms)} (medians of the rounds)`,
      };
    },
  };
}

function c5Memory(t) {
  return {
    id: `c5-memory-${t}t`,
    goal: `native C5 (b1 n16384 d768 h12), ${t} thread${t > 1 ? 's' : ''}: peak memory`,
    need: 400,
    cmp: '≤',
    unit: 'MB',
    figure(doc) {
      const a = find(doc, 'native', 'attnkit-native', 'C5', t);
      if (!ok(a) || a.max_rss_mb === undefined) return null;
      return { value: fixed(a.max_rss_mb, 1), against: `max RSS (/usr/bin/time); the forward took ${ms(a.median_ms)}` };
    },
  };
}

// A peer's failure in a few words: an allocation it was refused (onnxruntime's BFC arena, PyTorch's CPU allocator)
// with its size, a time limit, or the message's start.
export function failureText(error, limitGb) {
  const size = /requested buffer of size (\d+)|tried to allocate (\d+) bytes/.exec(error);
  if (size) {
    const gb = Number(size[1] ?? size[2]) / 1e9;
    return `fails: one allocation of ${gb.toFixed(1)} GB refused${limitGb ? ` (${limitGb} GB data limit)` : ''}`;
  }
  if (/time limit/.test(error)) return `fails: ${error.replace(/^child failed \(exit /, '').replace(/\).*$/, '')}`;
  return `fails: ${error.slice(0, 120)}`;
}

// What an unfused peer does at C5: its time, or its failure and why. Reported, not judged (the issue asks for it).
function c5Peer(peer, name) {
  return {
    id: `c5-${peer}`,
    goal: `${name} at C5, 1 thread: what it does`,
    need: 'reported',
    cmp: 'reported',
    unit: '',
    figure(doc) {
      const p = find(doc, 'native', peer, 'C5', 1);
      if (!p) return null;
      const limit = doc.options?.peer_data_limit_gb;
      const capped = limit ? ` under a ${limit} GB data limit (ulimit -d)` : '';
      if (p.error) return { value: failureText(p.error, limit), reported: true, against: `run once${capped}` };
      return {
        value: ms(p.median_ms),
        reported: true,
        against: `run once${capped}; peak ${p.max_rss_mb?.toFixed(0)} MB; attnkit ${ms(find(doc, 'native', 'attnkit-native', 'C5', 1)?.median_ms ?? NaN)}`,
      };
    },
  };
}

function weights(env, where) {
  return {
    id: `weights-${env}`,
    goal: `C2 with returnWeights / the fused forward, ${where}, 1 thread`,
    need: 1.3,
    cmp: '≤',
    unit: '×',
    figure(doc) {
      const w = doc.weights?.[env];
      if (!w || w.error) return null;
      return {
        value: fixed(w.ratio, 2),
        against: `${ms(w.weights_ms)} against ${ms(w.fused_ms)} (${w.how})`,
      };
    },
  };
}

function c1Chromium() {
  return {
    id: 'c1-chromium',
    goal: 'C1 through the package in Chromium: the plain JavaScript loop’s time / attnkit’s',
    need: 1,
    cmp: '≥',
    unit: '×',
    figure(doc) {
      const a = find(doc, 'chromium', 'attnkit-wasm', 'C1', 1),
        p = find(doc, 'chromium', 'plain-js', 'C1', 1);
      if (!ok(a) || !ok(p)) return null;
      return {
        value: fixed(p.paired_ratio ?? p.median_ms / a.median_ms, 2),
        against: `attnkit ${(a.median_ms * 1000).toFixed(2)} µs, plain JS ${(p.median_ms * 1000).toFixed(2)} µs (${p.paired_ratio !== undefined ? 'median of the paired rounds' : 'one round'})`,
      };
    },
  };
}

// The issue: "the goals above imply about 1.8× onnxruntime-node on C2 and 2.7× on C4" on a full-width AVX-512 core;
// PyTorch's ratios are reported beside them (no bar).
function peerRatio(peer, name, c, need) {
  return {
    id: `${c.toLowerCase()}-vs-${peer}`,
    goal: `native ${c}, 1 thread: ${name}'s time / attnkit's${need === 'reported' ? '' : ' (implied by the goals)'}`,
    need,
    cmp: need === 'reported' ? 'reported' : '≥',
    unit: '×',
    figure(doc) {
      const a = find(doc, 'native', 'attnkit-native', c, 1),
        p = find(doc, 'native', peer, c, 1);
      if (!ok(a) || !p) return null;
      if (p.error) return { value: `error: ${p.error.slice(0, 120)}`, reported: true, against: '' };
      const paired = p.paired_ratio !== undefined;
      return {
        value: fixed(paired ? p.paired_ratio : p.median_ms / a.median_ms, 2),
        against: `${ms(p.median_ms)} against ${ms(a.median_ms)}${paired ? ' (median of paired rounds)' : ''}${p.blas ? `; ${p.version}, ${p.blas.split('/').slice(-2).join('/')}` : ''}`,
      };
    },
  };
}

export const GOALS = [
  efficiency('C2', 80),
  efficiency('C4', 75),
  scaling('native', 'C2', 1.9),
  scaling('native', 'C3', 1.9),
  scaling('native', 'C4', 1.9),
  scaling('chromium', 'C2', 1.8),
  scaling('chromium', 'C3', 1.8),
  c5Memory(1),
  c5Memory(2),
  c5Peer('ort-node', 'onnxruntime-node'),
  c5Peer('pytorch', 'PyTorch'),
  weights('native', 'native'),
  weights('wasm', 'wasm in Node'),
  c1Chromium(),
  peerRatio('ort-node', 'onnxruntime-node', 'C2', 1.8),
  peerRatio('ort-node', 'onnxruntime-node', 'C4', 2.7),
  peerRatio('pytorch', 'PyTorch', 'C2', 'reported'),
  peerRatio('pytorch', 'PyTorch', 'C4', 'reported'),
];

// One row per goal: { id, goal, figure, need, met } — met is true / false, 'reported' for a figure without a bar,
// or 'not measured' when the run has no such cell (a skipped or failed cell says so instead of vanishing).
export function goalRows(doc) {
  return GOALS.map((g) => {
    let f = null;
    try {
      f = g.figure(doc);
    } catch (e) {
      f = { value: `not computed: ${e.message}`, reported: true, against: '' };
    }
    const base = { id: g.id, goal: g.goal, need: g.need, cmp: g.cmp, unit: g.unit };
    if (!f) return { ...base, figure: null, met: 'not measured', against: '' };
    const met = f.reported || g.cmp === 'reported' ? 'reported' : g.cmp === '≥' ? f.value >= g.need : f.value <= g.need;
    return { ...base, figure: f.value, met, against: f.against };
  });
}

// The rows as a markdown table (the report's last table; report.mjs puts the same in bench/README.md).
export function goalsMarkdown(rows) {
  const text = (r) =>
    r.figure === null
      ? '–'
      : typeof r.figure === 'number'
        ? `${r.figure}${r.unit === '%' ? ' %' : r.unit === 'MB' ? ' MB' : r.unit}`
        : r.figure;
  const bar = (r) =>
    r.cmp === 'reported' ? 'reported' : `${r.cmp} ${r.need}${r.unit === '%' ? ' %' : r.unit === 'MB' ? ' MB' : r.unit}`;
  const met = (r) => (r.met === true ? 'met' : r.met === false ? 'NOT met' : r.met);
  return markdown(
    ['goal (issue 14)', 'figure', 'goal', 'met', 'measured against'],
    rows.map((r) => [r.goal, text(r), bar(r), met(r), r.against || '']),
    ['l', 'r', 'r', 'l', 'l'],
  );
}
