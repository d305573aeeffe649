// The attnkit page in a real browser: Debian's Chromium driven by playwright-core against the built page
// (vite build → web/dist, served with COOP/COEP from this process). Screenshots go to test-artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { buildPage, serve, launch, watchErrors, screenshot, golden, flat, dist } from './harness.mjs';

let server, browser, page, errors;
const dialogs = [];
const requests = []; // every request of the browser context: pages and their workers (onnxruntime-web's files too)
let firstLoad = [];
const plainOrigins = [];

before(async () => {
  await buildPage();
  server = await serve();
  browser = await launch();
  browser.context.on('request', (r) => requests.push(r.url()));
  page = await browser.context.newPage();
  errors = watchErrors(page);
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    d.dismiss();
  });
  await page.goto(server.url);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 30000 });
  await page.waitForSelector('#pg-output[data-state="ready"]', { timeout: 30000 });
  firstLoad = [...requests];
});

after(async () => {
  await browser?.close();
  await server?.close();
});

const num = (s) => Number(String(s).replace(/−/g, '-'));
const values = (sel) =>
  page.$eval(sel, (el) => JSON.parse(el.dataset.values).map((v) => (v === '-inf' ? -Infinity : v)));
const cells = (name) =>
  page.$$eval(`figure[data-name="${name}"] rect.hm-cell`, (rs) =>
    rs.map((r) => ({ i: +r.dataset.i, j: +r.dataset.j, v: r.dataset.value === '-inf' ? -Infinity : +r.dataset.value })),
  );
/** Heatmap cells → row-major matrix (rows × cols) from the drawn rects' data. */
async function heatmap(name) {
  const cs = await cells(name);
  const rows = Math.max(...cs.map((c) => c.i)) + 1,
    cols = Math.max(...cs.map((c) => c.j)) + 1;
  const m = new Array(rows * cols).fill(NaN);
  for (const c of cs) m[c.i * cols + c.j] = c.v;
  return { rows, cols, m };
}
function close(got, expected, tol, what) {
  assert.equal(got.length, expected.length, `${what}: length`);
  for (let k = 0; k < expected.length; k++) {
    if (expected[k] === got[k]) continue;
    assert.ok(Math.abs(got[k] - expected[k]) <= tol, `${what}[${k}]: got ${got[k]}, expected ${expected[k]} (±${tol})`);
  }
}
const tolOf = (t) => t.abs_tol + 1e-6;

async function recompute(action) {
  const before = Number(await page.$eval('#pg-output', (el) => el.dataset.run));
  await action();
  await page.waitForFunction(
    (b) => {
      const el = document.getElementById('pg-output');
      return Number(el.dataset.run) > b && el.dataset.state !== 'busy' && !el.dataset.pending;
    },
    before,
    { timeout: 15000 },
  );
  await page.waitForTimeout(60); // let a coalesced follow-up run settle
  await page.waitForFunction(
    () =>
      !document.getElementById('pg-output').dataset.pending &&
      document.getElementById('pg-output').dataset.state !== 'busy',
  );
}

test("first view: the HackTricks tutorial's 'Hello shiny sun!' numbers, exact, from the module", async () => {
  const g = await golden('hacktricks_hello_shiny_sun.json');
  const exact = g.computed.float32;
  const text = await page.textContent('#shiny-context');
  assert.equal(text, `[${exact.context_shiny.map((v) => v.toFixed(4)).join(', ')}]`);
  assert.equal(text, '[0.3990, 0.3854, 0.8610]');
  close(await values('#shiny-context'), exact.context_shiny, 1e-6, 'context of shiny');
  for (const [i, t] of g.tokens.entries()) {
    const score = await page.$eval(`[data-key="hello.score.${t}"]`, (el) => [el.textContent, +el.dataset.value]);
    const weight = await page.$eval(`[data-key="hello.weight.${t}"]`, (el) => [el.textContent, +el.dataset.value]);
    assert.equal(score[0], exact.scores_vs_shiny[i].toFixed(4), `score ${t}`);
    assert.ok(Math.abs(score[1] - exact.scores_vs_shiny[i]) < 1e-6, `score ${t}`);
    assert.equal(weight[0], exact.weights_vs_shiny[i].toFixed(4), `weight ${t}`);
    assert.ok(Math.abs(weight[1] - exact.weights_vs_shiny[i]) < 1e-6, `weight ${t}`);
  }
  const hm = await heatmap('hello-weights');
  close(hm.m, exact.all_weights.flat(), 1e-6, 'all weights');
  assert.equal(await page.textContent('#hero-context'), '[0.3990, 0.3854, 0.8610]');
  assert.match(await page.textContent('#hero-checks'), /^(\d+) of \1 checks/);
  // the page explains why the tutorial prints different digits
  const note = await page.textContent('#hello .note');
  assert.match(note, /0\.3992, 0\.3858, 0\.8610/);
});

test("the book's chapter 3: every block matches the printed numbers", async () => {
  const checks = await page.$$eval('[data-check]', (els) =>
    els.map((e) => ({ key: e.dataset.check, ok: e.dataset.ok, d: +e.dataset.maxdiff })),
  );
  assert.ok(checks.length >= 18, `expected ≥ 18 book checks, found ${checks.length}`);
  for (const c of checks) assert.equal(c.ok, 'true', `${c.key} differs by ${c.d}`);

  // Independent of the page's own checks: read the drawn numbers and compare with the golden files.
  const b01 = await golden('book_01_simplified_attention_query2.json');
  close(
    await values('[data-key="book.simplified.context2"]'),
    flat(b01.steps[6].tensors[0].expected),
    tolOf(b01.steps[6].tensors[0]),
    'book01 context',
  );
  const b03 = await golden('book_03_trainable_weights_stepwise_seed123.json');
  for (const [key, s] of [
    ['book.v1.query2', 2],
    ['book.v1.scores2', 5],
    ['book.v1.weights2', 6],
    ['book.v1.context2', 7],
  ]) {
    const t = b03.steps[s].tensors[0];
    close(await values(`[data-key="${key}"]`), flat(t.expected), tolOf(t), key);
  }
  const pairs = [
    ['book-v1-context', 'book_04_self_attention_v1_seed123.json', 0],
    ['book-v2-context', 'book_05_self_attention_v2_seed789.json', 0],
    ['causal-unmasked', 'book_06_causal_mask_renormalise.json', 0],
    ['causal-renormalised', 'book_06_causal_mask_renormalise.json', 3],
    ['causal-neg-inf', 'book_07_causal_mask_neg_inf_softmax.json', 1],
    ['dropout-weights', 'book_08_dropout_seed123.json', 1],
    ['mha-context', 'book_11_multihead_attention_seed123.json', 0],
  ];
  for (const [name, file, s] of pairs) {
    const t = (await golden(file)).steps[s].tensors[0];
    let expected = flat(t.expected);
    if (t.shape.length === 3) expected = expected.slice(0, expected.length / t.shape[0]); // batch item 1
    close((await heatmap(name)).m, expected, tolOf(t), name);
  }
  const b10 = (await golden('book_10_multihead_wrapper_seed123.json')).steps[0].tensors[0];
  close((await heatmap('wrapper-context')).m, flat(b10.expected).slice(0, 24), tolOf(b10), 'wrapper context');
  const agree = await page.$eval('[data-key="causal.routes.maxdiff"]', (el) => +el.dataset.value);
  assert.ok(agree <= 1e-6, `causal routes differ by ${agree}`);
  await screenshot(page, '01-first-view');
  const causal = await page.$('#book .grid2');
  await causal.scrollIntoViewIfNeeded();
  await screenshot(page, '02-causal-routes');
});

test('playground: heads, causal and the sentence change the heatmap data', async () => {
  await page.locator('#playground').scrollIntoViewIfNeeded();
  const start = await heatmap('pg-weights');
  assert.equal(start.rows, 6);
  assert.equal(await page.$eval('#pg-output', (el) => el.dataset.heads), '2');

  // heads 2 → 4 (d_out 4): four heads, and head 3's data differs from head 1's
  await recompute(() => page.fill('#pg-heads', '4'));
  assert.equal(await page.$eval('#pg-output', (el) => el.dataset.heads), '4');
  assert.equal(await page.$$eval('#pg-heads-select input[type="radio"]', (r) => r.length), 4);
  const h1 = await heatmap('pg-weights');
  assert.notDeepEqual(h1.m, start.m, "heads=4 must change head 1's weights");
  await page.click('label[for="pg-heads-select-2"]');
  const h3 = await heatmap('pg-weights');
  assert.equal(await page.$eval('figure[data-name="pg-weights"]', (el) => el.dataset.head), '2');
  assert.notDeepEqual(h3.m, h1.m, 'head 3 differs from head 1');

  // causal: the future is zero; unchecked, it is not
  const upper = (hm) => hm.m.filter((_, k) => k % hm.cols > Math.floor(k / hm.cols));
  assert.ok(
    upper(h3).every((v) => v === 0),
    'causal weights are zero above the diagonal',
  );
  await recompute(() => page.uncheck('#pg-causal'));
  const open = await heatmap('pg-weights');
  assert.ok(
    upper(open).every((v) => v > 0),
    'non-causal weights are positive above the diagonal',
  );
  for (let i = 0; i < open.rows; i++) {
    const s = open.m.slice(i * open.cols, (i + 1) * open.cols).reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(s - 1) < 1e-5, `row ${i} sums to 1`);
  }
  await recompute(() => page.check('#pg-causal'));

  // the sentence: new tokens, new rows, new numbers
  await recompute(() => page.fill('#pg-sentence', 'Attention is all you need'));
  const sent = await heatmap('pg-weights');
  assert.equal(sent.rows, 5);
  assert.deepEqual(await page.$$eval('#playground .token', (b) => b.map((x) => x.textContent)), [
    'Attention',
    'is',
    'all',
    'you',
    'need',
  ]);
  assert.equal(await page.$eval('figure[data-name="pg-context"]', (el) => el.dataset.rows), '5');
  // every intermediate is there (drawn once its section is on screen)
  await page.locator('details.steps').scrollIntoViewIfNeeded();
  await page.waitForSelector('figure[data-name="pg-i-context"] rect.hm-cell');
  for (const name of [
    'queries',
    'keys',
    'values',
    'scores',
    'scaled_scores',
    'masked_scores',
    'weights',
    'context_before_out_proj',
    'context',
  ])
    assert.ok(await page.$(`figure[data-name="pg-i-${name}"] rect.hm-cell`), `intermediate ${name} drawn`);
  // the module agrees with the plain-JS reference
  const cc = await page.$eval('[data-crosscheck]', (el) => +el.dataset.crosscheck);
  assert.ok(cc < 1e-5, `cross-check ${cc}`);

  // hovering a token highlights its row and column (and its lines)
  await page.evaluate(() => document.getElementById('playground').scrollIntoView());
  await page.hover('#playground .token >> nth=4');
  const hl = await page.$$eval('figure[data-name="pg-weights"] rect.hm-cell.hl', (r) => r.length);
  assert.equal(hl, 2 * 5 - 1);
  await screenshot(page, '03-playground');
  await page.mouse.move(0, 0);
});

test('table view matches the heatmap', async () => {
  for (const name of ['pg-weights', 'hello-weights', 'causal-masked-scores']) {
    const fig = `figure[data-name="${name}"]`;
    const hm = await heatmap(name);
    await page.click(`${fig} button.toggle`);
    assert.equal(await page.$eval(`${fig} button.toggle`, (b) => b.getAttribute('aria-pressed')), 'true');
    const td = await page.$$eval(`${fig} table td`, (tds) =>
      tds.map((t) => ({
        i: +t.dataset.i,
        j: +t.dataset.j,
        v: t.dataset.value === '-inf' ? -Infinity : +t.dataset.value,
        text: t.textContent,
      })),
    );
    assert.equal(td.length, hm.rows * hm.cols);
    for (const c of td) {
      assert.equal(c.v, hm.m[c.i * hm.cols + c.j], `${name} [${c.i},${c.j}]`);
      const shown =
        c.v === -Infinity
          ? '−∞'
          : c.v
              .toFixed(4)
              .replace('-', '−')
              .replace(/^−(0\.0+)$/, '$1');
      assert.equal(c.text, shown);
    }
    if (name === 'pg-weights')
      await screenshot(page, '04-table-view', {
        clip: await page.$eval(fig, (el) => {
          const r = el.getBoundingClientRect();
          return { x: r.x, y: r.y, width: r.width, height: Math.min(r.height, 600) };
        }),
      });
    await page.click(`${fig} button.toggle`);
  }
});

test('validation errors from the library are shown inline, next to the control', async () => {
  await recompute(() => page.fill('#pg-dout', '5'));
  const err = await page.$eval('#pg-error', (el) => ({ hidden: el.hidden, text: el.textContent }));
  assert.equal(err.hidden, false);
  assert.match(err.text, /d_out \(5\) must be divisible by num_heads \(4\)/);
  assert.equal(await page.$eval('#pg-output', (el) => el.dataset.state), 'error');
  assert.ok(await page.$('[aria-invalid="true"]'), 'the offending control is marked invalid');
  await page.locator('#pg-error').scrollIntoViewIfNeeded();
  await screenshot(page, '05-inline-error');
  await recompute(() => page.fill('#pg-dout', '4'));
  assert.equal(await page.$eval('#pg-error', (el) => el.hidden), true);
  assert.equal(dialogs.length, 0, 'no alert() dialogs');
});

test('all six mechanisms run in the playground', async () => {
  for (const m of ['simplified', 'self-v1', 'self', 'causal', 'multihead-wrapper', 'multihead']) {
    await recompute(() => page.selectOption('#pg-mechanism', m));
    assert.equal(await page.$eval('#pg-output', (el) => el.dataset.state), 'ready', m);
    assert.ok((await heatmap('pg-weights')).rows === 5, m);
    const cc = await page.$eval('[data-crosscheck]', (el) => +el.dataset.crosscheck);
    assert.ok(cc < 1e-5, `${m}: the module and the JS reference differ by ${cc}`);
  }
});

test('playground: pasted embeddings and a PyTorch state_dict reproduce the book', async () => {
  const g = await golden('book_05_self_attention_v2_seed789.json');
  await page.click('label[for="pg-mode-json"]');
  await page.fill('#pg-x', JSON.stringify({ tokens: g.inputs.tokens, x: g.inputs.inputs_6x3 }));
  await page.fill('#pg-sd', JSON.stringify(g.parameters_debian_torch_1_13_1.values));
  await recompute(() => page.selectOption('#pg-mechanism', 'self'));
  await recompute(() => page.fill('#pg-dout', '2'));
  assert.equal(await page.isChecked('#pg-causal'), false, 'self is not causal by default');
  assert.equal(await page.$eval('#pg-output', (el) => el.dataset.state), 'ready');
  const t = g.steps[0].tensors[0];
  close((await heatmap('pg-context')).m, flat(t.expected), tolOf(t), 'pasted SelfAttention_v2');
  // a state_dict that does not fit is the library's error, shown inline
  await recompute(() => page.fill('#pg-dout', '3'));
  assert.equal(await page.$eval('#pg-output', (el) => el.dataset.state), 'error');
  assert.match(await page.textContent('#pg-error'), /W_query\.weight/);
  assert.equal(await page.$eval('#pg-sd', (el) => el.getAttribute('aria-invalid')), 'true');
  await page.fill('#pg-sd', '');
  await recompute(() => page.click('label[for="pg-mode-sentence"]'));
  assert.equal(await page.$eval('#pg-output', (el) => el.dataset.state), 'ready');
});

test('playground: causal route and dropout in training mode', async () => {
  await recompute(() => page.selectOption('#pg-mechanism', 'causal'));
  await recompute(() => page.fill('#pg-dout', '3'));
  const negInf = await heatmap('pg-weights');
  await recompute(() => page.selectOption('#pg-route', 'renormalise'));
  await page.locator('details.steps').scrollIntoViewIfNeeded(); // the steps are drawn once on screen
  assert.ok(
    await page.waitForSelector('figure[data-name="pg-i-unmasked_weights"] rect.hm-cell', { timeout: 10000 }),
    'route A shows the weights before the mask',
  );
  assert.equal(await page.$('figure[data-name="pg-i-masked_scores"]'), null);
  close((await heatmap('pg-weights')).m, negInf.m, 1e-6, 'both causal routes');
  await recompute(() => page.fill('#pg-dropout', '0.5'));
  assert.equal(
    await page.$eval('figure[data-name="pg-weights-dropout"]', (el) => el.hidden),
    true,
    'no dropout at inference',
  );
  await recompute(() => page.check('#pg-train'));
  const dropped = await heatmap('pg-weights-dropout');
  const w = (await heatmap('pg-weights')).m;
  assert.ok(
    dropped.m.some((v, k) => v === 0 && w[k] > 0),
    'some weights are dropped',
  );
  dropped.m.forEach((v, k) =>
    assert.ok(v === 0 || Math.abs(v - 2 * w[k]) < 1e-6, `kept weights are scaled by 1/(1-p) at ${k}`),
  );
  await recompute(() => page.uncheck('#pg-train'));
  await recompute(() => page.fill('#pg-dropout', '0'));
  await recompute(() => page.selectOption('#pg-route', 'neg-inf'));
});

test('keyboard: controls and table toggles work without a mouse', async () => {
  await page.focus('#pg-seed');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'pg-dropout');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'pg-route');
  const toggle = 'figure[data-name="pg-context"] button.toggle';
  await page.focus(toggle);
  await page.keyboard.press('Enter');
  assert.equal(await page.$eval(toggle, (b) => b.getAttribute('aria-pressed')), 'true');
  assert.ok(await page.$('figure[data-name="pg-context"] table th[scope="row"]'));
  await page.keyboard.press(' ');
  assert.equal(await page.$eval(toggle, (b) => b.getAttribute('aria-pressed')), 'false');
  // focusing a token highlights its row and column, like hovering
  await page.focus('#playground .token >> nth=0');
  assert.ok((await page.$$eval('figure[data-name="pg-weights"] rect.hm-cell.hl', (r) => r.length)) > 0);
  await page.focus('#pg-seed');
});

test('a long sentence: large heatmaps become one image with token labels', async () => {
  const words = Array.from({ length: 80 }, (_, i) => `w${i % 23}`).join(' ');
  await recompute(() => page.fill('#pg-sentence', words));
  assert.equal(await page.$eval('#pg-output', (el) => el.dataset.tokens), '80');
  assert.ok(await page.$('figure[data-name="pg-weights"] svg[data-raster="true"]'), '80×80 weights drawn as an image');
  assert.ok(await page.$('figure[data-name="pg-weights"] canvas.hm-image'), 'one canvas for the cells');
  const ticks = await page.$$eval('figure[data-name="pg-weights"] svg text', (ts) => ts.map((t) => t.textContent));
  assert.ok(ticks.includes('w0') && ticks.includes('w22'), `token labels on the axes: ${ticks.slice(0, 6)}`);
  await recompute(() => page.fill('#pg-sentence', 'Attention is all you need'));
});

const ORT_FILE = /\/(ort[-.][^/]*|ort-peer-[^/]*)$/;

test("the first load fetches none of onnxruntime-web's files", () => {
  assert.ok(firstLoad.length > 0);
  assert.deepEqual(
    firstLoad.filter((u) => ORT_FILE.test(new URL(u).pathname)),
    [],
    'onnxruntime-web is loaded only when the panel runs it',
  );
});

const perfRow = (name) =>
  page.$eval(`#perf-table tr[data-config="${name}"]`, (tr) => ({
    ...tr.dataset,
    cells: [...tr.cells].map((c) => c.textContent),
  }));
const perfDone = (p, name) =>
  p.waitForFunction(
    (n) => {
      const tr = document.querySelector(`#perf-table tr[data-config="${n}"]`);
      return (
        tr?.dataset.medianMs &&
        !tr.textContent.includes('…') &&
        !document.querySelector(`button[data-run="${n}"]`).disabled
      );
    },
    name,
    { timeout: 30000 },
  );

test('performance panel: C1 in the worker, against onnxruntime-web and the JS reference', async () => {
  assert.equal(await page.isChecked('#perf-ort'), true, 'onnxruntime-web is on by default');
  assert.equal(await page.$eval('#perf-threads', (s) => s.value), '1');
  await page.click('button[data-run="C1"]');
  await perfDone(page, 'C1');
  const row = await perfRow('C1');
  assert.equal(row.threads, '1');
  assert.ok(Number(row.medianMs) > 0);
  assert.ok(Number(row.maxdiff) < 1e-5, `C1 differs from the JS reference by ${row.maxdiff}`);
  // onnxruntime-web: a time, a finite ratio (ort ÷ attnkit, same run) and the same output
  assert.equal(row.ortError, undefined, `onnxruntime-web failed: ${row.ortError}`);
  assert.ok(Number(row.ortMs) > 0, `ort median ${row.ortMs}`);
  const ratio = Number(row.ortRatio);
  assert.ok(Number.isFinite(ratio) && ratio > 0, `ratio ${row.ortRatio}`);
  assert.ok(
    Math.abs(ratio - Number(row.ortMs) / Number(row.medianMs)) < 1e-9 * ratio,
    'ratio = ort median ÷ attnkit median',
  );
  assert.ok(Number(row.ortMaxdiff) <= 1e-4, `onnxruntime-web's context differs from attnkit's by ${row.ortMaxdiff}`);
  const [, , , threads, akMs, akRate, ortMs, ortRatio, ortDiff, refMs] = row.cells;
  assert.equal(threads, '1');
  for (const t of [akMs, ortMs, refMs]) assert.match(t, /^[\d.]+ (µs|ms|s)$/);
  assert.match(akRate, /^[\d.]+$/);
  assert.match(ortRatio, /^[\d.]+×$/);
  assert.match(ortDiff, /^(0|\d\.\d·10⁻[⁰¹²³⁴⁵⁶⁷⁸⁹]+)$/);
  assert.ok(!row.cells.includes('…'));
  assert.match(
    await page.textContent('#perf-ort-note'),
    /^onnxruntime-web 1\.\d+\.\d+ · WebAssembly SIMD · 1 thread\.$/,
  );
  // its files came from the page's own origin
  const ortFiles = requests.filter((u) => ORT_FILE.test(new URL(u).pathname));
  assert.ok(
    ortFiles.some((u) => /\/ort-wasm-simd-threaded[^/]*\.wasm$/.test(u)),
    `ort's wasm was fetched: ${ortFiles}`,
  );
  for (const u of ortFiles) assert.equal(new URL(u).origin, new URL(server.url).origin, u);
  await page.locator('#performance').scrollIntoViewIfNeeded();
  await screenshot(page, '06-performance');
  // a long run can be cancelled (the worker is replaced), and the panel works afterwards
  await page.click('button[data-run="C2"]');
  await page.waitForFunction(() => /C2/.test(document.querySelector('.perf-status').textContent));
  await page.click("#perf-body button:has-text('Cancel')");
  await page.waitForFunction(() => document.querySelector('.perf-status').textContent === 'Cancelled.');
  assert.equal(await page.$eval('button[data-run="C1"]', (b) => b.disabled), false);
});

test("performance panel: if onnxruntime-web does not load, its column says so and attnkit's numbers still show", async () => {
  const p2 = await browser.context.newPage();
  try {
    await p2.route(/ort-wasm-simd-threaded[^/]*\.wasm$/, (r) => r.abort());
    await p2.goto(server.url);
    await p2.waitForSelector('body[data-ready="true"]', { timeout: 30000 });
    await p2.click('button[data-run="C1"]');
    await perfDone(p2, 'C1');
    const row = await p2.$eval('#perf-table tr[data-config="C1"]', (tr) => ({
      ...tr.dataset,
      cells: [...tr.cells].map((c) => c.textContent),
    }));
    assert.ok(row.ortError, 'the ort error is recorded');
    assert.equal(row.cells[6], 'did not load');
    assert.equal(row.ortMs, undefined);
    assert.match(
      await p2.textContent('#perf-ort-note'),
      /^onnxruntime-web could not run, so its columns are empty \(attnkit’s numbers are unaffected\): ./,
    );
    assert.ok(Number(row.medianMs) > 0 && Number(row.gflops) > 0, "attnkit's numbers are there");
    assert.ok(Number(row.maxdiff) < 1e-5, "and the JS reference's");
  } finally {
    await p2.close();
  }
});

test('responsive: a phone-sized viewport', async () => {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(300); // charts re-render for the new width
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.waitForTimeout(100);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `page scrolls sideways by ${overflow}px`);
  await screenshot(page, '07-mobile');
  await page.setViewportSize({ width: 1280, height: 900 });
});

test('works from a plain static server (no COOP/COEP): the single-thread build, same numbers', async () => {
  const plain = await serve(dist, { isolate: false });
  plainOrigins.push(new URL(plain.url).origin);
  const p2 = await browser.context.newPage();
  const errs = watchErrors(p2);
  try {
    await p2.goto(plain.url);
    await p2.waitForSelector('body[data-ready="true"]', { timeout: 30000 });
    assert.equal(await p2.evaluate(() => crossOriginIsolated), false);
    assert.match(await p2.textContent('#engine'), /· 1 thread\b/);
    assert.equal(await p2.textContent('#shiny-context'), '[0.3990, 0.3854, 0.8610]');
    const checks = await p2.$$eval('[data-check]', (els) => els.map((e) => e.dataset.ok));
    assert.ok(checks.length >= 18 && checks.every((ok) => ok === 'true'));
    assert.deepEqual(errs, []);
  } finally {
    await p2.close();
    await plain.close();
  }
});

test('no console errors, failed requests or page errors', () => {
  assert.deepEqual(errors, []);
});

test("no request leaves the page's origin (the page, its workers, attnkit's and onnxruntime-web's files)", () => {
  assert.ok(requests.length > 0);
  const origins = new Set([new URL(server.url).origin, ...plainOrigins]); // the plain-server test serves the same page from a second port
  const outside = requests.filter((u) => !/^(data|blob):/.test(u) && !origins.has(new URL(u).origin));
  assert.deepEqual(outside, [], "requests outside the page's origin");
});
