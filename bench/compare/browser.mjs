// Runs the wasm peers in headless Chromium (playwright-core + Debian's /usr/bin/chromium): a tiny
// static server on localhost with COOP/COEP headers (so the page is cross-origin isolated and the
// 2-thread builds can run) serves a page from a temporary directory; one fresh page per (peer, threads).
import { createServer } from 'node:http';
import { mkdtempSync, writeFileSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, normalize, extname, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { config, makeStateDict } from './configs.mjs';
import { buildMultiHeadAttentionModel } from '../../web/src/onnx-graph.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const modules = join(root, 'node_modules');
const TYPES = {
  '.html': 'text/html',
  '.mjs': 'text/javascript',
  '.js': 'text/javascript',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
};

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>attnkit bench/compare</title>
<script type="importmap">{ "imports": { "attnkit": "/attnkit/wasm/index.mjs" } }</script>
<script>if (new URLSearchParams(location.search).get('peer') === 'tfjs-wasm') {
  document.write('<script src="/tfjs-core/tf-core.min.js"><\\/script><script src="/tfjs-wasm/tf-backend-wasm.min.js"><\\/script>');
}</script>
</head><body><pre id="log"></pre><script type="module" src="/compare/page.mjs"></script></body></html>`;

function startServer(pageDir, refDir) {
  const models = new Map();
  const mounts = [
    ['/compare/', here, (p) => /^(page|configs|timing|peers|c1-steps|threads-pairs)\.mjs$/.test(p)],
    // the modules bench/compare takes from the page (configs.mjs and peers.mjs import them)
    ['/web/src/', join(root, 'web', 'src'), (p) => /^(prng|ort-session)\.js$/.test(p)],
    ['/attnkit/', root, (p) => p.startsWith('wasm/') || p.startsWith('dist/')],
    ['/ort/', join(modules, 'onnxruntime-web', 'dist'), () => true],
    ['/tfjs-core/', join(modules, '@tensorflow', 'tfjs-core', 'dist'), () => true],
    ['/tfjs-wasm/', join(modules, '@tensorflow', 'tfjs-backend-wasm', 'dist'), () => true],
    ['/ref/', refDir, () => true],
    ['/', pageDir, () => true],
  ];
  const server = createServer((req, res) => {
    const headers = {
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Embedder-Policy': 'require-corp',
      'Cross-Origin-Resource-Policy': 'same-origin',
      'Cache-Control': 'no-store',
    };
    const url = new URL(req.url, 'http://localhost');
    let path = decodeURIComponent(url.pathname);
    if (path === '/') path = '/index.html';
    const model = /^\/model\/(C\d)\.onnx$/.exec(path);
    if (model) {
      if (!models.has(model[1])) {
        const c = config(model[1]);
        models.set(model[1], buildMultiHeadAttentionModel(c, makeStateDict(c)));
      }
      res.writeHead(200, { ...headers, 'Content-Type': 'application/octet-stream' });
      res.end(models.get(model[1]));
      return;
    }
    for (const [prefix, dir, allowed] of mounts) {
      if (!path.startsWith(prefix)) continue;
      const rel = normalize(path.slice(prefix.length));
      if (rel.startsWith('..') || !allowed(rel)) break;
      const file = join(dir, rel);
      if (!existsSync(file)) break;
      res.writeHead(200, { ...headers, 'Content-Type': TYPES[extname(file)] || 'application/octet-stream' });
      res.end(readFileSync(file));
      return;
    }
    res.writeHead(404, headers);
    res.end('not found');
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/**
 * Runs each peer at each thread count over the configs in Chromium. Returns the list of cell results
 * (the page's JSON), plus { peer, threads, error } entries for pages that failed as a whole.
 */
// rounds: attnkit-wasm, ort-web and plain-js pages alternate this many times per thread count (tfjs runs once);
// each result carries its `round`.
export async function runBrowser({
  peers,
  configs,
  threads,
  quick,
  refDir,
  rounds = 1,
  log = console.error,
  timeoutMs = 240000,
  query = '', // more of the page's URL parameters, '&name=value…'
}) {
  const { chromium } = await import('playwright-core');
  const pageDir = mkdtempSync(join(tmpdir(), 'attnkit-compare-page-'));
  const profile = mkdtempSync(join(tmpdir(), 'attnkit-compare-chromium-'));
  writeFileSync(join(pageDir, 'index.html'), PAGE);
  const server = await startServer(pageDir, refDir);
  const port = server.address().port;
  const context = await chromium.launchPersistentContext(profile, {
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
  const results = [];
  try {
    for (const t of threads) {
      for (let round = 0; round < rounds; round++)
        for (const peer of peers) {
          if (round > 0 && peer === 'tfjs-wasm') continue;
          // The plain JavaScript loop is the bar for C1 only, single-threaded.
          const cfgs = peer === 'plain-js' ? configs.filter((c) => c === 'C1') : configs;
          if (!cfgs.length || (peer === 'plain-js' && t !== 1)) continue;
          const page = await context.newPage();
          const errors = [];
          page.on('pageerror', (e) => errors.push(String(e.message || e)));
          if (process.env.ATTNKIT_COMPARE_DEBUG) {
            page.on('console', (m) => log({ console: m.text() }));
            page.on('request', (r) => log({ request: r.url() }));
          }
          const url = `http://127.0.0.1:${port}/?peer=${peer}&threads=${t}&configs=${cfgs.join(',')}&quick=${quick ? 1 : 0}${query}`;
          try {
            await page.goto(url);
            await page.waitForFunction(() => window.__done === true, null, { timeout: timeoutMs, polling: 250 });
            const cells = await page.evaluate(() => window.__results);
            for (const r of cells) {
              results.push({ ...r, round });
              log({ ...r, round });
            }
          } catch (e) {
            const partial = await page.evaluate(() => window.__results || []).catch(() => []);
            for (const r of partial) {
              results.push({ ...r, round });
              log({ ...r, round });
            }
            const r = {
              peer,
              env: 'chromium',
              threads: t,
              round,
              error: `${String(e.message || e).split('\n')[0]}${errors.length ? ' | ' + errors.join(' | ') : ''}`,
            };
            results.push(r);
            log(r);
          } finally {
            await page.close().catch(() => {});
          }
        }
    }
  } finally {
    await context.close().catch(() => {});
    server.close();
    rmSync(pageDir, { recursive: true, force: true });
    rmSync(profile, { recursive: true, force: true });
  }
  return results;
}
