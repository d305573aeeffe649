// One D1, D2 or P1 cell of attnkit's wasm build in its own Node process (bench/compare/cells.mjs), beside
// ort-cell.mjs's onnxruntime-node run of the same cell:
//   node bench/compare/wasm-cell.mjs --cell D1|D2|P1 [--threads N] [--quick] [--check]
// P1: layer.forward with keyPaddingMask (the fused path; padded keys are skipped). D1, D2: one layer.decoder step
// after a cache of tokens − 1, rewound after each step. --check (P1): the output against the page's plain-JS
// reference (web/src/reference.js, float64 sums) before timing, relative error ≤ 1e-4, else no timing.
// Prints one JSON line.
import { load } from 'attnkit';
import { normaliseStateDict, referenceForward } from '../../web/src/reference.js';
import { cell, kvBytes, makeStateDict, paddingMask } from './cells.mjs';
import { makeInput, relativeError } from './configs.mjs';
import { measure } from './timing.mjs';

const TOLERANCE = 1e-4;

async function main() {
  const argv = process.argv.slice(2);
  const arg = (name, dflt) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : dflt);
  const c = cell(arg('--cell')),
    threads = Number(arg('--threads', '1')),
    quick = argv.includes('--quick');
  const ak = await load({ threads: threads > 1 });
  const sd = makeStateDict(c);
  const decode = c.kind === 'decode';
  // Decoding: room for EXTRA steps past the cell's cache (the package's decoder has no rewind), so the cache grows
  // from tokens − 1 to at most tokens − 1 + EXTRA while timed; K/V bytes are counted at the cell's size (tokens),
  // an undercount of at most EXTRA / tokens. Refilled (outside the median's reach) when full.
  const EXTRA = 256;
  const layer = ak.create('multihead', {
    dIn: c.dIn,
    dOut: c.dOut,
    numHeads: c.heads,
    contextLength: decode ? c.tokens + EXTRA : c.tokens,
    causal: true,
    qkvBias: false,
    dropout: 0,
    stateDict: sd,
  });
  const result = { peer: 'attnkit-wasm', env: 'node', config: c.name, threads, simd: ak.simd };
  let run;
  if (decode) {
    const decoder = layer.decoder({ maxTokens: c.tokens + EXTRA, batch: c.batch });
    const past = makeInput({ ...c, tokens: c.tokens - 1 });
    const fill = () => {
      decoder.reset();
      decoder.step(past, [c.batch, c.tokens - 1, c.dIn], { threads });
    };
    fill();
    const x = makeInput({ ...c, tokens: 1 });
    run = () => {
      if (decoder.length >= c.tokens - 1 + EXTRA) fill();
      return decoder.step(x, [c.batch, 1, c.dIn], { threads }).context;
    };
  } else {
    const x = makeInput(c);
    const options = { keyPaddingMask: paddingMask(c), threads };
    run = () => layer.forward(x, [c.batch, c.tokens, c.dIn], options).context;
    if (argv.includes('--check')) {
      const ref = referenceForward(
        'multihead',
        { dOut: c.dOut, numHeads: c.heads, causal: true },
        normaliseStateDict(sd),
        x,
        [c.batch, c.tokens, c.dIn],
        { keyPaddingMask: paddingMask(c) },
      ).context;
      result.rel_error = relativeError(run(), ref);
      if (!(result.rel_error <= TOLERANCE))
        result.error = `output differs from the plain-JS reference (relative error ${result.rel_error}); not timed`;
    }
  }
  if (!result.error) {
    const b = quick
      ? { warmup: 1, budgetMs: 0, minRuns: 3, maxRuns: 3 }
      : decode
        ? { warmup: 5, budgetMs: 2000, minRuns: 20, maxRuns: 400 }
        : { warmup: 1, budgetMs: 2500, minRuns: 3, maxRuns: 25 };
    Object.assign(result, await measure(run, b));
    if (decode) result.kv_gbps = kvBytes(c) / (result.median_ms * 1e-3) / 1e9;
  }
  layer.dispose();
  result.max_rss_mb = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(JSON.stringify(result) + '\n');
  ak.terminate?.();
}

main().catch((e) => {
  process.stdout.write(
    JSON.stringify({ error: String(e && e.stack ? e.stack.split('\n').slice(0, 3).join(' | ') : e) }) + '\n',
  );
  process.exit(1);
});
