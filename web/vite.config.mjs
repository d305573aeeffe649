// Vite config for the attnkit page. Root: web/. Output: web/dist/ (relative asset URLs: any static server works).
// "attnkit" resolves to the repo root package's ESM entry, read from its package.json "exports",
// exactly what a consumer of the npm package gets.
import { defineConfig } from 'vite';
import { readFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..');

function packageEntry() {
  const pkg = JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8'));
  let e = pkg.exports?.['.'] ?? pkg.exports ?? pkg.module ?? pkg.main;
  for (let k = 0; k < 4 && e && typeof e === 'object'; k++) e = e.browser ?? e.import ?? e.module ?? e.default;
  if (typeof e !== 'string')
    throw new Error(
      'attnkit: the root package.json has no ESM entry in "exports"; build the package first (scripts/build-wasm.sh)',
    );
  const file = path.resolve(repo, e);
  if (!existsSync(file))
    throw new Error(
      `attnkit: ${path.relative(repo, file)} is missing; build the package first (bash scripts/build-wasm.sh)`,
    );
  return file;
}

// Emscripten's pthread worker (dist/attnkit-mt.worker.js) requires Node's fs and worker_threads, but only when it
// runs under Node. In the page's worker bundle they resolve to an empty module, so the browser build carries no
// Node built-in and Vite prints no "externalized for browser compatibility" warning. The Node package is untouched.
const EMPTY = '\0attnkit-node-only:';
const nodeOnlyModules = {
  name: 'attnkit-node-only-modules',
  enforce: 'pre',
  resolveId(id, importer) {
    if ((id === 'fs' || id === 'worker_threads') && importer && /attnkit-mt\.worker\.js$/.test(importer))
      return EMPTY + id;
    return null;
  },
  load(id) {
    return id.startsWith(EMPTY) ? 'export default {};' : null;
  },
};

const isolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

export default defineConfig({
  root: here,
  base: './',
  resolve: { alias: { attnkit: process.env.ATTNKIT_ENTRY || packageEntry() } },
  // Dev server: onnxruntime-web (loaded by the performance panel's worker on demand) is served as is, so its
  // bundle finds its .wasm beside itself; onnx-proto (CommonJS) is pre-bundled up front, so the first
  // comparison does not make Vite re-optimize and reload the page.
  optimizeDeps: { exclude: ['attnkit', 'onnxruntime-web'], include: ['onnx-proto'] },
  worker: { format: 'es', plugins: () => [nodeOnlyModules] },
  // bundlerTimings: no "[PLUGIN_TIMINGS]" hint when the machine is busy (it reads as a warning on `npm start`).
  build: {
    outDir: path.join(here, 'dist'),
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 1500,
    rolldownOptions: { checks: { bundlerTimings: false } },
  },
  server: { headers: isolation, fs: { allow: [repo] } },
  preview: { headers: isolation },
  logLevel: process.env.VITE_LOG_LEVEL || 'info',
});
