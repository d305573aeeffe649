// Shared set-up for the browser suite: build the page, serve web/dist from an in-process static server
// (COOP/COEP set, so the pthreads build runs), and drive Debian's Chromium with playwright-core.
import { createServer } from 'node:http';
import { readFile, mkdtemp, rm, mkdir } from 'node:fs/promises';
import { existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export let dist = path.join(repo, 'web/dist'); // where buildPage() put this process's build
export const artifacts = path.join(repo, 'test-artifacts');

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/**
 * vite build (programmatic; the same config as `npm run build`) into a directory of this test file's own:
 * node --test runs the files in parallel, and two builds into one web/dist would race.
 * ATTNKIT_WEB_SKIP_BUILD=1 serves an existing web/dist instead.
 */
export async function buildPage() {
  if (process.env.ATTNKIT_WEB_SKIP_BUILD === '1' && existsSync(path.join(dist, 'index.html'))) return dist;
  const { build } = await import('vite');
  const outDir = await mkdtemp(path.join(tmpdir(), 'attnkit-page-'));
  await build({
    configFile: path.join(repo, 'web/vite.config.mjs'),
    logLevel: 'error',
    build: { outDir, emptyOutDir: true },
  });
  process.on('exit', () => rmSync(outDir, { recursive: true, force: true }));
  dist = outDir;
  return dist;
}

/** A static file server for web/dist on a free localhost port. */
export async function serve(root = dist, { isolate = true } = {}) {
  root = path.resolve(root);
  const server = createServer(async (req, res) => {
    try {
      let p = decodeURIComponent(new URL(req.url, 'http://x').pathname);
      if (p.endsWith('/')) p += 'index.html';
      const file = path.join(root, path.normalize(p));
      if (!file.startsWith(root)) throw Object.assign(new Error('outside'), { code: 'ENOENT' });
      const body = await readFile(file);
      const headers = {
        'Content-Type': TYPES[path.extname(file)] || 'application/octet-stream',
        'Cache-Control': 'no-store',
      };
      if (isolate) {
        headers['Cross-Origin-Opener-Policy'] = 'same-origin';
        headers['Cross-Origin-Embedder-Policy'] = 'require-corp';
      }
      res.writeHead(200, headers);
      res.end(body);
    } catch {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('not found');
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections?.();
        server.close(resolve);
      }),
  };
}

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

export async function launch() {
  const profile = await mkdtemp(path.join(tmpdir(), 'attnkit-web-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 900 },
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
  return {
    context,
    close: async () => {
      await context.close().catch(() => {});
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/** Collects console errors, page errors and failed requests of a page. */
export function watchErrors(page) {
  const errors = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('requestfailed', (r) => errors.push(`requestfailed: ${r.url()} ${r.failure()?.errorText}`));
  page.on('response', (r) => {
    if (r.status() >= 400) errors.push(`http ${r.status()}: ${r.url()}`);
  });
  return errors;
}

export async function screenshot(page, name, opts = {}) {
  await mkdir(artifacts, { recursive: true });
  const file = path.join(artifacts, `${name}.png`);
  await page.screenshot({ path: file, ...opts });
  return file;
}

// The book's files (book_*, hacktricks_*) live in data/book; the generated fixtures in tests/golden.
export async function golden(name) {
  const dir = name.startsWith('book_') || name.startsWith('hacktricks_') ? 'data/book' : 'tests/golden';
  return JSON.parse(await readFile(path.join(repo, dir, name), 'utf8'));
}

export const flat = (a) => (Array.isArray(a) ? a.flat(Infinity) : [a]).map((v) => (v === '-inf' ? -Infinity : v));
