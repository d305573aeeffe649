// The PyTorch peer (bench/compare/torch_peer.py): Debian's python3-torch on /usr/bin/python3 (the python3 first on
// PATH may be another interpreter), with OpenBLAS (libopenblas0-pthread; without it torch runs on the reference
// BLAS, ~7 GFLOP/s), and OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE unset in its process only. A peer that cannot run is
// reported with the reason and the fix (scripts/setup-bench.sh installs both), never left out silently.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeInput, makeStateDict } from './configs.mjs';

export const PYTHON = '/usr/bin/python3';
const FIX = 'run `bash scripts/setup-bench.sh` (as root: apt-get install python3-torch libopenblas0-pthread)';

// The environment of the torch process: this machine's OpenBLAS overrides removed (they mis-tune it on some CPUs).
export function torchEnv() {
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  return env;
}

// { version, blas } when torch imports, else { error } saying why and how to fix it.
export function torchStatus() {
  if (!existsSync(PYTHON)) return { error: `${PYTHON} not found; ${FIX}` };
  const probe =
    'import torch; torch.ones(64, 64) @ torch.ones(64, 64); ' +
    "maps = [l.split()[-1] for l in open('/proc/self/maps') if 'blas' in l.split()[-1]]; " +
    "print(torch.__version__); print(next((p for p in maps if 'openblas' in p), maps[0] if maps else 'unknown'))";
  const r = spawnSync(PYTHON, ['-c', probe], { encoding: 'utf8', env: torchEnv() });
  if (r.status !== 0)
    return { error: `PyTorch not installed (${PYTHON} -c "import torch" failed: ${lastLine(r.stderr)}); ${FIX}` };
  const [version, blas] = r.stdout.trim().split('\n');
  const status = { version, blas };
  if (!/openblas/.test(blas))
    status.warning = `PyTorch runs on ${blas}, not OpenBLAS (libopenblas0-pthread missing): its times are the reference BLAS's; ${FIX}`;
  return status;
}

const lastLine = (text) => text.trim().split('\n').slice(-1)[0] || 'no output';

// One PyTorch cell. run: run.mjs's process runner; limit: run.mjs's memory cap wrapper ([cmd, args] → [cmd, args]).
export async function torchCell({ run, limit, c, threads, budget, refDir, work }) {
  const base = { peer: 'pytorch', env: 'native', config: c.name, threads };
  const dir = join(work, `torch-${c.name}`);
  if (!existsSync(dir)) {
    mkdirSync(dir);
    const sd = makeStateDict(c);
    for (const [k, v] of Object.entries(sd)) writeFileSync(join(dir, k), new Uint8Array(v.data.buffer));
    writeFileSync(join(dir, 'x'), new Uint8Array(makeInput(c).buffer));
    const ref = join(refDir, `${c.name}.bin`);
    if (existsSync(ref)) writeFileSync(join(dir, 'ref.bin'), readFileSync(ref));
  }
  const args = [
    join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, 'torch_peer.py'),
    dir,
    c.name,
    ...[threads, c.batch, c.tokens, c.dIn, c.dOut, c.heads].map(String),
    ...[Math.min(budget.warmup, 20), budget.budgetMs, budget.minRuns, budget.maxRuns].map(String),
  ];
  const [cmd, full] = limit(PYTHON, args);
  const r = await run(cmd, full, { timeoutMs: 900000, env: torchEnv() });
  const j = r.stdout
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l))
    .pop();
  if (!j) return { ...base, error: `python3 failed (exit ${r.code ?? r.signal}): ${lastLine(r.stderr)}` };
  return { env: 'native', ...j };
}
