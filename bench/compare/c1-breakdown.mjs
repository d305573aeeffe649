// The cost of a C1 forward from JavaScript, step by step (c1-steps.mjs), in Node and in headless Chromium, for the
// single-thread and the pthreads build:
//   node bench/compare/c1-breakdown.mjs [--rounds 3] [--skip-node] [--skip-browser] [--threads 1,2]
// Prints one table per environment and build (medians over the rounds), and the plain loop / package ratios.
import { load } from 'attnkit';
import * as internals from '../../wasm/src/layer.mjs';
import { loadavg } from 'node:os';
import { c1Steps } from './c1-steps.mjs';
import { runBrowser } from './browser.mjs';
import { median } from './timing.mjs';

const argv = process.argv.slice(2);
const flag = (name) => argv.includes(name);
const value = (name, fallback) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : fallback);
const rounds = Number(value('--rounds', 3));
const threads = value('--threads', '1,2').split(',').map(Number);
const say = (s) => process.stdout.write(s + '\n');

function table(title, runs) {
  say(`\n${title} (median of ${runs.length} round${runs.length > 1 ? 's' : ''}; µs per call)`);
  const rows = runs[0].rows.map((r, i) => [r.step, median(runs.map((x) => x.rows[i].us ?? NaN))]);
  for (const [step, us] of rows) say(`  ${step.padEnd(52)} ${Number.isNaN(us) ? '–' : us.toFixed(3).padStart(8)}`);
  const ratio = median(runs.map((x) => x.plainOverPackage));
  const ratioOut = median(runs.map((x) => x.plainOverPackageOut ?? NaN));
  say(
    `  plain loop / forward(x, shape, { threads: 1 }): ${ratio.toFixed(2)}×` +
      (Number.isNaN(ratioOut) ? '' : `; with { out }: ${ratioOut.toFixed(2)}×`),
  );
}

say(
  `load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
if (!flag('--skip-node')) {
  for (const t of threads) {
    const ak = await load({ threads: t > 1 });
    const runs = [];
    for (let r = 0; r < rounds; r++) runs.push(c1Steps(ak, internals));
    table(`Node ${process.versions.node}, ${ak.multithreaded ? 'pthreads' : 'single-thread'} build`, runs);
    ak.terminate();
  }
}
if (!flag('--skip-browser')) {
  const results = await runBrowser({
    peers: ['c1-steps'],
    configs: ['C1'],
    threads,
    quick: false,
    refDir: '/nonexistent',
    rounds,
    log: () => {},
  });
  for (const t of threads) {
    const runs = results.filter((r) => r.threads === t && !r.error);
    const failed = results.find((r) => r.threads === t && r.error);
    if (failed) say(`\nChromium, threads ${t}: ${failed.error}`);
    if (runs.length) table(`Chromium, ${runs[0].multithreaded ? 'pthreads' : 'single-thread'} build`, runs);
  }
}
say(
  `load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
