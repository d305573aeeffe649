// Bars and a bertviz-style lines view (Observable Plot); the heatmaps are MatrixView (matrix-view.js).
// Colour scales are colour-blind safe: viridis for weights (sequential), PuOr for signed values.
import * as Plot from '@observablehq/plot';
import { S } from './strings.js';
import { h, fmt } from './util.js';
import { tidy } from './heatmap.js';
import { MatrixView, trackWidth, roomOf } from './matrix-view.js';
import { exportMenu, svgDocument, matrixCsv, matrixJson } from './export.js';

export { MatrixView };

/** Horizontal bars (one per token), e.g. the attention weights of one query. */
export function barsChart({ labels, values, title, max = Math.max(...values) }) {
  const svg = Plot.plot({
    width: 320,
    height: 24 * labels.length + 34,
    marginLeft: 60,
    marginRight: 52,
    marginTop: 24,
    style: { fontSize: '12px', background: 'transparent' },
    x: { domain: [0, max], axis: 'top', label: null, ticks: 4, tickFormat: (v) => fmt(v, 1) },
    y: { domain: labels, label: null, tickSize: 0 },
    color: { type: 'linear', scheme: 'viridis', domain: [0, max] },
    marks: [
      Plot.barX(
        labels.map((l, k) => ({ l, v: values[k] })),
        { x: 'v', y: 'l', fill: 'v', title: (d) => `${d.l}: ${fmt(d.v)}` },
      ),
      Plot.text(
        labels.map((l, k) => ({ l, v: values[k] })),
        { x: 'v', y: 'l', text: (d) => fmt(d.v), textAnchor: 'start', dx: 4 },
      ),
      Plot.ruleX([0]),
    ],
  });
  tidy(svg);
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', `${title}: ${labels.map((l, k) => `${l} ${fmt(values[k])}`).join(', ')}`);
  return h('figure', { class: 'bars' }, h('figcaption', null, title), svg);
}

/** bertviz-style lines: query tokens on the left, key tokens on the right, line opacity = weight. */
export class LinesView {
  constructor({ title }) {
    this.title = title;
    this.focus = null;
    this.note = h('p', { class: 'fig-note', hidden: true });
    this.chart = h('div', { class: 'chart lines' });
    this.el = h(
      'figure',
      { class: 'lines-view' },
      h(
        'figcaption',
        null,
        h('span', { class: 'fig-title' }, title),
        h(
          'span',
          { class: 'fig-tools' },
          exportMenu(title, () => this.exportSource()),
        ),
      ),
      this.note,
      this.chart,
    );
    trackWidth(this, this.el);
  }

  update({ data, n, tokens }) {
    this.m = { data, n, tokens };
    this.render();
  }

  highlight(i) {
    this.focus = i;
    if (this.m) this.render();
  }

  render() {
    const { data, n, tokens } = this.m;
    if (n > 40) {
      this.note.hidden = false;
      this.note.textContent = S.linesTooMany(n);
      this.chart.replaceChildren();
      this.svg = null;
      return;
    }
    this.note.hidden = true;
    const links = [];
    let max = 0;
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) {
        const v = data[i * n + j];
        if (v > 0) links.push({ i, j, v });
        if (v > max) max = v;
      }
    const f = this.focus;
    const shown = f === null ? links : links.filter((l) => l.i === f);
    const idx = tokens.map((_, k) => k);
    const labelW = Math.min(120, 16 + Math.max(...tokens.map((t) => t.length)) * 7.5);
    const room = roomOf(this, 360);
    const middle = Math.max(60, Math.min(280, room - 2 * labelW - 4));
    const svg = Plot.plot({
      width: 2 * labelW + middle,
      height: Math.max(80, n * 26 + 16),
      marginLeft: labelW,
      marginRight: labelW,
      marginTop: 8,
      marginBottom: 8,
      style: { fontSize: '12px', background: 'transparent' },
      x: { axis: null, domain: [0, 1] },
      y: { axis: null, type: 'point', domain: idx, padding: 0.5 },
      opacity: { domain: [0, max || 1], range: [0, 1] },
      marks: [
        Plot.link(shown, {
          x1: 0,
          y1: 'i',
          x2: 1,
          y2: 'j',
          stroke: 'currentColor', // the page's ink (readable in light and dark)
          strokeOpacity: 'v',
          strokeWidth: (d) => 1 + (3 * d.v) / (max || 1),
          title: (d) => S.cellTitle(tokens[d.i], tokens[d.j], fmt(d.v)),
        }),
        Plot.text(idx, {
          x: 0,
          y: (k) => k,
          text: (k) => tokens[k],
          textAnchor: 'end',
          dx: -8,
          fontWeight: (k) => (k === f ? 'bold' : 'normal'),
        }),
        Plot.text(idx, { x: 1, y: (k) => k, text: (k) => tokens[k], textAnchor: 'start', dx: 8 }),
      ],
    });
    tidy(svg);
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', S.linesAria(this.title));
    svg.dataset.links = shown.length;
    this.svg = svg;
    this.chart.replaceChildren(svg);
  }

  exportSource() {
    if (!this.m) return null;
    const { data, n, tokens } = this.m;
    const m = { data, rows: n, cols: n, rowLabels: tokens, colLabels: tokens };
    const drawn = n <= 40 && this.svg;
    return {
      name: 'lines-view',
      width: drawn ? +this.svg.getAttribute('width') : 0,
      height: drawn ? +this.svg.getAttribute('height') : 0,
      svgText: () => (drawn ? svgDocument(this.svg, { title: this.title }) : ''),
      csv: () => matrixCsv(m),
      json: () => matrixJson(m, this.title),
    };
  }
}
