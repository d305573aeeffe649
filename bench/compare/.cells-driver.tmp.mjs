import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { runCells } from './cells-run.mjs';
const root = new URL('../../', import.meta.url).pathname;
function run(cmd, args, { timeoutMs = 300000 } = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stdout, stderr }); });
    child.stdin.end();
  });
}
const names = process.argv[2].split(','), threads = process.argv[3].split(',').map(Number), rounds = Number(process.argv[4]);
const r = await runCells({ names, threads, rounds, quick: false, run, native: root + 'build/native/attnkit', say: (s) => console.log(s) });
console.log(r.table);
console.log(JSON.stringify(r.targets, null, 1));
writeFileSync(process.argv[5], JSON.stringify(r, null, 1));
