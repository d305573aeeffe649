// How many JS invoke_* trampolines (Emscripten's -fexceptions, the pthreads build) one C1 forward goes through:
//   node bench/compare/c1-invokes.mjs
// Copies wasm/ and dist/ to a temporary directory, puts a counter in every invoke_ function of dist/attnkit-mt.mjs,
// and calls the bench cell's C1 forward (peers.mjs: the layer, its input, { threads: 1 }) 1000 times after a warm-up.
// The small-call route should meet none (wasm/README.md, "What a small call costs"). Exits 1 if it finds no invoke_
// function to count (a changed Emscripten output would otherwise read as 0 per call).
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { config, makeStateDict, makeInput } from './configs.mjs';
import { attnkitPeer } from './peers.mjs';

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
  if (patched === 0) throw new Error(`c1-invokes: no invoke_ function found in ${file}; the counter would read 0`);
  writeFileSync(file, src);
  const { load } = await import(join(dir, 'wasm', 'index.mjs'));
  const ak = await load({ threads: true });
  const c = config('C1');
  const peer = attnkitPeer(ak, c, makeStateDict(c), makeInput(c), 1);
  for (let i = 0; i < 10; i++) peer.run();
  globalThis.__attnkitInvokes = 0;
  const calls = 1000;
  for (let i = 0; i < calls; i++) peer.run();
  const perCall = globalThis.__attnkitInvokes / calls;
  console.log(`pthreads build: ${patched} invoke_ functions; ${perCall.toFixed(2)} invoke_ calls per C1 forward`);
  peer.dispose();
  ak.terminate();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
