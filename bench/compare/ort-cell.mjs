// One D1 or P1 cell of onnxruntime-node in its own process, or this machine's copy bandwidth (bench/compare/cells.mjs):
//   node bench/compare/ort-cell.mjs --cell D1|P1|copy [--threads N] [--quick] [--check]
// --check (P1): the output is compared with the page's plain-JS reference (web/src/reference.js, float64 sums)
// before it is timed, relative error ≤ 1e-4, else no timing. Prints one JSON line.
import ortNode from 'onnxruntime-node';
import { buildMultiHeadAttentionModel } from '../../web/src/onnx-graph.js';
import { normaliseStateDict, referenceForward } from '../../web/src/reference.js';
import { ortPeer } from '../../web/src/ort-session.js';
import { cell, decodeFeeds, kvBytes, makeStateDict, paddedFeeds, paddingMask } from './cells.mjs';
import { makeInput, relativeError } from './configs.mjs';
import { measure } from './timing.mjs';

const ort = ortNode.default ?? ortNode;
const TOLERANCE = 1e-4;

// Copy bandwidth from Node: 64 MiB (past the caches) copied, bytes read plus written per second (STREAM's
// convention, as attnkit bench's copy_gbps), best of 5 after one copy that pages the destination in.
function copyGbps() {
  const bytes = 64 << 20;
  const src = Buffer.alloc(bytes, 1),
    dst = Buffer.alloc(bytes);
  let best = 0;
  for (let r = 0; r < 6; r++) {
    const t0 = performance.now();
    src.copy(dst);
    const s = (performance.now() - t0) / 1e3;
    if (r > 0) best = Math.max(best, (2 * bytes) / s / 1e9);
  }
  return best;
}

async function main() {
  const argv = process.argv.slice(2);
  const arg = (name, dflt) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : dflt);
  const name = arg('--cell'),
    threads = Number(arg('--threads', '1')),
    quick = argv.includes('--quick');
  if (name === 'copy') {
    process.stdout.write(JSON.stringify({ peer: 'node-copy', copy_gbps: copyGbps() }) + '\n');
    return;
  }
  const c = cell(name);
  const sd = makeStateDict(c);
  const decode = c.kind === 'decode';
  const model = buildMultiHeadAttentionModel(c, sd, decode ? { decode: true } : { keyPaddingMask: true });
  const session = await ort.InferenceSession.create(model, {
    graphOptimizationLevel: 'all',
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
  });
  const feeds = decode ? decodeFeeds(ort, c) : paddedFeeds(ort, c);
  const run = async () => {
    const out = await session.run(feeds, ['y']); // present_key/value stay inside onnxruntime: the binding would copy 50 MB out
    const y = out.y.data;
    for (const t of Object.values(out)) t.dispose?.();
    return y;
  };
  const result = { peer: 'ort-node', env: 'native', config: c.name, threads, version: ort.env.versions?.node };
  const y = await run();
  if (!decode && argv.includes('--check')) {
    const ref = referenceForward(
      'multihead',
      { dOut: c.dOut, numHeads: c.heads, causal: true },
      normaliseStateDict(sd),
      makeInput(c),
      [c.batch, c.tokens, c.dIn],
      { keyPaddingMask: paddingMask(c) },
    ).context;
    result.rel_error = relativeError(y, ref);
    if (!(result.rel_error <= TOLERANCE))
      result.error = `output differs from the plain-JS reference (relative error ${result.rel_error}); not timed`;
  }
  if (!result.error) {
    const b = quick
      ? { warmup: 1, budgetMs: 0, minRuns: 3, maxRuns: 3 }
      : decode
        ? { warmup: 5, budgetMs: 2000, minRuns: 20, maxRuns: 400 }
        : { warmup: 1, budgetMs: 2500, minRuns: 3, maxRuns: 25 };
    Object.assign(result, await measure(run, { isAsync: true, ...b }));
    if (decode) result.kv_gbps = kvBytes(c) / (result.median_ms * 1e-3) / 1e9;
  }
  await session.release();
  result.max_rss_mb = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((e) => {
  process.stdout.write(
    JSON.stringify({ error: String(e && e.stack ? e.stack.split('\n').slice(0, 3).join(' | ') : e) }) + '\n',
  );
  process.exit(1);
});
