// Two threads' speed-up of the package, as same-run ratios (threads-pairs.mjs), in Node and in headless Chromium:
//   node bench/compare/threads-paired.mjs [--configs C2,C3] [--pairs 15] [--skip-node] [--skip-browser]
// Prints per environment and configuration the medians of the single-thread build at 1 thread and of the pthreads
// build at 1 and 2 threads, and the two speed-ups. The bench cells' own ratio (run.mjs) sets pages minutes apart
// against each other; this is the check on it.
import { load } from 'attnkit';
import { loadavg } from 'node:os';
import { threadsPairs } from './threads-pairs.mjs';
import { config } from './configs.mjs';
import { runBrowser } from './browser.mjs';

const argv = process.argv.slice(2);
const flag = (name) => argv.includes(name);
const value = (name, fallback) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : fallback);
const configs = value('--configs', 'C2,C3').split(',');
const pairs = Number(value('--pairs', 15));
const known = ['--configs', '--pairs', '--skip-node', '--skip-browser'];
for (let i = 0; i < argv.length; i++) {
  if (!known.includes(argv[i])) {
    console.error(`threads-paired: unknown option '${argv[i]}'; expected ${known.join(', ')}`);
    process.exit(2);
  }
  if (argv[i] === '--configs' || argv[i] === '--pairs') i++;
}
if (!(Number.isInteger(pairs) && pairs >= 1)) {
  console.error(`threads-paired: --pairs must be a whole number ≥ 1; got '${value('--pairs')}'`);
  process.exit(2);
}
for (const name of configs) {
  try {
    config(name);
  } catch (e) {
    console.error(`threads-paired: ${e.message}`);
    process.exit(2);
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
if (!flag('--skip-node')) {
  const single = await load({ threads: false }),
    pthreads = await load({ threads: true });
  table(`Node ${process.versions.node}`, threadsPairs(single, pthreads, configs, { pairs }));
  single.terminate();
  pthreads.terminate();
}
if (!flag('--skip-browser')) {
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
