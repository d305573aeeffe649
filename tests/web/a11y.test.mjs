// Accessibility of the page in Chromium: axe-core finds no violation in any section or state (light and dark,
// desktop and 390 px, errors, tables, export menus, long inputs), numbers inside heatmap cells and the focus
// ring have enough contrast, and the keyboard works (head selector, sticky header, Run buttons, heatmaps).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { buildPage, serve, launch, openPage, recompute, axeViolations, screenshot } from './harness.mjs';

let server, browser, page;
const counts = []; // [state, violations] for the report

before(async () => {
  await buildPage();
  server = await serve();
  browser = await launch();
  page = await openPage(browser.context, server.url);
});
after(async () => {
  console.log(`axe violations per state:\n${counts.map(([s, n]) => `  ${s}: ${n}`).join('\n')}`);
  await browser?.close();
  await server?.close();
});

async function noViolations(state, selector) {
  const v = await axeViolations(page, selector);
  counts.push([state, v.reduce((a, x) => a + x.nodes.length, 0)]);
  assert.deepEqual(v, [], `${state}: ${JSON.stringify(v, null, 1)}`);
}

/** WCAG contrast of two CSS colours, in the page. */
const contrastIn = (p, fn, arg) =>
  p.evaluate(
    ([src, a]) => {
      const rgb = (c) =>
        c
          .match(/[\d.]+/g)
          .slice(0, 3)
          .map(Number);
      const lum = ([r, g, b]) =>
        [r, g, b]
          .map((c) => ((c /= 255) <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4))
          .reduce((s, c, k) => s + c * [0.2126, 0.7152, 0.0722][k], 0);
      const ratio = (x, y) => {
        const [p1, p2] = [lum(rgb(x)), lum(rgb(y))].sort((m, n) => n - m);
        return (p1 + 0.05) / (p2 + 0.05);
      };
      return new Function('ratio', 'a', src)(ratio, a);
    },
    [fn, arg],
  );

test('axe: the first view, every section, no violation', async () => {
  await noViolations('first view (desktop, light)');
});

test('axe: every table view and every export menu open', async () => {
  await page.$$eval('figure.matrix-view button.toggle', (bs) => bs.forEach((b) => b.click()));
  await page.$$eval('details.export', (ds) => ds.forEach((d) => (d.open = true)));
  await noViolations('all tables and export menus open');
  await page.$$eval('figure.matrix-view button.toggle[aria-pressed="true"]', (bs) => bs.forEach((b) => b.click()));
  await page.$$eval('details.export', (ds) => ds.forEach((d) => (d.open = false)));
});

test('axe: the playground in an error state (stale output), and a Paste JSON error', async () => {
  await recompute(page, () => page.fill('#pg-dout', '5'));
  assert.equal(await page.$eval('#pg-output', (el) => el.dataset.state), 'error');
  await noViolations('playground error (d_out 5)');
  await recompute(page, () => page.fill('#pg-dout', '4'));
  await recompute(page, () => page.click('label[for="pg-mode-json"]'));
  await recompute(page, () => page.fill('#pg-x', '[[1, 2], [3]]'));
  assert.equal(await page.$eval('#pg-output', (el) => el.dataset.state), 'error');
  await noViolations('Paste JSON error');
  await recompute(page, () => page.click('label[for="pg-mode-sentence"]'));
});

test('axe: 40 tokens (cells) and 300 tokens (one image), a heatmap focused by keyboard', async () => {
  for (const n of [40, 300]) {
    const words = Array.from({ length: n }, (_, i) => `w${i % 17}`).join(' ');
    await recompute(page, () => page.fill('#pg-sentence', words));
    const st = await page.$eval('#pg-output', (el) => [
      el.dataset.tokens,
      el.dataset.state,
      document.getElementById('pg-error').textContent,
    ]);
    assert.deepEqual(st, [String(n), 'ready', '']);
    await page.focus('figure[data-name="pg-weights"] .chart');
    await page.keyboard.press('ArrowDown');
    await noViolations(`playground, ${n} tokens`);
  }
  await recompute(page, () => page.fill('#pg-sentence', 'Your journey starts with one step'));
});

test('numbers inside heatmap cells: at least 4.5:1 on their cell; the focus ring at least 3:1', async () => {
  const worst = await contrastIn(
    page,
    `let worst = Infinity, count = 0;
     for (const fig of document.querySelectorAll('figure.matrix-view svg')) {
       const rects = [...fig.querySelectorAll('rect.hm-cell')];
       const texts = [...fig.querySelectorAll('text')].filter((t) => t.closest('g[aria-hidden="true"]'));
       if (!texts.length) continue;
       texts.forEach((t, k) => {
         const r = rects[k];
         if (!r) return;
         count++;
         worst = Math.min(worst, ratio(getComputedStyle(t).fill, r.getAttribute('fill')));
       });
     }
     return { worst, count };`,
  );
  assert.ok(worst.count > 100, `only ${worst.count} in-cell numbers found`);
  assert.ok(worst.worst >= 4.5, `worst in-cell contrast ${worst.worst.toFixed(2)}:1`);
  for (const scheme of ['light', 'dark']) {
    await page.emulateMedia({ colorScheme: scheme });
    await page.focus('#pg-seed');
    await page.keyboard.press('Shift+Tab');
    await page.keyboard.press('Tab');
    const ring = await contrastIn(
      page,
      `const el = document.activeElement, s = getComputedStyle(el);
       let bg = 'rgb(255,255,255)';
       for (let e = el.parentElement; e; e = e.parentElement) {
         const c = getComputedStyle(e).backgroundColor;
         if (c && !c.startsWith('rgba(0, 0, 0, 0)') && c !== 'transparent') { bg = c; break; }
       }
       return ratio(s.outlineColor, bg);`,
    );
    assert.ok(ring >= 3, `${scheme}: focus ring ${ring.toFixed(2)}:1`);
  }
  await page.emulateMedia({ colorScheme: 'light' });
});

test('dark mode follows the system setting, with no violation', async () => {
  await page.emulateMedia({ colorScheme: 'dark' });
  const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  const light = await page.evaluate(() => getComputedStyle(document.documentElement).getPropertyValue('--bg').trim());
  assert.equal(light, '#0f1216', 'the dark palette is in use');
  assert.notEqual(bg, 'rgb(255, 255, 255)');
  await noViolations('first view (dark)');
  await page.locator('#playground').scrollIntoViewIfNeeded();
  await screenshot(page, '11-dark-playground');
  await page.emulateMedia({ colorScheme: 'light' });
});

test('keyboard: arrow keys on the head selector keep focus on the radio they move to', async () => {
  await recompute(page, () => page.fill('#pg-heads', '4'));
  await page.focus('#pg-heads-select-0');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'pg-heads-select-0');
  await page.keyboard.press('ArrowRight');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'pg-heads-select-1');
  assert.equal(await page.$eval('figure[data-name="pg-weights"]', (el) => el.dataset.head), '1');
  await page.keyboard.press('ArrowRight');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'pg-heads-select-2');
  assert.equal(await page.$eval('#pg-grid [aria-pressed="true"]', (b) => b.dataset.head), '2');
  await recompute(page, () => page.fill('#pg-heads', '2'));
});

test('keyboard: no focused control hides under the sticky header (Shift+Tab through the page)', async () => {
  await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
  await page.evaluate(() => document.querySelector('#perf-body button').focus());
  const hidden = [];
  for (let k = 0; k < 70; k++) {
    await page.keyboard.press('Shift+Tab');
    const r = await page.evaluate(() => {
      const el = document.activeElement;
      const header = document.querySelector('.site-header').getBoundingClientRect();
      if (!el || el === document.body || el.closest('.site-header')) return null;
      const b = el.getBoundingClientRect();
      return {
        what: `${el.tagName}#${el.id}.${el.className}`,
        top: b.top,
        end: b.bottom,
        height: b.height,
        bottom: header.bottom,
      };
    });
    // Covered: a control whose top is under the header, or a tall chart with less than 20 px below it.
    if (r && r.top < r.bottom - 1 && (r.height < 120 || r.end <= r.bottom + 20)) hidden.push(r.what);
  }
  assert.deepEqual(hidden, [], 'focused under the header');
});

test('keyboard: a heatmap reads out the exact value of the cell the arrow keys reach', async () => {
  const chart = 'figure[data-name="pg-weights"] .chart';
  await page.focus(chart);
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowRight');
  const out = await page.$eval('figure[data-name="pg-weights"] .readout', (o) => ({
    ...o.dataset,
    text: o.textContent,
  }));
  assert.equal(out.i, '2');
  assert.equal(out.j, '1');
  const values = await page.$eval('figure[data-name="pg-weights"]', (f) => JSON.parse(f.dataset.values));
  const cols = Number(await page.$eval('figure[data-name="pg-weights"]', (f) => f.dataset.cols));
  assert.equal(Number(out.value), values[2 * cols + 1]);
  assert.match(out.text, /starts \(row 3\) → journey \(column 2\): 0\.\d{6}/);
});

test('the Run buttons keep focus while they run', async () => {
  await page.uncheck('#perf-ort');
  await page.uncheck('#perf-ref');
  await page.focus('button[data-run="C1"]');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.querySelector('#perf-table tr[data-config="C1"]').dataset.medianMs, null, {
    timeout: 60000,
  });
  await page.waitForFunction(
    () => document.querySelector('button[data-run="C1"]').getAttribute('aria-disabled') === 'false',
  );
  assert.equal(await page.evaluate(() => document.activeElement.dataset.run), 'C1');
  await page.check('#perf-ort');
  await page.check('#perf-ref');
});

test('390 px: the perf table says it scrolls, is focusable, and nothing else scrolls sideways', async () => {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(400);
  await page.locator('#performance').scrollIntoViewIfNeeded();
  const cue = await page.$eval('.table-scroll-box', (b) => ({
    scrolls: b.classList.contains('scrolls'),
    cue: getComputedStyle(b.querySelector('.scroll-cue')).display,
    tab: b.querySelector('.table-scroll').tabIndex,
  }));
  assert.deepEqual(cue, { scrolls: true, cue: 'block', tab: 0 });
  await screenshot(page, '12-mobile-perf-table');
  await noViolations('390 px');
  await page.emulateMedia({ colorScheme: 'dark' });
  await noViolations('390 px, dark');
  await page.emulateMedia({ colorScheme: 'light' });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `page scrolls sideways by ${overflow}px`);
  await page.setViewportSize({ width: 1280, height: 900 });
});

test('no console errors, failed requests or page errors', () => {
  assert.deepEqual(page.errors, []);
});
