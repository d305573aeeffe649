// run.mjs's D1, D2 and P1 cells (bench/compare/cells.mjs): native attnkit (`attnkit bench --config D1|D2|P1`, which
// also measures this machine's read bandwidth on as many threads), attnkit's wasm build in Node (wasm-cell.mjs; P1
// and D1) and onnxruntime-node (ort-cell.mjs), a child process each, in paired rounds; a table and the targets:
// P1 ≥ 1.3× onnxruntime-node, a decoding step's K/V read at ≥ 70 % of the memory's read bandwidth. A build whose
// `attnkit bench` has no such config is reported as not available, not failed.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cell, kvBytes } from './cells.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const NEEDS = {
  D1: 'attnkit D1 not available in this build (`attnkit bench --config D1`: the KV-cache decoder)',
  D2: 'attnkit D2 not available in this build (`attnkit bench --config D2`: a decoding step from DRAM)',
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
      read_gbps: j.read_gbps,
      read_gbps_1_thread: j.read_gbps_1_thread,
      fraction_of_read_best: j.fraction_of_read_best, // the step's best against the bandwidth's best
      kv_gbps_best: j.kv_gbps_best,
      copy_gbps: j.copy_gbps,
      kv_bytes: j.kv_bytes,
      kv_fits_l3: j.kv_fits_l3,
      l3_bytes: j.l3_bytes,
    });
  else Object.assign(out, { gflops: j.gflops, flops: j.flops });
  return out;
}

// One cell in a child process (wasm-cell.mjs: attnkit's wasm build in Node, P1 and D1 — D2's 16383-token prefill
// takes minutes in wasm; ort-cell.mjs: onnxruntime-node): its last JSON line, or the child's failure.
async function childCell(script, run, c, threads, quick, check) {
  const args = [join(here, script), '--cell', c.name, '--threads', String(threads)];
  if (quick) args.push('--quick');
  if (check) args.push('--check');
  const r = await run(process.execPath, args, { timeoutMs: 600000 });
  const line = r.stdout
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .pop();
  return line
    ? JSON.parse(line)
    : { error: `child failed (exit ${r.code ?? r.signal}): ${r.stderr.trim().split('\n').pop()}` };
}

async function wasmCell(run, c, threads, quick, check) {
  const j = await childCell('wasm-cell.mjs', run, c, threads, quick, check);
  return { env: 'node', ...j, peer: 'attnkit-wasm', config: c.name, threads };
}

async function ortCell(run, c, threads, quick, check) {
  const j = await childCell('ort-cell.mjs', run, c, threads, quick, check);
  return { env: 'native', ...j, peer: 'ort-node', config: c.name, threads };
}

/** Runs the cells; returns { results, copy, table, targets }. `run` is run.mjs's process helper, `say` its log. */
export async function runCells({ names, threads, rounds, quick, run, native, say }) {
  const results = [];
  const copyRun = await ortCell(run, { name: 'copy' }, 1, false, false);
  const nodeCopy = copyRun.copy_gbps;
  say(`D1/D2/P1: copy bandwidth measured from Node ${nodeCopy?.toFixed(2)} GB/s (64 MiB, read + write)`);
  for (const name of names) {
    const c = cell(name);
    say(
      `${name}: b${c.batch} ${c.kind === 'decode' ? `cache ${c.tokens - 1} + 1 new token, K/V ${(kvBytes(c) / 1e6).toFixed(1)} MB` : `n${c.tokens}, ${c.paddedKeys} padding keys per row`} d${c.dOut} h${c.heads}`,
    );
    const withWasm = name !== 'D2';
    for (const t of threads) {
      const ours = [],
        wasm = [],
        theirs = [];
      for (let k = 0; k < rounds; k++) {
        const check = c.kind === 'padded' && k === 0 && t === threads[0];
        ours.push(await attnkitCell(run, native, c, t, quick));
        if (withWasm) wasm.push(await wasmCell(run, c, t, quick, check));
        theirs.push(await ortCell(run, c, t, quick, check));
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
      const [a, w, o] = [pick(ours), withWasm ? pick(wasm) : null, pick(theirs)];
      // Paired ratios: onnxruntime-node's time over attnkit's, round by round, then the median.
      if (!a.error && !o.error) o.paired_ratio = median(ours.map((r, k) => theirs[k].median_ms / r.median_ms));
      if (w && !w.error && !o.error)
        w.ratio_ort_over_wasm = median(wasm.map((r, k) => theirs[k].median_ms / r.median_ms));
      if (!a.error && a.kv_gbps !== undefined) {
        a.node_copy_gbps = nodeCopy;
        a.fraction_of_read = a.read_gbps ? a.kv_gbps / a.read_gbps : undefined;
        a.fraction_of_copy = a.kv_gbps / (a.copy_gbps || nodeCopy);
        if (w && !w.error) w.fraction_of_read = a.read_gbps ? w.kv_gbps / a.read_gbps : undefined;
      }
      for (const r of [a, w, o].filter(Boolean)) {
        results.push(r);
        say(
          `  ${r.peer.padEnd(14)} ${name} ${t}T  ${r.error ? `ERROR ${r.error}` : `${r.median_ms.toFixed(2)} ms${r.kv_gbps ? `, K/V ${r.kv_gbps.toFixed(2)} GB/s` : ''}${r.read_gbps ? ` of read bandwidth ${r.read_gbps.toFixed(2)} GB/s (${(100 * r.fraction_of_read).toFixed(1)} %${r.kv_fits_l3 ? ', the cache fits in L3' : ''})` : ''}${r.rel_error !== undefined ? `, rel. error ${r.rel_error.toExponential(1)}` : ''}`}`,
        );
      }
    }
  }
  return { results, nodeCopy, table: table(results, nodeCopy), targets: targets(results) };
}

export function table(results, nodeCopy) {
  const rows = [];
  const fmt = (r) => (!r ? '–' : r.error ? (r.unavailable ? 'n/a' : 'error') : `${r.median_ms.toFixed(2)} ms`);
  const pct = (x) => (x !== undefined && Number.isFinite(x) ? `${(100 * x).toFixed(1)} %` : '–');
  for (const a of results.filter((r) => r.peer === 'attnkit-native')) {
    const find = (peer) => results.find((r) => r.peer === peer && r.config === a.config && r.threads === a.threads);
    const o = find('ort-node'),
      w = find('attnkit-wasm');
    const gb = (r) => (r && !r.error && r.kv_gbps !== undefined ? r.kv_gbps.toFixed(2) : '–');
    rows.push([
      a.config,
      String(a.threads),
      fmt(a),
      fmt(w),
      fmt(o),
      o && o.paired_ratio !== undefined ? `${o.paired_ratio.toFixed(2)}×` : '–',
      w && w.ratio_ort_over_wasm !== undefined ? `${w.ratio_ort_over_wasm.toFixed(2)}×` : '–',
      gb(a),
      gb(o),
      !a.error && a.read_gbps ? a.read_gbps.toFixed(2) : '–',
      !a.error ? pct(a.fraction_of_read) + (a.kv_fits_l3 ? ' (L3)' : '') : '–',
      !a.error ? pct(a.fraction_of_read_best) : '–',
    ]);
  }
  const head = [
    'cell',
    'threads',
    'attnkit-native',
    'attnkit-wasm',
    'ort-node',
    'ort/native',
    'ort/wasm',
    'attnkit K/V GB/s',
    'ort-node K/V GB/s',
    'read bw GB/s',
    'native / read bw',
    'best step / read bw',
  ];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells) => '| ' + cells.map((x, i) => x.padStart(w[i])).join(' | ') + ' |';
  return [
    `\nDecode steps and padded prefill (read bandwidth: attnkit bench's, ${nodeCopy ? `Node's copy ${nodeCopy.toFixed(2)} GB/s` : ''}; (L3): the cache fits in L3)`,
    line(head),
    '|' + w.map((n) => '-'.repeat(n + 1) + ':').join('|') + '|',
    ...rows.map(line),
  ].join('\n');
}

// Issue 11 §4: the padded prefill ≥ 1.3× onnxruntime-node in the same run (native and wasm); a decoding step
// reads its K/V at ≥ 70 % of the memory's read bandwidth (D2: from DRAM; D1's cache fits in a 32 MB L3).
function targets(results) {
  const out = [];
  for (const a of results.filter((r) => r.config === 'P1' && !r.error && r.peer !== 'ort-node')) {
    const o = results.find((r) => r.peer === 'ort-node' && r.config === 'P1' && r.threads === a.threads && !r.error);
    const ratio = a.peer === 'attnkit-native' ? o?.paired_ratio : a.ratio_ort_over_wasm;
    if (o && ratio !== undefined)
      out.push({
        target: `${a.peer === 'attnkit-native' ? 'native' : 'wasm (Node)'} P1 ${a.threads}T vs onnxruntime-node`,
        config: 'P1',
        threads: a.threads,
        value: Number(ratio.toFixed(3)),
        need: 1.3,
        met: ratio >= 1.3,
        unit: '×',
      });
  }
  for (const a of results.filter((r) => r.peer === 'attnkit-native' && r.kv_gbps !== undefined && !r.error))
    if (a.fraction_of_read !== undefined)
      out.push({
        target: `native ${a.config} ${a.threads}T K/V read / memory read bandwidth${a.kv_fits_l3 ? ' (cache fits in L3)' : ''}`,
        config: a.config,
        threads: a.threads,
        value: Number((100 * a.fraction_of_read).toFixed(1)),
        value_best_step:
          a.fraction_of_read_best !== undefined ? Number((100 * a.fraction_of_read_best).toFixed(1)) : undefined,
        need: 70,
        met: a.fraction_of_read >= 0.7,
        unit: '%',
      });
  return out;
}
