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

// The file drop's bad-input table: each row is a dropped (or picked) file and the message shown in the output and
// under the field (strings.js); the page stays usable (the next good file computes) and nothing reaches the console.
test('a bad state_dict file gets a clear message and the page stays usable', async () => {
  const g = await golden('book_05_self_attention_v2_seed789.json');
  const good = JSON.stringify(g.parameters_debian_torch_1_13_1.values);
  await recompute(page, () => page.click('label[for="pg-mode-json"]'));
  await page.fill('#pg-x', JSON.stringify({ tokens: g.inputs.tokens, x: g.inputs.inputs_6x3 }));
  await recompute(page, () => page.selectOption('#pg-mechanism', 'self'));
  await recompute(page, () => page.fill('#pg-dout', '2'));
  // [row, how the file is made in the page: [name, body as a string or { zeros: bytes } or { bytes: [...] }], message]
  const MB = 2 ** 20;
  const rows = [
    [
      'malformed JSON',
      ['broken.json', '{"W_query.weight": [[1, 2]'],
      /^state_dict is not valid JSON at line 1, column 27: /,
    ],
    [
      'a binary file',
      ['weights.bin', { bytes: [0x80, 0x02, 0x7d, 0x71, 0x00, 0x28] }],
      'The file “weights.bin” is not text (it holds a zero byte at byte 4); expected a JSON state_dict, e.g. one saved with json.dump({k: v.tolist() for k, v in model.state_dict().items()}, f)',
    ],
    [
      'a file that is not UTF-8',
      ['latin1.json', { bytes: [0x7b, 0x22, 0xe9, 0x22, 0x3a, 0x31, 0x7d] }],
      'The file “latin1.json” is not UTF-8 text; expected a JSON state_dict',
    ],
    [
      'an empty file',
      ['empty.json', ''],
      'The file “empty.json” is empty; expected a JSON state_dict such as {"W_query.weight": [[…]], …}',
    ],
    [
      'a file of white space',
      ['blank.json', ' \n\t '],
      'The file “blank.json” is empty; expected a JSON state_dict such as {"W_query.weight": [[…]], …}',
    ],
    [
      'a huge file (refused from its size, not read)',
      ['huge.json', { zeros: 65 * MB }],
      'The file “huge.json” is 65.0 MB; the playground reads state_dict files of up to 64.0 MB. Pick a smaller one (one layer’s weights), or use the package or the attnkit CLI.',
    ],
    [
      'wrong shapes',
      ['shapes.json', JSON.stringify({ ...g.parameters_debian_torch_1_13_1.values, 'W_query.weight': [[1, 2]] })],
      /^The module says: state_dict key W_query\.weight has shape \[1, 2\], expected \[2, 3\]/,
    ],
    [
      'a NaN word',
      ['nan.json', '{"W_query.weight": [[1, NaN, 0], [0, 1, 0]]}'],
      'state_dict "W_query.weight"[0][1] is NaN, which JSON cannot hold; write a finite number (e.g. 0 or 1e-3) instead',
    ],
    [
      "another mechanism's state_dict (multihead's out_proj on self)",
      [
        'multihead.json',
        JSON.stringify({
          ...g.parameters_debian_torch_1_13_1.values,
          'out_proj.weight': [
            [1, 0],
            [0, 1],
          ],
        }),
      ],
      /^The module says: state_dict has unknown key out_proj\.weight; expected keys W_query\.weight/,
    ],
  ];
  const drop = (file) =>
    page.evaluate(([name, body]) => {
      const content =
        typeof body === 'string' ? body : body.zeros ? new Uint8Array(body.zeros) : new Uint8Array(body.bytes);
      const dt = new DataTransfer();
      dt.items.add(new File([content], name, { type: 'application/json' }));
      document
        .getElementById('pg-sd')
        .dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, file);
  for (const [row, file, message] of rows) {
    await recompute(page, () => drop(file));
    const [state, text] = await st();
    assert.equal(state, 'error', row);
    if (message instanceof RegExp) assert.match(text, message, row);
    else assert.equal(text, message, row);
    assert.equal(
      await page.$eval('#pg-sd', (el) => el.getAttribute('aria-invalid')),
      'true',
      `${row}: under the field`,
    );
    // still usable: a good file computes the book's context again
    await recompute(page, () => drop(['good.json', good]));
    assert.equal((await st())[0], 'ready', `${row}: a good file after it`);
  }
  // a picked file that is refused can be picked again; typing in the field replaces a refused file's message
  await recompute(page, () =>
    page.setInputFiles('#pg-sd-file', { name: 'empty.json', mimeType: 'application/json', buffer: Buffer.from('') }),
  );
  assert.match((await st())[1], /^The file “empty\.json” is empty/);
  assert.equal(await page.inputValue('#pg-sd-file'), '');
  await recompute(page, () => page.fill('#pg-sd', good));
  assert.equal((await st())[0], 'ready');
  await page.fill('#pg-sd', '');
  await recompute(page, () => page.click('label[for="pg-mode-sentence"]'));
  await recompute(page, () => page.selectOption('#pg-mechanism', 'multihead'));
});

test('no console errors, failed requests or page errors', () => {
  assert.deepEqual(page.errors, []);
});
