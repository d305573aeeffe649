// How many JS invoke_* trampolines (Emscripten's -fexceptions, the pthreads build) one C1 forward goes through:
//   node bench/compare/c1-invokes.mjs
// Copies wasm/ and dist/ to a temporary directory, puts a counter in every invoke_ function of dist/attnkit-mt.mjs,
// and calls forward(x, [2, 6, 3], { threads: 1 }) 1000 times after a warm-up. The small-call route should meet none
// (wasm/README.md, "What a small call costs").
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'attnkit-invokes-'));
try {
  cpSync(join(root, 'wasm'), join(dir, 'wasm'), { recursive: true });
  cpSync(join(root, 'dist'), join(dir, 'dist'), { recursive: true });
  const file = join(dir, 'dist', 'attnkit-mt.mjs');
  let patched = 0;
  const src = readFileSync(file, 'utf8').replace(/function (invoke_[a-z]+)\(([^)]*)\)\{/g, (m) => {
    patched++;
    return `${m}globalThis.__attnkitInvokes=(globalThis.__attnkitInvokes||0)+1;`;
  });
  writeFileSync(file, src);
  const { load } = await import(join(dir, 'wasm', 'index.mjs'));
  const ak = await load({ threads: true });
  const layer = ak.create('multihead', { dIn: 3, dOut: 2, numHeads: 2, contextLength: 6, seed: 123 });
  const x = new Float32Array(2 * 6 * 3).fill(0.5);
  for (let i = 0; i < 10; i++) layer.forward(x, [2, 6, 3], { threads: 1 });
  globalThis.__attnkitInvokes = 0;
  const calls = 1000;
  for (let i = 0; i < calls; i++) layer.forward(x, [2, 6, 3], { threads: 1 });
  const perCall = globalThis.__attnkitInvokes / calls;
  console.log(`pthreads build: ${patched} invoke_ functions; ${perCall.toFixed(2)} invoke_ calls per C1 forward`);
  layer.dispose();
  ak.terminate();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
