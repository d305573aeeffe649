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

/** A new tab on url, once the page and the playground are ready; errors collected in page.errors. */
export async function openPage(context, url) {
  const page = await context.newPage();
  page.errors = watchErrors(page);
  await page.goto(url);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 60000 });
  await page.waitForSelector('#pg-output[data-state="ready"], #pg-output[data-state="error"]', { timeout: 60000 });
  return page;
}

/** Run action, then wait until the playground has finished the run(s) it started (debounce included). */
export async function recompute(page, action, timeout = 60000) {
  const before = Number(await page.$eval('#pg-output', (el) => el.dataset.run));
  await action();
  await page.waitForFunction(
    (b) => {
      const el = document.getElementById('pg-output');
      return Number(el.dataset.run) > b && el.dataset.state !== 'busy' && !el.dataset.pending;
    },
    before,
    { timeout },
  );
  await page.waitForTimeout(200); // a debounced or coalesced follow-up run
  await page.waitForFunction(
    () =>
      !document.getElementById('pg-output').dataset.pending &&
      document.getElementById('pg-output').dataset.state !== 'busy',
    null,
    { timeout },
  );
}

const AXE = path.join(repo, 'node_modules/axe-core/axe.min.js');
/** axe-core's violations on the page (or inside `selector`), as [{id, nodes: [target + summary]}]. */
export async function axeViolations(page, selector) {
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.addScriptTag({ path: AXE });
  return page.evaluate(async (sel) => {
    const res = await window.axe.run(sel ? document.querySelector(sel) : document, { resultTypes: ['violations'] });
    return res.violations.map((v) => ({
      id: v.id,
      nodes: v.nodes.map((n) => `${n.target.join(' ')} — ${(n.failureSummary || '').split('\n')[1] || ''}`.trim()),
    }));
  }, selector ?? null);
}
