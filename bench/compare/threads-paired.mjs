// Two threads' speed-up of the package, as same-run ratios (threads-pairs.mjs), in Node and in headless Chromium:
//   node bench/compare/threads-paired.mjs [--configs C2,C3] [--pairs 15] [--skip-node] [--skip-browser] [--help]
// Prints per environment and configuration the medians of the single-thread build at 1 thread and of the pthreads
// build at 1 and 2 threads, and the two speed-ups. The bench cells' own ratio (run.mjs) sets pages minutes apart
// against each other; this is the check on it.
import { load } from 'attnkit';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { threadsPairs } from './threads-pairs.mjs';
import { config } from './configs.mjs';
import { runBrowser } from './browser.mjs';

const fail = (message) => {
  console.error(`threads-paired: ${message}`);
  process.exit(2);
};
const OPTIONS = {
  configs: { type: 'string', default: 'C2,C3' },
  pairs: { type: 'string', default: '15' },
  'skip-node': { type: 'boolean', default: false },
  'skip-browser': { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
};
let args;
try {
  args = parseArgs({ options: OPTIONS, strict: true, allowPositionals: false }).values;
} catch (e) {
  const expected = Object.keys(OPTIONS).map((k) => `--${k}`);
  if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION')
    fail(`unknown option '${/'([^']+)'/.exec(e.message)?.[1] ?? e.message}'; expected ${expected.join(', ')}`);
  fail(`${e.message.split('\n')[0]} (expected ${expected.join(', ')})`);
}
if (args.help) {
  // the header comment above is the usage
  const header = readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n');
  console.log(
    header
      .slice(
        0,
        header.findIndex((l) => !l.startsWith('//')),
      )
      .join('\n'),
  );
  process.exit(0);
}
const configs = args.configs.split(',');
const pairs = Number(args.pairs);
if (!(Number.isInteger(pairs) && pairs >= 1)) fail(`--pairs must be a whole number ≥ 1; got '${args.pairs}'`);
for (const name of configs) {
  try {
    config(name);
  } catch (e) {
    fail(e.message);
  }
}
const say = (s) => process.stdout.write(s + '\n');
const ms = (v) => v.toFixed(1).padStart(8);

function table(title, rows) {
  say(`\n${title}: medians of ${rows[0].pairs} alternating calls each (ms)`);
  say('  config  single 1T  pthreads 1T  pthreads 2T   2T over single 1T   2T over pthreads 1T');
  for (const r of rows)
    say(
      `  ${r.config.padEnd(6)} ${ms(r.single_1_thread_ms)}   ${ms(r.pthreads_1_thread_ms)}     ${ms(r.pthreads_2_threads_ms)}` +
        `   ${r.speedup_over_single.toFixed(2).padStart(16)}×   ${r.speedup_same_build.toFixed(2).padStart(18)}×`,
    );
}

const load1 = () => `load average ${loadavg()[0].toFixed(2)}`;
say(load1());
if (!args['skip-node']) {
  const single = await load({ threads: false }),
    pthreads = await load({ threads: true });
  table(`Node ${process.versions.node}`, threadsPairs(single, pthreads, configs, { pairs }));
  single.terminate();
  pthreads.terminate();
}
if (!args['skip-browser']) {
  const results = await runBrowser({
    peers: ['threads-pairs'],
    query: `&pairs=${pairs}`,
    configs,
    threads: [2],
    quick: false,
    refDir: '/nonexistent',
    log: () => {},
  });
  const failed = results.find((r) => r.error);
  if (failed) say(`\nChromium: ${failed.error}`);
  const rows = results.filter((r) => !r.error);
  if (rows.length) table('Chromium (cross-origin isolated page)', rows);
}
say(load1());
