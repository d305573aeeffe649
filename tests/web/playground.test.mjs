// The playground in Chromium: Paste JSON errors that name the row, next to the field; field ranges; the
// summary; every head at 64/256/1024 tokens (redraw times printed); the grid of heads against the package
// (run here in Node); exports (an SVG that parses, a PNG that decodes, CSV and JSON); copy state_dict;
// a permalink that round-trips.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { buildPage, serve, launch, openPage, recompute, screenshot, repo } from './harness.mjs';

let server, browser, page, ak;
const state = () => page.$eval('#pg-output', (el) => ({ ...el.dataset }));
const errorOf = () =>
  page.evaluate(() => {
    const el = document.querySelector('[aria-invalid="true"]');
    const note = el && document.getElementById(el.getAttribute('aria-errormessage'));
    return {
      control: el?.id ?? null,
      text: document.getElementById('pg-error').textContent,
      beside: note ? note.closest('.field') === el.closest('.field') && note.textContent : null,
    };
  });

before(async () => {
  await buildPage();
  server = await serve();
  browser = await launch();
  await browser.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
  page = await openPage(browser.context, server.url);
  ({ load: ak } = await import(path.join(repo, 'wasm/index.mjs')));
  ak = await ak();
});
after(async () => {
  await browser?.close();
  await server?.close();
});

const BOOK_X = [
  [0.43, 0.15, 0.89],
  [0.55, 0.87, 0.66],
  [0.57, 0.85, 0.64],
  [0.22, 0.58, 0.33],
  [0.77, 0.25, 0.1],
  [0.05, 0.8, 0.55],
];

test('Paste JSON: each error names the row or the number, and sits next to its field', async () => {
  await recompute(page, () => page.click('label[for="pg-mode-json"]'));
  const cases = [
    ['[[1, 2, 3], [4, 5, 6], [7, 8]]', /^x row 3 has 2 numbers; every token vector needs 3/],
    ['[[1, 2, 3], [NaN, 5, 6]]', /^x row 2, number 1 is NaN, which JSON cannot hold/],
    ['[[1, 2, 3], [4, null, 6]]', /^x row 2, number 2 is null; expected a number/],
    ['{"tokens": ["a", "b"], "x": [[1, 2], [3, 4], [5, 6]]}', /^tokens lists 2 names but x has 3 rows/],
    ['[[1, 2, 3],\n [4, 5, 6]', /^x is not valid JSON at line 2, column \d+/],
    ['[[1, 2, 3], [4, 5, 6],,]', /^x is not valid JSON: /],
    ['[[[1, 2], [3, 4]], [[5, 6]]]', /^x batch item 2 has 1 rows; every batch item needs 2/],
  ];
  for (const [text, expected] of cases) {
    await recompute(page, () => page.fill('#pg-x', text));
    const e = await errorOf();
    assert.equal((await state()).state, 'error', text);
    assert.match(e.text, expected, text);
    assert.equal(e.control, 'pg-x', text);
    assert.equal(e.beside, e.text, `${text}: the message is shown under the field`);
  }
  await recompute(page, () => page.fill('#pg-x', JSON.stringify({ x: BOOK_X })));
  await recompute(page, () => page.fill('#pg-sd', '{"W_query.weight": [[1, NaN]]}'));
  assert.match((await errorOf()).text, /^state_dict "W_query.weight"\[0\]\[1\] is NaN/);
  assert.equal((await errorOf()).control, 'pg-sd');
  await recompute(page, () => page.fill('#pg-sd', ''));
  assert.equal((await state()).state, 'ready');
});

test('Paste JSON: 1e30 inputs agree with the reference (relative tolerance)', async () => {
  await recompute(page, () => page.selectOption('#pg-mechanism', 'self-v1'));
  await recompute(page, () => page.fill('#pg-dout', '2'));
  const tiny = [
    [1e-30, 2e-30],
    [3e-30, 1e-30],
    [2e-30, 2e-30],
  ];
  const sd = {
    W_query: tiny,
    W_key: tiny,
    W_value: [
      [1, 0],
      [0, 1],
      [1, 1],
    ],
  };
  await recompute(page, () => page.fill('#pg-sd', JSON.stringify(sd)));
  await recompute(page, () => page.fill('#pg-x', JSON.stringify({ x: BOOK_X.map((r) => r.map((v) => v * 1e30)) })));
  assert.equal((await state()).state, 'ready', (await errorOf()).text);
  const badge = await page.$eval('#pg-summary [data-crosscheck]', (b) => ({ ...b.dataset, cls: b.className }));
  assert.ok(Number(badge.crosscheck) > 1e10, `an absolute difference as large as ${badge.crosscheck}`);
  assert.ok(Number(badge.crosscheckRel) < 1e-5, `relative ${badge.crosscheckRel}`);
  assert.match(badge.cls, /\bok\b/);
  await page.fill('#pg-sd', '');
  await recompute(page, () => page.click('label[for="pg-mode-sentence"]'));
  await recompute(page, () => page.selectOption('#pg-mechanism', 'multihead'));
  await recompute(page, () => page.fill('#pg-dout', '4'));
});

test('fields enforce their min and max, with the message by the field', async () => {
  for (const [sel, value, expected] of [
    ['#pg-heads', '100', /^Heads must be a whole number from 1 to 64; got 100/],
    ['#pg-dropout', '1.5', /^Dropout p must be a number from 0 to 0\.99; got 1\.5/],
    ['#pg-seed', '-1', /^Seed must be a whole number from 0 to 2147483647; got -1/],
    ['#pg-din', '0', /^Embedding size d_in must be a whole number from 1 to 256; got 0/],
    ['#pg-heads', '2.5', /^Heads must be a whole number/],
  ]) {
    const old = await page.inputValue(sel);
    await recompute(page, () => page.fill(sel, value));
    const e = await errorOf();
    assert.match(e.text, expected);
    assert.equal(`#${e.control}`, sel);
    assert.equal(e.beside, e.text);
    await recompute(page, () => page.fill(sel, old));
    assert.equal((await state()).state, 'ready');
  }
});

test('the summary never prints null: skipped cross-checks say why', async () => {
  await recompute(page, () => page.fill('#pg-dropout', '0.5'));
  await recompute(page, () => page.check('#pg-train'));
  const text = await page.textContent('#pg-summary');
  assert.doesNotMatch(text, /null|undefined|NaN/);
  assert.match(text, /cross-check: off while dropout is active/);
  await recompute(page, () => page.uncheck('#pg-train'));
  await recompute(page, () => page.fill('#pg-dropout', '0'));
  assert.match(await page.textContent('#pg-summary'), /agrees: max \|Δ\| /);
});

test('the grid of every head matches the package; clicking a head opens it', async () => {
  await recompute(page, () => page.fill('#pg-heads', '4'));
  assert.equal(await page.$eval('#pg-grid', (g) => g.dataset.heads), '4');
  const layer = ak.create('multihead', { dIn: 3, dOut: 4, numHeads: 4, seed: 123, contextLength: 6, causal: true });
  const want = layer.forward(Float32Array.from(BOOK_X.flat()), [1, 6, 3], { returnWeights: true }).weights;
  layer.dispose();
  const cells = await page.$$eval('#pg-grid .head-cell', (bs) => bs.map((b) => JSON.parse(b.dataset.values)));
  assert.equal(cells.length, 4);
  cells.forEach((got, k) =>
    got.forEach((v, i) =>
      assert.ok(Math.abs(v - want[k * 36 + i]) <= 1e-6, `head ${k} [${i}]: ${v} vs ${want[k * 36 + i]}`),
    ),
  );
  await page.click('#pg-grid .head-cell[data-head="2"]');
  assert.equal(await page.$eval('figure[data-name="pg-weights"]', (f) => f.dataset.head), '2');
  assert.deepEqual(await page.$eval('figure[data-name="pg-weights"]', (f) => JSON.parse(f.dataset.values)), cells[2]);
  assert.equal(await page.isChecked('#pg-heads-select-2'), true);
});

const download = async (figure, kind) => {
  await page.click(`${figure} details.export summary`);
  const [d] = await Promise.all([page.waitForEvent('download'), page.click(`${figure} button[data-export="${kind}"]`)]);
  await page.click(`${figure} details.export summary`);
  return { name: d.suggestedFilename(), bytes: await readFile(await d.path()) };
};

test('export: the SVG parses, the PNG decodes, CSV and JSON hold the drawn numbers', async () => {
  const fig = 'figure[data-name="pg-weights"]';
  const values = await page.$eval(fig, (f) => JSON.parse(f.dataset.values));
  const svg = await download(fig, 'svg');
  assert.equal(svg.name, 'pg-weights.svg');
  const parsed = await page.evaluate((text) => {
    const doc = new DOMParser().parseFromString(text, 'image/svg+xml');
    return {
      error: !!doc.querySelector('parsererror'),
      root: doc.documentElement.nodeName,
      rects: doc.querySelectorAll('rect.hm-cell').length,
    };
  }, svg.bytes.toString('utf8'));
  assert.deepEqual(parsed, { error: false, root: 'svg', rects: 36 });
  const png = await download(fig, 'png');
  assert.deepEqual([...png.bytes.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10], 'PNG signature');
  const size = await page.evaluate(async (b64) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const bmp = await createImageBitmap(new Blob([bytes], { type: 'image/png' }));
    return [bmp.width, bmp.height];
  }, png.bytes.toString('base64'));
  assert.ok(size[0] > 100 && size[1] > 100, `decoded ${size}`);
  const csv = (await download(fig, 'csv')).bytes.toString('utf8').trim().split('\n');
  assert.equal(csv.length, 7);
  assert.deepEqual(csv[0].split(','), ['', 'Your', 'journey', 'starts', 'with', 'one', 'step']);
  assert.deepEqual(
    csv.slice(1).flatMap((l) => l.split(',').slice(1).map(Number)),
    values,
  );
  const json = JSON.parse((await download(fig, 'json')).bytes.toString('utf8'));
  assert.deepEqual(json.shape, [6, 6]);
  assert.deepEqual(json.values.flat(), values);
});

test('copy state_dict: a template for Paste JSON that gives the same context', async () => {
  const context = await page.$eval('figure[data-name="pg-context"]', (f) => f.dataset.values);
  await page.click('#pg-copy-sd');
  await page.waitForFunction(() =>
    /Copied the state_dict/.test(document.querySelector('.take-away [role="status"]').textContent),
  );
  const sd = JSON.parse(await page.evaluate(() => navigator.clipboard.readText()));
  assert.deepEqual(Object.keys(sd).sort(), [
    'W_key.weight',
    'W_query.weight',
    'W_value.weight',
    'out_proj.bias',
    'out_proj.weight',
  ]);
  await recompute(page, () => page.click('label[for="pg-mode-json"]'));
  await page.fill('#pg-x', JSON.stringify({ tokens: ['Your', 'journey', 'starts', 'with', 'one', 'step'], x: BOOK_X }));
  await recompute(page, () => page.fill('#pg-sd', JSON.stringify(sd)));
  await recompute(page, () => page.fill('#pg-seed', '999')); // the pasted weights, not the seed, decide
  assert.equal(await page.$eval('figure[data-name="pg-context"]', (f) => f.dataset.values), context);
  await page.fill('#pg-sd', '');
  await recompute(page, () => page.fill('#pg-seed', '123'));
  await recompute(page, () => page.click('label[for="pg-mode-sentence"]'));
});

test('a permalink restores the inputs and settings', async () => {
  await recompute(page, () => page.fill('#pg-sentence', 'the cat sat on the mat because the cat was tired'));
  await recompute(page, () => page.fill('#pg-seed', '7'));
  await page.selectOption('#pg-colour', 'log'); // redraws, no recompute
  await page.click('#pg-grid .head-cell[data-head="3"]');
  const href = await page.$eval('#pg-permalink', (a) => a.getAttribute('href'));
  assert.match(href, /^#pg\?/);
  const want = await page.$eval('figure[data-name="pg-weights"]', (f) => ({ ...f.dataset }));
  const p2 = await openPage(browser.context, server.url + href);
  try {
    for (const [sel, v] of [
      ['#pg-sentence', 'the cat sat on the mat because the cat was tired'],
      ['#pg-seed', '7'],
      ['#pg-colour', 'log'],
      ['#pg-heads', '4'],
    ])
      assert.equal(await p2.inputValue(sel), v, sel);
    const got = await p2.$eval('figure[data-name="pg-weights"]', (f) => ({ ...f.dataset }));
    assert.equal(got.head, '3');
    assert.equal(got.scale, 'log');
    assert.equal(got.values, want.values);
    assert.deepEqual(p2.errors, []);
  } finally {
    await p2.close();
  }
});

test('every head at 64, 256 and 1024 tokens × 12 heads: token labels, exact values, redraw times', async () => {
  await recompute(page, () => page.fill('#pg-din', '64'));
  await recompute(page, () => page.fill('#pg-dout', '96'));
  await recompute(page, () => page.fill('#pg-heads', '12'));
  const report = [];
  for (const n of [64, 256, 1024]) {
    const words = Array.from({ length: n }, (_, i) => `w${(i * 7) % 97}`).join(' ');
    await recompute(page, () => page.fill('#pg-sentence', words));
    const changes = [];
    for (let k = 0; k < 3; k++) {
      await recompute(page, () => page.fill('#pg-seed', String(300 + n + k)));
      const s = await state();
      changes.push({ total: +s.totalMs, render: +s.renderMs, worker: +s.workerMs, forward: +s.forwardMs });
    }
    const picks = [];
    for (let k = 0; k < 5; k++) {
      await page.click(`#pg-grid .head-cell[data-head="${(k + 1) % 12}"]`);
      picks.push(+(await state()).pickMs);
    }
    const med = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
    report.push({
      n,
      'change→drawn ms': med(changes.map((c) => c.total)),
      'of it: worker ms': med(changes.map((c) => c.worker)),
      'forward ms': med(changes.map((c) => c.forward)),
      'drawing ms': med(changes.map((c) => c.render)),
      'head pick ms': med(picks),
      'page JS heap MB': await page.evaluate(() => Math.round(performance.memory.usedJSHeapSize / 2 ** 20)),
    });
    assert.equal((await state()).tokens, String(n));
    assert.equal(await page.$eval('#pg-grid', (g) => g.dataset.heads), '12');
    // token labels on the image's axes, and the exact value of a cell by keyboard
    const fig = 'figure[data-name="pg-weights"]';
    const labels = await page.$$eval(`${fig} svg text`, (ts) => ts.map((t) => t.textContent));
    const ticks = labels.filter((t) => /^w\d+$/.test(t));
    assert.ok(ticks.length >= 16 && ticks.includes('w0'), `token labels: ${labels.slice(0, 8)}`);
    if (n === 1024) {
      assert.ok(await page.$(`${fig} canvas.hm-image`), 'drawn as one image');
      await page.focus(`${fig} .chart`);
      for (const key of ['End', 'PageDown', 'ArrowUp']) await page.keyboard.press(key);
      const out = await page.$eval(`${fig} .readout`, (o) => ({ ...o.dataset }));
      const json = JSON.parse((await download(fig, 'json')).bytes.toString('utf8'));
      assert.equal(Number(out.value), json.values[+out.i][+out.j]);
      assert.deepEqual([+out.i, +out.j], [101, 1023]);
      await page.locator('#pg-grid').scrollIntoViewIfNeeded();
      await screenshot(page, '13-playground-1024-tokens');
    }
  }
  console.log('redraw at 12 heads, d_in 64, d_out 96 (medians):');
  console.table(report);
  await recompute(page, () => page.fill('#pg-sentence', 'x '.repeat(1025)));
  assert.match(
    (await errorOf()).text,
    /^This input has 1025 tokens; the playground draws every head of up to 1024 tokens/,
  );
  await recompute(page, () => page.fill('#pg-sentence', 'Your journey starts with one step'));
});

test('no console errors, failed requests or page errors', () => {
  assert.deepEqual(page.errors, []);
});
