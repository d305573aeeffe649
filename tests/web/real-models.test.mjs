// "Attention for real models" in the playground, against the package run here in Node: cross-attention from a
// second sentence, a padded batch (padding drawn grey), grouped-query heads, token-by-token generation through
// the KV cache, and a state_dict loaded from a picked or dropped file.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { buildPage, serve, launch, openPage, recompute, screenshot, repo, golden, flat } from './harness.mjs';

let server, browser, page, ak;
// The book's inputs: at d_in = 3 the playground embeds the book's words with these printed vectors.
const BOOK_X = [
  [0.43, 0.15, 0.89],
  [0.55, 0.87, 0.66],
  [0.57, 0.85, 0.64],
  [0.22, 0.58, 0.33],
  [0.77, 0.25, 0.1],
  [0.05, 0.8, 0.55],
];
const values = (name) => page.$eval(`figure[data-name="${name}"]`, (f) => JSON.parse(f.dataset.values));
const st = () => page.$eval('#pg-output', (el) => [el.dataset.state, document.getElementById('pg-error').textContent]);

before(async () => {
  await buildPage();
  server = await serve();
  browser = await launch();
  page = await openPage(browser.context, server.url);
  const { load } = await import(path.join(repo, 'wasm/index.mjs'));
  ak = await load();
});
after(async () => {
  await browser?.close();
  await server?.close();
});

function packageWeights(options, x, shape, forwardOptions = {}) {
  const layer = ak.create('multihead', { dIn: 3, dOut: 4, numHeads: 2, seed: 123, ...options });
  try {
    return layer.forward(Float32Array.from(x.flat()), shape, { returnWeights: true, ...forwardOptions }).weights;
  } finally {
    layer.dispose();
  }
}
const near = (got, want, what) =>
  got.forEach((v, k) => assert.ok(Math.abs(v - want[k]) <= 1e-6, `${what}[${k}]: ${v} vs ${want[k]}`));

test('cross-attention: queries from the sentence, keys and values from a second one', async () => {
  await recompute(page, () => page.uncheck('#pg-causal'));
  await recompute(page, () => page.check('#pg-cross'));
  await recompute(page, () => page.fill('#pg-kv-sentence', 'journey starts with one step'));
  assert.deepEqual(await st(), ['ready', '']);
  assert.equal(await page.$eval('figure[data-name="pg-weights"]', (f) => f.dataset.cols), '5');
  const kv = BOOK_X.slice(1);
  const want = packageWeights({ causal: false }, BOOK_X, [1, 6, 3], {
    kv: Float32Array.from(kv.flat()),
    kvShape: [1, 5, 3],
  });
  near(await values('pg-weights'), want.subarray(0, 30), 'head 1 cross weights');
  const labels = await page.$$eval('figure[data-name="pg-weights"] svg text', (ts) => ts.map((t) => t.textContent));
  assert.ok(labels.includes('step') && labels.includes('Your'), `axis labels ${labels}`);
  assert.match(await page.textContent('#pg-summary'), /reference has no cross-attention/);
  await recompute(page, () => page.uncheck('#pg-cross'));
});

test('a padded batch: the second item is padded, its padding drawn grey and given no weight', async () => {
  await recompute(page, () => page.check('#pg-pad'));
  await recompute(page, () => page.fill('#pg-pad-sentence', 'Your journey starts'));
  assert.deepEqual(await st(), ['ready', '']);
  await page.click('label[for="pg-batch-select-1"]');
  const fig = 'figure[data-name="pg-weights"]';
  const cells = await page.$$eval(`${fig} rect.hm-cell`, (rs) =>
    rs.map((r) => ({ j: +r.dataset.j, i: +r.dataset.i, fill: r.getAttribute('fill'), v: +r.dataset.value })),
  );
  for (const c of cells) {
    if (c.i >= 3 || c.j >= 3) assert.equal(c.fill, 'rgb(217,220,225)', `[${c.i},${c.j}] is grey`);
    if (c.j >= 3) assert.equal(c.v, 0, `[${c.i},${c.j}] no weight on padding`);
  }
  const x = [...BOOK_X, ...BOOK_X.slice(0, 3), [0, 0, 0], [0, 0, 0], [0, 0, 0]];
  const mask = Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1]);
  const want = packageWeights({ causal: false }, x, [2, 6, 3], { keyPaddingMask: mask });
  near(await values('pg-weights'), want.subarray(2 * 36, 3 * 36), 'batch item 2, head 1');
  const ticks = await page.$$eval(`${fig} svg text`, (ts) => ts.map((t) => t.textContent));
  assert.ok(ticks.includes('[pad]'), 'padding is labelled');
  await page.locator(fig).scrollIntoViewIfNeeded();
  await screenshot(page, '14-padded-batch');
  await recompute(page, () => page.uncheck('#pg-pad'));
});

test('grouped-query heads: 4 query heads share 2 key/value heads, as the package computes', async () => {
  await recompute(page, () => page.fill('#pg-heads', '4'));
  await recompute(page, () => page.fill('#pg-kvheads', '2'));
  assert.deepEqual(await st(), ['ready', '']);
  const want = packageWeights({ causal: false, numHeads: 4, kvHeads: 2 }, BOOK_X, [1, 6, 3]);
  const grid = await page.$$eval('#pg-grid .head-cell', (bs) => bs.map((b) => JSON.parse(b.dataset.values)));
  assert.equal(grid.length, 4);
  grid.forEach((g, k) => near(g, want.subarray(k * 36, (k + 1) * 36), `GQA head ${k}`));
  await recompute(page, () => page.fill('#pg-kvheads', '3'));
  assert.equal((await st())[0], 'error', 'kvHeads must divide the heads');
  await recompute(page, () => page.fill('#pg-kvheads', '0'));
  await recompute(page, () => page.fill('#pg-heads', '2'));
});

test('token by token: the KV cache grows one token a step and each context matches the forward', async () => {
  await recompute(page, () => page.check('#pg-causal'));
  await page.click('#pg-gen summary');
  await page.click('#pg-gen-run');
  await page.waitForFunction(() => document.getElementById('pg-gen-status').dataset.maxdiff !== undefined, null, {
    timeout: 30000,
  });
  const d = Number(await page.$eval('#pg-gen-status', (s) => s.dataset.maxdiff));
  assert.ok(d <= 1e-6, `decoder vs forward: ${d}`);
  await page.fill('#pg-gen-step', '3');
  assert.match(await page.textContent('#pg-gen-cache'), /^Step 3 of 6: the cache holds 3 keys and 3 values per head/);
  assert.equal(await page.$eval('#pg-gen-cache', (c) => c.dataset.length), '3');
  const w = await values('pg-weights');
  assert.deepEqual(await values('pg-gen-row'), w.slice(2 * 6, 2 * 6 + 3));
  await page.locator('#pg-gen').scrollIntoViewIfNeeded();
  await screenshot(page, '15-kv-cache');
});

test('a state_dict from a picked file or a dropped one', async () => {
  const g = await golden('book_05_self_attention_v2_seed789.json');
  const sd = JSON.stringify(g.parameters_debian_torch_1_13_1.values);
  await recompute(page, () => page.click('label[for="pg-mode-json"]'));
  await page.fill('#pg-x', JSON.stringify({ tokens: g.inputs.tokens, x: g.inputs.inputs_6x3 }));
  await recompute(page, () => page.selectOption('#pg-mechanism', 'self'));
  await page.fill('#pg-dout', '2');
  await recompute(page, () =>
    page.setInputFiles('#pg-sd-file', { name: 'sd.json', mimeType: 'application/json', buffer: Buffer.from(sd) }),
  );
  const t = g.steps[0].tensors[0];
  const ctx = await values('pg-context');
  flat(t.expected).forEach((v, k) => assert.ok(Math.abs(ctx[k] - v) <= t.abs_tol + 1e-6, `context[${k}]`));
  await page.fill('#pg-sd', '');
  await recompute(page, () =>
    page.evaluate((text) => {
      const dt = new DataTransfer();
      dt.items.add(new File([text], 'dropped.json', { type: 'application/json' }));
      document
        .getElementById('pg-sd')
        .dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, sd),
  );
  assert.equal(await page.inputValue('#pg-sd'), sd);
  assert.deepEqual(await values('pg-context'), ctx);
  await page.fill('#pg-sd', '');
  await recompute(page, () => page.click('label[for="pg-mode-sentence"]'));
  await recompute(page, () => page.selectOption('#pg-mechanism', 'multihead'));
});

test('no console errors, failed requests or page errors', () => {
  assert.deepEqual(page.errors, []);
});
