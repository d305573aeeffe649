// The playground: a sentence (or pasted JSON) → any of the six mechanisms → every head, the lines view,
// every step, the shapes. Input is debounced; the worker computes; the page draws only what is visible.
import { S } from './strings.js';
import { h, block2d } from './util.js';
import { MatrixView, LinesView } from './charts.js';
import { latestOnly } from './compute.js';
import { buildControls } from './pg-controls.js';
import { fieldValue } from './pg-input.js';
import { readInput, tile } from './pg-read.js';
import { controlFor as controlOf, showError as showErrorIn } from './pg-errors.js';
import { HeadGrid } from './head-grid.js';
import { shapesTable } from './shapes.js';
import { renderSteps } from './pg-steps.js';
import { permalinkHash } from './permalink.js';
import { generationView } from './pg-generate.js';
import { summarise, copyStateDict, editAsJson } from './pg-takeaway.js';

const T = S.pg;
const DEBOUNCE_MS = 150; // typing: one recompute when the typing pauses
const STEPS_MAX = 256; // every intermediate is drawn up to this many tokens
const CROSS_CHECK_MAX = 200000; // b·n²·heads up to which the plain-JS reference re-computes the result

export function renderPlayground(root, compute, mechanisms, initial) {
  const traitsOf = new Map(mechanisms.map((t) => [t.name, t]));
  const about = (name) => {
    const t = traitsOf.get(name);
    return t.bookClass ? `${t.bookClass}: ${t.description}` : t.description;
  };
  const { form, c, sync, state, apply } = buildControls(mechanisms, about);
  const applies = (option) => traitsOf.get(c.mechanism.value).options.includes(option);
  if (initial) apply(initial);

  // ------------------------------------------------------------------ outputs
  const error = h('p', { class: 'error', id: 'pg-error', role: 'status', 'aria-live': 'polite', hidden: true });
  const progress = h(
    'div',
    { class: 'progress', hidden: true, role: 'progressbar', 'aria-label': T.computing },
    h('div', { class: 'bar' }),
    h('span', null, T.computing),
  );
  const summary = h('p', { class: 'summary', id: 'pg-summary', 'aria-live': 'polite' });
  const tokenStrip = h('div', { class: 'tokens', role: 'toolbar', 'aria-label': T.tokensLabel });
  const headGroup = h('div', {
    class: 'segmented',
    role: 'radiogroup',
    'aria-labelledby': 'pg-head-label',
    id: 'pg-heads-select',
  });
  const batchGroup = h('div', {
    class: 'segmented',
    role: 'radiogroup',
    'aria-labelledby': 'pg-batch-label',
    id: 'pg-batch-select',
    hidden: true,
  });
  const weightsView = new MatrixView({ title: T.weightsTitle, name: 'pg-weights', kind: 'weights' });
  const dropView = new MatrixView({ title: T.weightsDropTitle, name: 'pg-weights-dropout', kind: 'weights' });
  const linesView = new LinesView({ title: T.lines });
  const contextView = new MatrixView({ title: T.contextTitle, name: 'pg-context', kind: 'signed' });
  const grid = new HeadGrid({ onPick: (k) => pickHead(k, true) });
  const shapesBox = h('div', { class: 'shapes' });
  const gen = generationView(compute);
  gen.run.addEventListener('click', () => {
    if (!last) return;
    const { result: r, m, options, input } = last;
    const w = weightsOf(r);
    gen.start({
      mechanism: m,
      options,
      x: input.x,
      shape: input.shape,
      tokens: last.tokens,
      head: sel.head,
      weights: w.data,
      weightsShape: w.shape,
    });
  });
  const stepsGrid = h('div', { class: 'steps-grid' });
  const stepsNote = h('p', { class: 'help', hidden: true });
  const steps = h(
    'details',
    { class: 'steps', open: true },
    h('summary', null, T.steps),
    h('p', { class: 'help' }, T.stepsText),
    stepsNote,
    stepsGrid,
  );
  const stepViews = new Map();
  const permalink = h('a', { id: 'pg-permalink', href: '#playground' }, T.permalink);
  const copyStatus = h('span', { class: 'help', role: 'status', 'aria-live': 'polite' });
  const copySd = h(
    'button',
    { type: 'button', class: 'small', id: 'pg-copy-sd', onclick: () => copyStateDict(last, copyStatus) },
    T.copySd,
  );
  const editSd = h(
    'button',
    { type: 'button', class: 'small', id: 'pg-edit-sd', onclick: () => editAsJson(last, c, schedule) },
    T.editSd,
  );
  dropView.el.hidden = true;

  const output = h(
    'div',
    { class: 'pg-output', id: 'pg-output', dataset: { state: 'idle', run: '0' } },
    h('p', { class: 'untrained', id: 'pg-untrained' }, T.untrained, ' ', h('a', { href: '#learn' }, T.untrainedLink)),
    error,
    progress,
    summary,
    h('div', { class: 'take-away' }, permalink, copySd, editSd, copyStatus),
    h(
      'div',
      { class: 'selectors' },
      h('div', null, h('span', { class: 'sel-label', id: 'pg-head-label' }, T.headSelect), headGroup),
      h('div', null, h('span', { class: 'sel-label', id: 'pg-batch-label' }, T.batchSelect), batchGroup),
    ),
    h('p', { class: 'help' }, T.tokensLabel),
    tokenStrip,
    grid.el,
    h('div', { class: 'grid2 pg-main' }, h('div', null, weightsView.el, dropView.el), linesView.el),
    contextView.el,
    shapesBox,
    gen.el,
    steps,
  );
  root.replaceChildren(h('div', { class: 'pg-layout' }, form, output));

  // ------------------------------------------------------------------ state + rendering
  let last = null; // { result, tokens, shape }
  const sel = { head: 0, batch: 0 };
  let focusTok = null;

  const showError = (message, control) => showErrorIn(form, error, message, control);
  const controlFor = (message) => controlOf(message, c, applies);

  function syncEnabled() {
    const help = document.getElementById(`${c.mechanism.id}-help`);
    if (help) help.textContent = about(c.mechanism.value);
    c.heads.disabled = !applies('numHeads');
    c.dOut.disabled = !applies('dOut');
    c.qkvBias.disabled = !applies('qkvBias');
    c.route.disabled = !c.causal.checked || !applies('causalRoute');
    sync();
  }

  function segmented(group, count, current, onPick) {
    const name = group.id;
    // Rebuilt only when the count changes, so arrow keys keep focus on the radio they moved to.
    if (group.childElementCount !== 2 * count) {
      group.replaceChildren();
      for (let k = 0; k < count; k++) {
        const id = `${name}-${k}`;
        const input = h('input', { type: 'radio', name, id, value: String(k), onchange: () => onPick(k) });
        group.append(input, h('label', { for: id }, String(k + 1)));
      }
    }
    group.querySelectorAll('input').forEach((r, k) => (r.checked = k === current));
  }

  function renderTokens(tokens) {
    // One tab stop: arrow keys move between tokens (roving tabindex), focus or hover highlights.
    tokenStrip.replaceChildren(
      ...tokens.map((t, k) =>
        h('button', { type: 'button', class: 'token', tabindex: k === 0 ? '0' : '-1', dataset: { index: k }, text: t }),
      ),
    );
  }
  const tokenOf = (e) => e.target.closest?.('.token');
  tokenStrip.addEventListener('pointerover', (e) => tokenOf(e) && setFocus(+tokenOf(e).dataset.index));
  tokenStrip.addEventListener('pointerleave', () => setFocus(null));
  tokenStrip.addEventListener('focusin', (e) => tokenOf(e) && setFocus(+tokenOf(e).dataset.index));
  tokenStrip.addEventListener('focusout', () => setFocus(null));
  tokenStrip.addEventListener('keydown', (e) => {
    const b = tokenOf(e);
    const step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[e.key];
    if (!b || !step) return;
    e.preventDefault();
    const all = tokenStrip.children;
    const next = all[Math.max(0, Math.min(all.length - 1, +b.dataset.index + step))];
    b.tabIndex = -1;
    next.tabIndex = 0;
    next.focus();
  });

  function setFocus(k) {
    focusTok = k;
    tokenStrip.querySelector('.token.active')?.classList.remove('active');
    if (k !== null) tokenStrip.children[k]?.classList.add('active');
    for (const v of [weightsView, dropView]) v.highlight(k, k);
    linesView.highlight(k);
    contextView.highlight(k, null);
  }
  const hoverCell = (i, j) => {
    for (const v of [weightsView, dropView]) v.highlight(i, j);
    linesView.highlight(i);
  };
  weightsView.onHover = hoverCell;
  dropView.onHover = hoverCell;

  const colourMode = (n) => (c.colour.value === 'auto' ? (n > 32 ? 'row' : 'linear') : c.colour.value);
  const headsOf = (r) => (r.weightsShape ? r.weightsShape[r.weightsShape.length - 3] : 1);
  const weightsOf = (r) => r.intermediates.weights || { data: r.weights, shape: r.weightsShape };

  function pickHead(k, fromGrid) {
    sel.head = k;
    const t0 = performance.now();
    renderHead(true);
    output.dataset.pickMs = (performance.now() - t0).toFixed(1);
    grid.select(k);
    if (fromGrid) weightsView.chart.focus({ preventScroll: false });
    updatePermalink();
  }

  /** The grid of every head: recomputed only when the result or the batch item changes. */
  function renderGrid() {
    const { result: r, shape } = last;
    const n = shape[1];
    const H = headsOf(r);
    const t = r.thumbs;
    const per = H * t.rows * t.cols;
    const w = weightsOf(r).data;
    const all = w.length / shape[0]; // one batch item's weights, every head
    const full = all / H <= 1024 ? w.subarray(sel.batch * all, (sel.batch + 1) * all) : null;
    const thumbs = { data: t.data.subarray(sel.batch * per, (sel.batch + 1) * per), rows: t.rows, cols: t.cols };
    grid.update({ thumbs, H, full, current: sel.head, mode: colourMode(n) });
    grid.el.hidden = H < 2;
  }

  /** The selected head: weights, dropout, lines, context, every step. */
  /** headOnly: a pick of another head (the context, the same for every head, stays as drawn). */
  function renderHead(headOnly = false) {
    const { result: r, tokens, shape } = last;
    const [b, n] = shape;
    const H = headsOf(r);
    sel.head = Math.min(sel.head, H - 1);
    segmented(headGroup, H, sel.head, (k) => pickHead(k, false));
    const blk = sel.batch * H + sel.head;
    const input = last.input;
    const rowTokens = input.batchTokens ? input.batchTokens[sel.batch] : tokens;
    const keyTokens = input.kv ? input.kv.tokens : rowTokens;
    const real = input.real ? input.real[sel.batch] : undefined;
    const lab = { rowLabels: rowTokens, colLabels: keyTokens, real };
    const mode = colourMode(n);
    for (const v of [weightsView, dropView]) v.scale = mode;
    weightsView.el.dataset.scale = mode;
    const w = block2d(weightsOf(r), blk);
    weightsView.el.dataset.head = sel.head;
    weightsView.update({ ...w, ...lab });
    const dropped = r.intermediates.weights_after_dropout;
    dropView.el.hidden = !dropped;
    if (dropped) dropView.update({ ...block2d(dropped, blk), ...lab });
    linesView.el.hidden = !!input.kv;
    if (!input.kv) linesView.update({ data: (dropped ? block2d(dropped, blk) : w).data, n, tokens: rowTokens });
    const width = r.contextShape[2];
    if (!headOnly)
      contextView.update({
        data: r.context.subarray(sel.batch * n * width, (sel.batch + 1) * n * width),
        rows: n,
        cols: width,
        rowLabels: rowTokens,
        real,
        colLabels: Array.from({ length: width }, (_, k) => String(k + 1)),
      });
    stepsNote.hidden = n <= STEPS_MAX;
    stepsNote.textContent = T.stepsTooMany(n, STEPS_MAX);
    // Every intermediate is drawn when it is on screen (or scrolls into view), not on every change.
    drawSteps = () => renderSteps({ result: r, tokens: rowTokens, n, blk, batch: sel.batch, stepViews, stepsGrid });
    // … and after the views above have been painted (next frame), so they never wait for it.
    stepsDirty = true;
    if (steps.open && stepsVisible) requestAnimationFrame(() => setTimeout(stepsNow, 0));
    gen.setHead(sel.head);
    if (focusTok !== null && focusTok < n) setFocus(focusTok);
    else setFocus(null);
  }

  function renderResult() {
    const { result: r, shape } = last;
    const b = shape[0];
    sel.batch = Math.min(sel.batch, b - 1);
    batchGroup.hidden = b <= 1;
    batchGroup.previousElementSibling.hidden = b <= 1;
    if (b > 1)
      segmented(batchGroup, b, sel.batch, (k) => {
        sel.batch = k;
        if (last.input.batchTokens) renderTokens(last.input.batchTokens[k]); // a padded item has its own words
        renderGrid();
        renderHead();
      });
    const t0 = performance.now();
    renderGrid();
    const t1 = performance.now();
    renderHead();
    const t2 = performance.now();
    output.dataset.breakdown = JSON.stringify({ grid: +(t1 - t0).toFixed(1), head: +(t2 - t1).toFixed(1) });
    const mh = c.mechanism.value === 'multihead';
    shapesBox.replaceChildren(
      mh
        ? shapesTable(
            { b, n: shape[1], dIn: shape[2], dOut: r.contextShape[2], heads: headsOf(r) },
            S.shapes.caption(b, shape[1], shape[2], r.contextShape[2], headsOf(r)),
          )
        : '',
    );
    output.dataset.heads = headsOf(r);
    output.dataset.tokens = shape[1];
  }
  let drawSteps = null,
    stepsDirty = false,
    stepsVisible = false;
  const stepsNow = () => {
    if (stepsDirty && stepsVisible && steps.open && drawSteps) {
      stepsDirty = false;
      drawSteps();
    }
  };
  steps.addEventListener('toggle', stepsNow);
  new IntersectionObserver(
    (entries) => {
      stepsVisible = entries.some((e) => e.isIntersecting);
      stepsNow();
    },
    { rootMargin: '300px' },
  ).observe(steps);

  function updatePermalink() {
    permalink.href = permalinkHash({ ...state(), hd: String(sel.head), bi: String(sel.batch) });
  }

  const run = latestOnly(async () => {
    syncEnabled();
    const t0 = performance.now();
    let input, options;
    try {
      input = readInput(c);
      options = {
        dIn: input.shape[2],
        dOut: applies('dOut') ? fieldValue(c.dOut, T.dOut) : input.shape[2],
        numHeads: applies('numHeads') ? fieldValue(c.heads, T.heads) : 1,
        causal: c.causal.checked,
        causalRoute: c.route.value,
        qkvBias: c.qkvBias.checked && !c.qkvBias.disabled,
        dropout: fieldValue(c.dropout, T.dropout),
        seed: fieldValue(c.seed, T.seed),
      };
      const kvHeads = applies('numHeads') ? fieldValue(c.kvHeads, T.real.kvHeads) : 0;
      if (kvHeads > 0) options.kvHeads = kvHeads;
      if (c.wformat.value !== 'book' && c.modeJson.checked) options.weightsFormat = c.wformat.value;
    } catch (e) {
      showError(e.message, e.control);
      output.dataset.state = 'error';
      output.dataset.run = String(Number(output.dataset.run) + 1);
      return;
    }
    if (input.stateDict) options.stateDict = input.stateDict;
    const m = c.mechanism.value;
    const [b, n] = input.shape;
    output.dataset.state = 'busy';
    output.setAttribute('aria-busy', 'true');
    const slow = setTimeout(() => (progress.hidden = false), 150);
    const dropping = c.train.checked && options.dropout > 0;
    const big = b * n * n * options.numHeads > CROSS_CHECK_MAX;
    const plain = !input.kv && !input.mask && !options.kvHeads; // what the plain-JS reference implements
    try {
      const result = await compute.call('forward', {
        mechanism: m,
        options,
        x: input.x,
        shape: input.shape,
        forwardOptions: {
          returnWeights: true,
          intermediates: n <= STEPS_MAX,
          train: c.train.checked,
          ...(input.kv ? { kv: tile(input.kv.x, b), kvShape: [b, input.kv.tokens.length, input.shape[2]] } : {}),
          ...(input.mask ? { keyPaddingMask: input.mask } : {}),
        },
        crossCheck: !big && !dropping && plain,
        wantStateDict: true,
        thumbs: true,
      });
      result.crossCheckSkipped = dropping ? 'dropout' : big ? 'size' : plain ? null : 'features';
      showError(null);
      last = { result, tokens: input.tokens, shape: input.shape, x: input.x, input, m, options };
      const t1 = performance.now();
      renderTokens(input.batchTokens ? input.batchTokens[Math.min(sel.batch, input.shape[0] - 1)] : input.tokens);
      output.dataset.tokensMs = (performance.now() - t1).toFixed(1);
      renderResult();
      output.dataset.renderMs = (performance.now() - t1).toFixed(1);
      output.dataset.forwardMs = result.ms.toFixed(1);
      output.dataset.workerMs = result.workerMs.toFixed(1);
      summarise(summary, result, m);
      updatePermalink();
      output.dataset.state = 'ready';
    } catch (e) {
      if (e.name === 'AbortError') return;
      showError(T.errorPrefix + e.message, controlFor(e.message));
      output.dataset.state = 'error';
    } finally {
      clearTimeout(slow);
      progress.hidden = true;
      output.removeAttribute('aria-busy');
      output.dataset.totalMs = (performance.now() - t0).toFixed(1);
      output.dataset.run = String(Number(output.dataset.run) + 1);
    }
  });
  // data-pending marks typing whose debounced run has not started yet (tests and scripts wait for it to clear).
  const schedule = () => {
    delete output.dataset.pending;
    run();
  };
  let timer = null;
  const typed = () => {
    clearTimeout(timer);
    output.dataset.pending = 'typing';
    timer = setTimeout(schedule, DEBOUNCE_MS);
  };

  c.mechanism.addEventListener('change', () => {
    c.causal.checked = traitsOf.get(c.mechanism.value).defaultCausal;
    if (c.mechanism.value === 'multihead-wrapper' && Number(c.dOut.value) > 4) c.dOut.value = '2';
  });
  c.colour.addEventListener('change', () => {
    if (!last) return;
    renderGrid();
    renderHead();
    updatePermalink();
  });
  // Typing (text, numbers, JSON) waits for a pause; a pick (select, checkbox, radio) recomputes at once.
  form.addEventListener('input', (e) => {
    if (e.target === c.colour) return;
    const t = e.target;
    if (t.tagName === 'TEXTAREA' || t.type === 'text' || t.type === 'number') typed();
    else schedule();
  });
  if (initial) {
    sel.head = Number(initial.hd) || 0;
    sel.batch = Number(initial.bi) || 0;
  }
  syncEnabled();
  schedule();
  return { schedule };
}
