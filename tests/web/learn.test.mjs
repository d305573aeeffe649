// "Watch it learn" in Chromium: copy-previous from the default seed trains in the section's worker, by
// keyboard; the loss falls and the diagonal below the main one appears (read from the charts' data). The time
// to learn each task is printed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { buildPage, serve, launch, openPage, screenshot, axeViolations } from './harness.mjs';

let server, browser, page;
before(async () => {
  await buildPage();
  server = await serve();
  browser = await launch();
  page = await openPage(browser.context, server.url);
  await page.waitForFunction(() => document.querySelector('#learn-snapshot')?.max !== undefined);
  await page.waitForFunction(() => document.querySelector('[data-row="now"] figure'), null, { timeout: 60000 });
});
after(async () => {
  await browser?.close();
  await server?.close();
});

const num = (sel) => page.$eval(sel, (el) => Number(el.textContent));
const probe = () =>
  page.$$eval('[data-row="now"] figure.matrix-view', (fs) =>
    fs.map((f) => ({ n: +f.dataset.rows, w: JSON.parse(f.dataset.values) })),
  );

async function trainTo(steps) {
  await page.fill('#learn-steps', String(steps));
  await page.focus('[data-testid="learn-start"]');
  await page.keyboard.press('Enter');
  await page.waitForFunction(
    (n) => Number(document.querySelector('[data-testid="learn-step"]').textContent) >= n,
    steps,
    {
      timeout: 300000,
    },
  );
  await page.waitForFunction(() => document.getElementById('learn-start').getAttribute('aria-disabled') === 'false');
}

test('copy-previous from the default seed: the loss falls and the diagonal below the main one appears', async () => {
  assert.equal(await page.inputValue('#learn-task'), 'copy-previous');
  assert.equal(await page.inputValue('#learn-seed'), '123');
  const before = await probe();
  const t0 = Date.now();
  await trainTo(300);
  const seconds = (Date.now() - t0) / 1000;
  const losses = await page.$eval('#learn-loss-chart', (c) => JSON.parse(c.dataset.losses));
  assert.ok(losses.length >= 300);
  const mean = (a) => a.reduce((s, v) => s + v, 0) / a.length;
  const first = mean(losses.slice(0, 10)),
    last = mean(losses.slice(-10));
  assert.ok(last < first / 4, `the loss falls: ${first.toFixed(3)} → ${last.toFixed(3)}`);
  assert.ok(
    Math.abs((await num('[data-testid="learn-loss"]')) - losses.at(-1)) < 1e-4,
    'learn-loss is the latest loss',
  );
  // the diagonal: some head puts ≥ 0.9 of each row's weight on the previous position (rows 1…n−1)
  const share = (h) => mean(Array.from({ length: h.n - 1 }, (_, k) => h.w[(k + 1) * h.n + k]));
  const now = (await probe()).map(share);
  const untrained = before.map(share);
  assert.ok(Math.max(...now) >= 0.9, `best head's share on the previous token: ${now.map((v) => v.toFixed(2))}`);
  assert.ok(Math.max(...untrained) < 0.5, `untrained: ${untrained.map((v) => v.toFixed(2))}`);
  assert.ok(Number(await page.$eval('#learn-marker', (m) => m.dataset.step)) > 0, 'the page marks when it appeared');
  console.log(
    `copy-previous: 300 steps in ${seconds.toFixed(1)} s in Chromium; shares ${now.map((v) => v.toFixed(2))}`,
  );
  await page.locator('#learn').scrollIntoViewIfNeeded();
  await screenshot(page, '16-learn-copy-previous');
  assert.deepEqual(await axeViolations(page, '#learn'), []);
});

test('the snapshot slider scrubs back to the untrained weights', async () => {
  await page.fill('#learn-snapshot', '0');
  const first = await page.$$eval('[data-row="untrained"] figure', (fs) => fs.map((f) => f.dataset.values));
  const now = await page.$$eval('[data-row="now"] figure', (fs) => fs.map((f) => f.dataset.values));
  assert.deepEqual(now, first);
});

test('every task: the time to learn it in Chromium (goal steps from ak.tasks)', async () => {
  const report = [];
  const goals = await page.$$eval('#learn-task option', (os) =>
    os.map((o) => [o.value, +o.dataset.goalSteps, +o.dataset.goalAccuracy]),
  );
  for (const [task, steps, goal] of goals.filter(([t]) => t !== 'copy-previous')) {
    await page.selectOption('#learn-task', task);
    await page.waitForFunction(() => document.getElementById('learn-status').textContent.startsWith('A fresh'));
    const t0 = Date.now();
    await trainTo(steps);
    report.push({
      task,
      steps,
      seconds: +((Date.now() - t0) / 1000).toFixed(1),
      accuracy: await page.$eval('#learn-accuracy', (o) => Number(o.textContent)),
      goal,
      'pattern at step': await page.$eval('#learn-marker', (m) => m.dataset.step ?? '—'),
    });
  }
  console.table(report);
  for (const r of report) assert.ok(r.accuracy >= r.goal - 0.005, `${r.task}: accuracy ${r.accuracy}, goal ${r.goal}`);
  assert.deepEqual(page.errors, []);
});
