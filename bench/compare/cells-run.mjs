// run.mjs's D1 and P1 cells (bench/compare/cells.mjs): native attnkit (`attnkit bench --config D1|P1`) and
// onnxruntime-node (ort-cell.mjs, a child process each) in paired rounds, the machine's copy bandwidth, a table
// and the targets. A build whose `attnkit bench` has no such config is reported as not available, not failed.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cell, kvBytes } from './cells.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const NEEDS = {
  D1: 'attnkit D1 not available in this build (`attnkit bench --config D1`: the KV-cache decoder)',
  P1: 'attnkit P1 not available in this build (`attnkit bench --config P1`: Module::forward with key_padding_mask)',
};

function median(xs) {
  const v = [...xs].sort((x, y) => x - y);
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
}

async function attnkitCell(run, native, c, threads, quick) {
  const base = { peer: 'attnkit-native', env: 'native', config: c.name, threads };
  if (!existsSync(native)) return { ...base, error: 'native attnkit not built: run `bash scripts/build-native.sh`' };
  const repeats = c.kind === 'decode' ? (quick ? '5' : '200') : quick ? '1' : '5';
  const r = await run(
    '/usr/bin/time',
    [
      '-f',
      'maxrss_kb=%M',
      native,
      'bench',
      '--config',
      c.name,
      '--threads',
      String(threads),
      '--format',
      'json',
      '--repeats',
      repeats,
    ],
    { timeoutMs: 600000 },
  );
  const line = r.stdout
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .pop();
  if (r.code !== 0 || !line) {
    const why =
      r.stderr
        .trim()
        .split('\n')
        .find((l) => l.startsWith('attnkit:')) || `exit ${r.code ?? r.signal}`;
    if (/unknown (bench config|--config|config)/i.test(why))
      return { ...base, error: NEEDS[c.name], unavailable: true };
    return { ...base, error: `attnkit bench failed: ${why}` };
  }
  const j = JSON.parse(line);
  const rss = /maxrss_kb=(\d+)/.exec(r.stderr);
  const out = {
    ...base,
    median_ms: j.median_ms,
    min_ms: j.min_ms,
    runs: j.repeats,
    simd: j.simd,
    max_rss_mb: rss ? Number(rss[1]) / 1024 : undefined,
  };
  if (c.kind === 'decode')
    Object.assign(out, {
      kv_gbps: kvBytes(c) / (j.median_ms * 1e-3) / 1e9,
      copy_gbps: j.copy_gbps,
      kv_bytes: j.kv_bytes,
    });
  return out;
}

async function ortCell(run, c, threads, quick, check) {
  const args = [join(here, 'ort-cell.mjs'), '--cell', c.name, '--threads', String(threads)];
  if (quick) args.push('--quick');
  if (check) args.push('--check');
  const r = await run(process.execPath, args, { timeoutMs: 600000 });
  const line = r.stdout
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .pop();
  const j = line
    ? JSON.parse(line)
    : { error: `child failed (exit ${r.code ?? r.signal}): ${r.stderr.trim().split('\n').pop()}` };
  return { env: 'native', ...j, peer: 'ort-node', config: c.name, threads };
}

/** Runs the cells; returns { results, copy, table, targets }. `run` is run.mjs's process helper, `say` its log. */
export async function runCells({ names, threads, rounds, quick, run, native, say }) {
  const results = [];
  const copyRun = await ortCell(run, { name: 'copy' }, 1, false, false);
  const nodeCopy = copyRun.copy_gbps;
  say(`D1/P1: copy bandwidth measured from Node ${nodeCopy?.toFixed(2)} GB/s (64 MiB, read + write)`);
  for (const name of names) {
    const c = cell(name);
    say(
      `${name}: b${c.batch} ${c.kind === 'decode' ? `cache ${c.tokens - 1} + 1 new token, K/V ${(kvBytes(c) / 1e6).toFixed(1)} MB` : `n${c.tokens}, ${c.paddedKeys} padding keys per row`} d${c.dOut} h${c.heads}`,
    );
    for (const t of threads) {
      const ours = [],
        theirs = [];
      for (let k = 0; k < rounds; k++) {
        ours.push(await attnkitCell(run, native, c, t, quick));
        theirs.push(await ortCell(run, c, t, quick, c.kind === 'padded' && k === 0 && t === threads[0]));
      }
      const pick = (rs) => {
        const failed = rs.find((r) => r.error);
        if (failed) return failed;
        const m = {
          ...rs[0],
          median_ms: median(rs.map((r) => r.median_ms)),
          round_medians_ms: rs.map((r) => r.median_ms),
          rounds: rs.length,
        };
        if (m.kv_gbps !== undefined) m.kv_gbps = kvBytes(c) / (m.median_ms * 1e-3) / 1e9;
        return m;
      };
      const [a, o] = [pick(ours), pick(theirs)];
      if (!a.error && !o.error) o.paired_ratio = median(ours.map((r, k) => theirs[k].median_ms / r.median_ms));
      if (!a.error && a.kv_gbps !== undefined) {
        a.node_copy_gbps = nodeCopy;
        a.fraction_of_copy = a.kv_gbps / (a.copy_gbps || nodeCopy);
      }
      for (const r of [a, o]) {
        results.push(r);
        say(
          `  ${r.peer.padEnd(14)} ${name} ${t}T  ${r.error ? `ERROR ${r.error}` : `${r.median_ms.toFixed(2)} ms${r.kv_gbps ? `, K/V ${r.kv_gbps.toFixed(2)} GB/s` : ''}${r.rel_error !== undefined ? `, rel. error ${r.rel_error.toExponential(1)}` : ''}`}`,
        );
      }
    }
  }
  return { results, nodeCopy, table: table(results, nodeCopy), targets: targets(results) };
}

function table(results, nodeCopy) {
  const rows = [];
  const fmt = (r) => (!r ? '–' : r.error ? (r.unavailable ? 'n/a' : 'error') : `${r.median_ms.toFixed(2)} ms`);
  for (const a of results.filter((r) => r.peer === 'attnkit-native')) {
    const o = results.find((r) => r.peer === 'ort-node' && r.config === a.config && r.threads === a.threads);
    const ok = !a.error && o && !o.error;
    const gb = (r) => (r && !r.error && r.kv_gbps !== undefined ? r.kv_gbps.toFixed(2) : '–');
    rows.push([
      a.config,
      String(a.threads),
      fmt(a),
      fmt(o),
      ok ? `${o.paired_ratio.toFixed(2)}×` : '–',
      gb(a),
      gb(o),
      !a.error && a.fraction_of_copy !== undefined ? `${(100 * a.fraction_of_copy).toFixed(1)} %` : '–',
    ]);
  }
  const head = [
    'cell',
    'threads',
    'attnkit-native',
    'ort-node',
    'ort-node/attnkit',
    'attnkit K/V GB/s',
    'ort-node K/V GB/s',
    'attnkit / copy bw',
  ];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells) => '| ' + cells.map((x, i) => x.padStart(w[i])).join(' | ') + ' |';
  return [
    `\nDecode step and padded prefill (copy bandwidth: attnkit bench's where it reports one, else Node's ${nodeCopy?.toFixed(2)} GB/s)`,
    line(head),
    '|' + w.map((n) => '-'.repeat(n + 1) + ':').join('|') + '|',
    ...rows.map(line),
  ].join('\n');
}

// Issue 11 §4: the padded prefill ≥ 1.3× onnxruntime-node in the same run.
function targets(results) {
  const out = [];
  for (const a of results.filter((r) => r.peer === 'attnkit-native' && r.config === 'P1' && !r.error)) {
    const o = results.find((r) => r.peer === 'ort-node' && r.config === 'P1' && r.threads === a.threads && !r.error);
    if (o)
      out.push({
        target: `native P1 ${a.threads}T vs onnxruntime-node`,
        config: 'P1',
        threads: a.threads,
        value: Number(o.paired_ratio.toFixed(3)),
        need: 1.3,
        met: o.paired_ratio >= 1.3,
        unit: '×',
      });
  }
  return out;
}
