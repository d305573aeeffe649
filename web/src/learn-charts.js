// The #learn section's figures: the loss and accuracy curves (Observable Plot) with the step the pattern
// appeared, and each head's weights on the probe sequence, untrained and at the chosen snapshot.
import * as Plot from '@observablehq/plot';
import { S } from './strings.js';
import { h } from './util.js';
import { tidy } from './heatmap.js';
import { MatrixView } from './matrix-view.js';
import { exportMenu, svgDocument } from './export.js';

const T = S.learn;

/** Share of a head's weight on the expected key, averaged over the scored rows (expectedKey ≥ 0). */
export function headScores({ data, shape, expectedKey }) {
  const [H, n] = shape;
  const scores = [];
  for (let k = 0; k < H; k++) {
    let sum = 0,
      count = 0;
    for (let i = 0; i < n; i++)
      if (expectedKey[i] >= 0) {
        sum += data[k * n * n + i * n + expectedKey[i]];
        count++;
      }
    scores.push(count ? sum / count : 0);
  }
  return scores;
}

export class CurveChart {
  constructor() {
    this.chart = h('div', { class: 'learn-curves', id: 'learn-loss-chart' });
    this.el = h(
      'figure',
      { class: 'learn-curves-view' },
      h(
        'figcaption',
        null,
        h('span', { class: 'fig-title' }, T.curvesTitle),
        h(
          'span',
          { class: 'fig-tools' },
          exportMenu(T.curvesTitle, () => this.source()),
        ),
      ),
      this.chart,
    );
  }

  /** points: [{step, loss, accuracy}] (training batch), evals: [{step, accuracy}], appeared: step or null. */
  update(points, evals, appeared, width = 640) {
    this.chart.dataset.steps = JSON.stringify(points.map((p) => p.step));
    this.chart.dataset.losses = JSON.stringify(points.map((p) => p.loss));
    this.chart.dataset.accuracy = JSON.stringify(evals.map((p) => p.accuracy));
    const rule = appeared === null ? [] : [Plot.ruleX([appeared], { stroke: 'currentColor', strokeDasharray: '4 3' })];
    const plot = (y, data, label, domain) =>
      tidy(
        Plot.plot({
          width: Math.max(260, Math.min(width / 2 - 8, 420)),
          height: 190,
          marginLeft: 44,
          style: { background: 'transparent', fontSize: '11px' },
          x: { label: T.stepLabel, grid: true },
          y: { label, domain, grid: true },
          marks: [Plot.line(data, { x: 'step', y, stroke: 'currentColor' }), ...rule],
        }),
      );
    const loss = plot('loss', points, T.lossLabel);
    const acc = plot('accuracy', evals, T.accuracyEval, [0, 1]);
    for (const [svg, what] of [
      [loss, T.lossLabel],
      [acc, T.accuracyEval],
    ]) {
      svg.setAttribute('role', 'img');
      svg.setAttribute('aria-label', T.curveAria(what, points.at(-1)?.step ?? 0));
    }
    this.svgs = [loss, acc];
    this.chart.replaceChildren(loss, acc);
    this.points = points;
  }

  source() {
    if (!this.svgs) return null;
    const [loss] = this.svgs;
    const rows = this.points.map((p) => `${p.step},${p.loss},${p.accuracy}`);
    return {
      name: 'learn-loss',
      width: +loss.getAttribute('width'),
      height: +loss.getAttribute('height'),
      svgText: () => svgDocument(loss, { title: T.curvesTitle }),
      csv: () => ['step,loss,accuracy', ...rows].join('\n') + '\n',
      json: () => JSON.stringify({ title: T.curvesTitle, points: this.points }),
    };
  }
}

/** One row of head views per snapshot kind: "untrained" (step 0) and "now" (the slider's snapshot). */
export class ProbeViews {
  constructor(root) {
    this.root = root;
    this.views = { untrained: [], now: [] };
  }

  update(kind, probe, step) {
    const [H, n] = probe.shape;
    const list = this.views[kind];
    while (list.length > H) list.pop().el.remove();
    const labels = Array.from(probe.inputs.slice(0, n), (t, i) => `${i}:${t}`);
    for (let k = 0; k < H; k++) {
      if (!list[k]) {
        const v = new MatrixView({
          title: '',
          name: `learn-${kind}-${k}`,
          kind: 'weights',
          maxWidth: 320,
          showText: false,
        });
        list[k] = v;
        this.root.querySelector(`[data-row="${kind}"]`).append(v.el);
      }
      const v = list[k];
      v.el.querySelector('.fig-title').textContent = kind === 'untrained' ? T.untrainedHead(k) : T.nowHead(k, step);
      v.update({
        data: probe.data.subarray(k * n * n, (k + 1) * n * n),
        rows: n,
        cols: n,
        rowLabels: labels,
        colLabels: labels,
      });
    }
  }
}
