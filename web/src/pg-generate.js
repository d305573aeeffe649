// Token by token through the KV cache: the worker feeds the layer's decoder one token at a time (the cache
// grows by one key and one value per head and step) and checks each step's context against the full
// causal forward. The slider replays the steps: at step t the cache holds t keys and values, and the new
// row of weights is row t of the causal weights (the decoder's query sees exactly those keys).
import { S } from './strings.js';
import { h, fmtSci, block2d } from './util.js';
import { MatrixView } from './matrix-view.js';

const T = S.pg.gen;

export function generationView(compute) {
  const run = h('button', { type: 'button', class: 'small', id: 'pg-gen-run' }, T.run);
  const slider = h('input', { type: 'range', id: 'pg-gen-step', min: '1', max: '1', value: '1', disabled: true });
  const status = h('p', { class: 'help', id: 'pg-gen-status', role: 'status', 'aria-live': 'polite' });
  const cache = h('p', { class: 'gen-cache', id: 'pg-gen-cache' });
  const rowView = new MatrixView({ title: T.rowTitle, name: 'pg-gen-row', kind: 'weights' });
  const sofar = new MatrixView({ title: T.sofarTitle, name: 'pg-gen-sofar', kind: 'weights' });
  const el = h(
    'details',
    { class: 'generation', id: 'pg-gen' },
    h('summary', null, T.heading),
    h('p', { class: 'help' }, T.text),
    h('div', { class: 'row-buttons' }, run),
    h('div', { class: 'field' }, h('label', { for: slider.id }, T.step), slider),
    status,
    cache,
    h('div', { class: 'grid2' }, rowView.el, sofar.el),
  );
  let data = null; // { weights (H, n, n) of batch item 1, tokens, n, H, headDim, head, diff }

  function show() {
    if (!data) return;
    const t = Number(slider.value);
    const { weights, tokens, n, H, headDim, head } = data;
    const w = block2d({ data: weights, shape: [H, n, n] }, head).data;
    cache.textContent = T.cache(t, n, H, headDim);
    cache.dataset.length = data.lengths[t - 1];
    rowView.update({
      data: w.subarray((t - 1) * n, (t - 1) * n + t),
      rows: 1,
      cols: t,
      rowLabels: [tokens[t - 1]],
      colLabels: tokens.slice(0, t),
    });
    const rows = new Float32Array(t * t);
    for (let i = 0; i < t; i++) rows.set(w.subarray(i * n, i * n + t), i * t);
    sofar.update({ data: rows, rows: t, cols: t, rowLabels: tokens.slice(0, t), colLabels: tokens.slice(0, t) });
  }
  slider.addEventListener('input', show);

  /** request: { mechanism, options, x, shape, tokens, head, weights, weightsShape } from the last forward. */
  async function start(req) {
    status.textContent = T.running;
    try {
      const r = await compute.call('decode', {
        mechanism: req.mechanism,
        options: req.options,
        x: req.x,
        shape: req.shape,
      });
      const [, n] = req.shape;
      const ws = req.weightsShape;
      const H = ws[ws.length - 3];
      data = {
        weights: req.weights.subarray(0, H * n * n),
        tokens: req.tokens,
        n,
        H,
        headDim: r.headDim,
        head: req.head,
        lengths: r.lengths,
      };
      slider.max = String(n);
      slider.value = String(n);
      slider.disabled = false;
      status.textContent = T.done(n, fmtSci(r.maxDiff));
      status.dataset.maxdiff = r.maxDiff;
      show();
    } catch (e) {
      status.textContent = S.pg.errorPrefix + e.message;
    }
  }
  return { el, run, start, setHead: (k) => data && ((data.head = k), show()) };
}
