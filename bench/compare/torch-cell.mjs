// The PyTorch peer (bench/compare/torch_peer.py): Debian's python3-torch on /usr/bin/python3 (the python3 first on
// PATH may be another interpreter), with OpenBLAS (libopenblas0-pthread; without it torch runs on the reference
// BLAS, ~7 GFLOP/s), and OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE unset in its process only. A peer that cannot run is
// reported with the reason and the fix (scripts/setup-bench.sh installs both), never left out silently.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeInput, makeStateDict } from './configs.mjs';
import { PYTHON, torchEnv } from './torch-env.mjs';

export { PYTHON, torchEnv, torchStatus } from './torch-env.mjs';

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
