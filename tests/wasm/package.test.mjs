// The packed tarball works in another project: `npm pack` (prepack builds dist/), install it into a temporary
// consumer, run the book's multi-head example in Node, and build a tiny Vite app that imports it.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  mkdtempSync,
  mkdirSync,
  writeFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  readFileSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { ROOT, BOOK_DIR, DIST, assertClose, golden, bookTensor } from './helpers.mjs';

const work = mkdtempSync(join(tmpdir(), 'attnkit-pack-'));
after(() => rmSync(work, { recursive: true, force: true }));
const npm = (args, cwd) =>
  execFileSync('npm', args, {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' },
  });

let tarball;
const consumer = join(work, 'consumer');

test('npm pack (prepack builds the wasm) produces a tarball with the module, glue, entry and types', () => {
  // prepack's build log shares stdout with the JSON report: take the report from its start
  const stdout = npm(['pack', '--json', '--pack-destination', work], ROOT);
  const out = JSON.parse(stdout.slice(stdout.lastIndexOf('[\n  {')));
  const files = out[0].files.map((f) => f.path).sort();
  tarball = join(work, out[0].filename);
  const modules = readdirSync(join(ROOT, 'wasm', 'src'))
    .filter((f) => f.endsWith('.mjs'))
    .map((f) => `wasm/src/${f}`);
  assert.ok(modules.length > 0);
  for (const f of [
    'package.json',
    'wasm/index.mjs',
    ...modules,
    'wasm/attnkit.d.ts',
    'wasm/README.md',
    'dist/attnkit.mjs',
    'dist/attnkit.wasm',
    'dist/attnkit-mt.mjs',
    'dist/attnkit-mt.wasm',
    'dist/attnkit-mt.worker.js',
  ]) {
    assert.ok(files.includes(f), `tarball lacks ${f} (has ${files.join(', ')})`);
  }
  assert.ok(
    !files.some((f) => f.startsWith('core/') || f.startsWith('tests/') || f.startsWith('build')),
    'no sources or build trees in the tarball',
  );
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  assert.equal(pkg.type, undefined, 'no "type": "module" (the pthreads worker is CommonJS)');
  assert.equal(pkg.exports['.'].types, './wasm/attnkit.d.ts');
});

test("installed into a consumer project, the book's multi-head example runs in Node", () => {
  mkdirSync(consumer, { recursive: true });
  writeFileSync(
    join(consumer, 'package.json'),
    JSON.stringify({ name: 'consumer', private: true, type: 'module' }, null, 2),
  );
  npm(['install', tarball, '--offline', '--no-audit', '--no-fund', '--ignore-scripts'], consumer);
  // the book's example: MultiHeadAttention(d_in=3, d_out=2, context_length=6, dropout=0.0, num_heads=2), seed 123
  writeFileSync(
    join(consumer, 'book.mjs'),
    `
import { readFileSync } from 'node:fs';
import { load } from 'attnkit';
const inputs = JSON.parse(readFileSync(${JSON.stringify(join(BOOK_DIR, 'book_01_simplified_attention_query2.json'))}, 'utf8')).inputs.inputs_6x3;
const batch = new Float32Array([...inputs.flat(), ...inputs.flat()]);
const ak = await load();
const mha = ak.create('multihead', { dIn: 3, dOut: 2, contextLength: 6, dropout: 0.0, numHeads: 2, seed: 123 });
const out = mha.forward(batch, [2, 6, 3]);
mha.dispose();
console.log(JSON.stringify({ context: Array.from(out.context), shape: out.contextShape, multithreaded: ak.multithreaded, simd: ak.simd }));
`,
  );
  const result = JSON.parse(
    execFileSync(process.execPath, ['book.mjs'], { cwd: consumer, encoding: 'utf8', timeout: 30000 }),
  );
  assert.deepEqual(result.shape, [2, 6, 2]);
  assert.equal(result.simd, 'wasm-simd128');
  const t = bookTensor(golden('book_11'), 'mha = MultiHeadAttention(d_in, d_out, context_length, 0.0, num_heads=2)');
  assertClose(result.context, t.expected, { atol: t.atol, what: 'book multi-head context' });
});

test('a tiny Vite app that imports the installed package builds (wasm and worker emitted as assets)', () => {
  // vite from this repository's node_modules (no network)
  mkdirSync(join(consumer, 'node_modules', '.bin'), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules', 'vite'), join(consumer, 'node_modules', 'vite'), 'dir');
  writeFileSync(
    join(consumer, 'index.html'),
    `<!doctype html>
<html><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>attnkit consumer</title></head>
<body><pre id="out">loading…</pre><script type="module" src="/main.js"></script></body></html>
`,
  );
  const example = `
const inputs = [[0.43, 0.15, 0.89], [0.55, 0.87, 0.66], [0.57, 0.85, 0.64], [0.22, 0.58, 0.33], [0.77, 0.25, 0.10], [0.05, 0.80, 0.55]];
const ak = await load();
const out = ak.run('multihead', { dIn: 3, dOut: 2, contextLength: 6, numHeads: 2, seed: 123 }, new Float32Array(inputs.flat()), [6, 3]);
const result = { simd: ak.simd, threads: ak.multithreaded, context: Array.from(out.context) };
`;
  writeFileSync(
    join(consumer, 'main.js'),
    `
import { load } from 'attnkit';
${example}
// the same in a module Web Worker (how a page should run heavy work)
const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
result.worker = await new Promise((resolve) => {
  worker.onmessage = (e) => resolve(e.data);
  worker.onerror = (e) => resolve({ error: String(e.message || e) });
});
document.getElementById('out').textContent = JSON.stringify(result);
`,
  );
  writeFileSync(
    join(consumer, 'worker.js'),
    `
import { load } from 'attnkit';
try {
${example}
  postMessage(result);
} catch (e) {
  postMessage({ error: String(e && e.stack || e) });
}
`,
  );
  writeFileSync(
    join(consumer, 'vite.config.js'),
    `
export default {
  optimizeDeps: { exclude: ['attnkit'] },
  build: { target: 'es2022' },
  worker: { format: 'es' },
  logLevel: 'warn',
};
`,
  );
  execFileSync(process.execPath, [join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build'], {
    cwd: consumer,
    encoding: 'utf8',
    timeout: 60000,
    stdio: 'pipe',
  });
  const assets = readdirSync(join(consumer, 'dist', 'assets'));
  assert.ok(
    assets.some((f) => /^attnkit-[\w-]+\.wasm$/.test(f)),
    `no attnkit .wasm asset in ${assets.join(', ')}`,
  );
  assert.ok(
    assets.some((f) => f.endsWith('.js')),
    'no JS bundle',
  );
  assert.ok(readdirSync(join(consumer, 'dist')).includes('index.html'));
});

test('in headless Chromium, page and module worker: Vite build (single-thread plain, pthreads when cross-origin isolated) and Vite dev server', async () => {
  const { preview, createServer } = await import(join(ROOT, 'node_modules', 'vite', 'dist', 'node', 'index.js'));
  const { chromium } = await import(join(ROOT, 'node_modules', 'playwright-core', 'index.mjs'));
  const isolated = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };
  const t = bookTensor(golden('book_11'), 'mha = MultiHeadAttention(d_in, d_out, context_length, 0.0, num_heads=2)');
  const context = await chromium.launchPersistentContext(mkdtempSync(join(work, 'chromium-')), {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  try {
    for (const [mode, headers, threads] of [
      ['build', {}, false],
      ['build', isolated, true],
      ['dev', isolated, true],
    ]) {
      const server =
        mode === 'build'
          ? await preview({
              root: consumer,
              logLevel: 'silent',
              preview: { port: 0, strictPort: false, headers, open: false },
            })
          : await createServer({
              root: consumer,
              logLevel: 'silent',
              server: { port: 0, strictPort: false, headers, open: false },
            });
      if (mode === 'dev') await server.listen();
      try {
        const url = server.resolvedUrls.local[0];
        const page = await context.newPage();
        const errors = [];
        page.on('pageerror', (e) => errors.push(String(e)));
        await page.goto(url);
        await page.waitForFunction(() => document.getElementById('out').textContent.startsWith('{'), null, {
          timeout: 20000,
        });
        const result = JSON.parse(await page.textContent('#out'));
        assert.deepEqual(errors, []);
        assert.equal(result.simd, 'wasm-simd128');
        assert.equal(result.threads, threads, `${mode}: multithreaded with headers ${JSON.stringify(headers)}`);
        // one batch of the book's example: the first six rows of its (2, 6, 2) output
        assertClose(result.context, t.expected[0], { atol: t.atol, what: 'browser context' });
        assert.equal(result.worker.error, undefined, `worker: ${result.worker.error}`);
        assert.equal(result.worker.threads, threads, 'multithreaded in the worker');
        assertClose(result.worker.context, t.expected[0], { atol: t.atol, what: 'worker context' });
        await page.close();
      } finally {
        server.httpServer.closeAllConnections?.(); // the browser keeps connections alive; close() would wait for them
        await (server.close ? server.close() : new Promise((resolve) => server.httpServer.close(resolve)));
      }
    }
  } finally {
    await context.close();
  }
});

test('size: what a browser downloads (single-thread .wasm + .mjs glue), gzipped, is at most 196 KB', (t) => {
  const gz = (f) => gzipSync(readFileSync(join(DIST, f)), { level: 9 }).length;
  const raw = (f) => statSync(join(DIST, f)).size;
  const st = gz('attnkit.wasm') + gz('attnkit.mjs');
  const mt = gz('attnkit-mt.wasm') + gz('attnkit-mt.mjs') + gz('attnkit-mt.worker.js');
  t.diagnostic(
    `single-thread: attnkit.wasm ${raw('attnkit.wasm')} B (${gz('attnkit.wasm')} gz) + attnkit.mjs ${raw('attnkit.mjs')} B (${gz('attnkit.mjs')} gz) = ${(st / 1024).toFixed(1)} KB gzipped`,
  );
  t.diagnostic(`pthreads: wasm + mjs + worker = ${(mt / 1024).toFixed(1)} KB gzipped`);
  assert.ok(st <= 196 * 1024, `${st} bytes gzipped`);
});
