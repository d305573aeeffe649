// PyTorch as a peer, whichever cells run it (torch-cell.mjs's forward, grad-run.mjs's forward + backward): Debian's
// python3-torch on /usr/bin/python3 (the python3 first on PATH may be another interpreter), with OpenBLAS
// (libopenblas0-pthread; without it torch runs on the reference BLAS, ~7 GFLOP/s), and OPENBLAS_CORETYPE /
// OPENBLAS_L2_SIZE unset in its process only. torchStatus() says whether it runs, on which BLAS, and how to fix it.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export const PYTHON = '/usr/bin/python3';
const lastLine = (text) => text.trim().split('\n').slice(-1)[0] || 'no output';
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
