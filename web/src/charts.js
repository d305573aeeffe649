// Heatmaps (Observable Plot cell marks) with a table view, and a bertviz-style lines view.
// Colour scales are colour-blind safe: viridis for weights (sequential), PuOr for signed values
// (diverging around 0). Every drawn cell carries data-i / data-j / data-value for tests and tools.
import * as Plot from '@observablehq/plot';
import { S } from './strings.js';
import { h, fmt, nextId, dataJson } from './util.js';

const MASKED_FILL = '#d9dce1';
// Above this many cells a heatmap is drawn as one raster image (fast), and the table view shows the top-left corner.
const RASTER_CELLS = 2500;
const TABLE_MAX = 60;

/**
 * Width of a view's box without forcing a layout on every render: measured once, then kept up to date by
 * a ResizeObserver, which re-renders the view when its width changes noticeably (responsive charts).
 */
function trackWidth(view, el) {
  view.room = null;
  if (typeof ResizeObserver !== 'function') return;
  new ResizeObserver((entries) => {
    const w = Math.round(entries[0].contentRect.width);
    if (!w) return;
    const changed = view.room !== null && Math.abs(w - view.room) > 24;
    view.room = w;
    if (changed && view.m) view.render();
  }).observe(el);
}
const roomOf = (view, fallback) =>
  (view.room ||= view.el.clientWidth || view.el.parentElement?.clientWidth || fallback);

function textColor(kind, v, lo, hi) {
  if (!Number.isFinite(v)) return '#333';
  if (kind === 'weights') return (v - lo) / (hi - lo || 1) < 0.6 ? '#fff' : '#111';
  const m = Math.max(Math.abs(lo), Math.abs(hi)) || 1;
  return Math.abs(v) / m > 0.62 ? '#fff' : '#111';
}

/**
 * A titled matrix with a heatmap and a table view (toggle).
 * kind: "weights" (0…max, viridis) | "signed" (diverging PuOr around 0).
 */
export class MatrixView {
  constructor({ title, name, kind = 'signed', note, decimals = 4, showText, maxWidth = 560 }) {
    this.title = title;
    this.kind = kind;
    this.decimals = decimals;
    this.showText = showText;
    this.maxWidth = maxWidth;
    this.mode = 'chart';
    this.focus = { i: null, j: null };
    const tableId = nextId('table');
    this.toggle = h('button', {
      type: 'button',
      class: 'toggle',
      'aria-pressed': 'false',
      'aria-controls': tableId,
      'aria-label': S.tableToggleLabel(title),
      text: S.showTable,
      onclick: () => this.setMode(this.mode === 'chart' ? 'table' : 'chart'),
    });
    this.chart = h('div', { class: 'chart' });
    this.legend = h('div', { class: 'legend', 'aria-hidden': 'true' });
    this.table = h('div', { class: 'table-wrap', id: tableId, hidden: true });
    this.el = h(
      'figure',
      { class: 'matrix-view', dataset: { name: name || '', kind } },
      h('figcaption', null, h('span', { class: 'fig-title' }, title), this.toggle),
      note ? h('p', { class: 'fig-note' }, note) : null,
      this.chart,
      this.legend,
      this.table,
    );
    trackWidth(this, this.el);
    this.onHover = (i, j) => this.highlight(i, j); // playground views replace this to sync their siblings
  }

  render() {
    this.renderChart();
  }

  setMode(mode) {
    this.mode = mode;
    const table = mode === 'table';
    this.toggle.setAttribute('aria-pressed', String(table));
    this.toggle.textContent = table ? S.showChart : S.showTable;
    this.chart.hidden = table;
    this.legend.hidden = table;
    this.table.hidden = !table;
    if (table && this.m) this.renderTable();
  }

  /** m = { data: Float32Array (rows·cols), rows, cols, rowLabels, colLabels } */
  update(m) {
    this.m = m;
    this.el.dataset.rows = m.rows;
    this.el.dataset.cols = m.cols;
    if (m.data.length <= 10000) this.el.dataset.values = dataJson(m.data);
    else delete this.el.dataset.values;
    this.renderChart();
    if (this.mode === 'table') this.renderTable();
  }

  renderChart() {
    const { data, rows, cols } = this.m;
    const rowLabels = this.m.rowLabels || Array.from({ length: rows }, (_, i) => String(i + 1));
    const colLabels = this.m.colLabels || Array.from({ length: cols }, (_, j) => String(j + 1));
    const cells = [];
    let lo = Infinity,
      hi = -Infinity;
    for (let i = 0; i < rows; i++)
      for (let j = 0; j < cols; j++) {
        const v = data[i * cols + j];
        cells.push({ i, j, v });
        if (Number.isFinite(v)) {
          if (v < lo) lo = v;
          if (v > hi) hi = v;
        }
      }
    if (lo === Infinity) {
      lo = 0;
      hi = 1;
    }
    const finite = cells.filter((c) => Number.isFinite(c.v));
    const masked = cells.filter((c) => !Number.isFinite(c.v));
    const weights = this.kind === 'weights';
    const color = weights
      ? { type: 'linear', scheme: 'viridis', domain: [0, Math.max(hi, 1e-6)], label: S.legendWeights }
      : {
          type: 'diverging',
          scheme: 'puor',
          pivot: 0,
          symmetric: true,
          domain: [Math.min(lo, 0), Math.max(hi, 0)],
          label: S.legendValue,
        };
    if (rows * cols > RASTER_CELLS) return this.renderRaster(color, rows, cols);
    const longest = Math.max(...rowLabels.map((s) => s.length), 1);
    const marginLeft = Math.min(110, 14 + longest * 7.5);
    const room = roomOf(this, this.maxWidth);
    const avail = Math.max(160, Math.min(this.maxWidth, room - 4)) - marginLeft - 8;
    const cell = Math.max(12, Math.min(cols <= 4 ? 68 : 58, Math.floor(avail / cols)));
    const maxCol = Math.max(...colLabels.map((s) => s.length));
    const rotate = maxCol * 7.2 > cell;
    const marginTop = rotate ? Math.min(90, 18 + maxCol * 5.5) : 28;
    // Numbers inside the cells only when they fit (≈0.6 em per character).
    const chars = Math.max(...cells.map((c) => fmt(c.v, this.decimals).length));
    const fontSize = cell >= 56 ? 12 : 10.5;
    const showText = this.showText ?? (chars * fontSize * 0.6 + 6 <= cell && rows * cols <= 196);
    const title = (d) => S.cellTitle(rowLabels[d.i], colLabels[d.j], fmt(d.v, this.decimals));
    const svg = Plot.plot({
      width: marginLeft + cols * cell + 8,
      height: marginTop + rows * Math.min(cell, 40) + 6,
      marginLeft,
      marginTop,
      marginRight: 8,
      marginBottom: 6,
      style: { fontSize: '12px', background: 'transparent' },
      x: {
        type: 'band',
        domain: colLabels.map((_, j) => j),
        axis: 'top',
        tickFormat: (j) => colLabels[j],
        tickRotate: rotate ? -45 : 0,
        label: null,
        padding: 0.04,
        tickSize: 0,
      },
      y: {
        type: 'band',
        domain: rowLabels.map((_, i) => i),
        tickFormat: (i) => rowLabels[i],
        label: null,
        padding: 0.04,
        tickSize: 0,
      },
      color,
      marks: [
        Plot.cell(finite, { x: 'j', y: 'i', fill: 'v', title, ariaDescription: 'values' }),
        Plot.cell(masked, { x: 'j', y: 'i', fill: MASKED_FILL, title, ariaDescription: 'masked' }),
        showText
          ? Plot.text(cells, {
              x: 'j',
              y: 'i',
              text: (d) => fmt(d.v, this.decimals),
              fill: (d) => textColor(this.kind, d.v, weights ? 0 : lo, hi),
              fontSize,
              pointerEvents: 'none',
              ariaHidden: 'true',
            })
          : null,
      ],
    });
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', S.chartAria(this.title, rows, cols));
    const groups = svg.querySelectorAll('g[aria-description="values"], g[aria-description="masked"]');
    const tag = (g, list) =>
      g &&
      g.querySelectorAll('rect').forEach((r, k) => {
        const c = list[k];
        r.dataset.i = c.i;
        r.dataset.j = c.j;
        r.dataset.value = Number.isFinite(c.v) ? c.v : '-inf';
        r.classList.add('hm-cell');
      });
    tag(groups[0], finite);
    tag(groups[1], masked);
    svg.addEventListener('pointerover', (e) => {
      const r = e.target.closest?.('rect.hm-cell');
      if (r) this.onHover?.(+r.dataset.i, +r.dataset.j);
    });
    svg.addEventListener('pointerleave', () => this.onHover?.(null, null));
    this.svg = svg;
    this.chart.replaceChildren(svg);
    this.legend.replaceChildren(
      Plot.legend({
        color: { ...color },
        width: 260,
        height: 46,
        marginTop: 16,
        marginBottom: 18,
        marginLeft: 0,
        ticks: 4,
        tickFormat: (v) => fmt(v, 2),
        style: { fontSize: '11px', background: 'transparent' },
      }),
    );
    this.applyHighlight();
  }

  /** Large matrices: one image (Plot raster), numeric axes, no per-cell elements. */
  renderRaster(color, rows, cols) {
    const { data } = this.m;
    const room = roomOf(this, this.maxWidth);
    const size = Math.max(160, Math.min(this.maxWidth, room - 4) - 50);
    const cell = Math.max(1, Math.min(8, size / Math.max(rows, cols)));
    const values = Array.from(data, (v) => (Number.isFinite(v) ? v : NaN));
    const svg = Plot.plot({
      width: cols * cell + 50,
      height: rows * cell + 40,
      marginLeft: 42,
      marginTop: 30,
      marginRight: 8,
      marginBottom: 8,
      style: { fontSize: '11px', background: 'transparent' },
      x: { domain: [0, cols], axis: 'top', label: null, ticks: 5 },
      y: { domain: [0, rows], reverse: true, label: null, ticks: 5 },
      color,
      marks: [
        Plot.frame({ fill: MASKED_FILL, stroke: null }),
        Plot.raster(values, {
          width: cols,
          height: rows,
          x1: 0,
          x2: cols,
          y1: 0,
          y2: rows,
          imageRendering: 'pixelated',
        }),
      ],
    });
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', S.chartAria(this.title, rows, cols));
    svg.dataset.raster = 'true';
    this.svg = svg;
    this.chart.replaceChildren(svg);
    this.legend.replaceChildren(
      Plot.legend({
        color: { ...color },
        width: 260,
        height: 46,
        marginTop: 16,
        marginBottom: 18,
        marginLeft: 0,
        ticks: 4,
        tickFormat: (v) => fmt(v, 2),
        style: { fontSize: '11px', background: 'transparent' },
      }),
    );
  }

  renderTable() {
    const { data, cols } = this.m;
    const rows = Math.min(this.m.rows, TABLE_MAX),
      shownCols = Math.min(cols, TABLE_MAX);
    const rowLabels = (this.m.rowLabels || Array.from({ length: rows }, (_, i) => String(i + 1))).slice(0, rows);
    const colLabels = (this.m.colLabels || Array.from({ length: cols }, (_, j) => String(j + 1))).slice(0, shownCols);
    const cut = rows < this.m.rows || shownCols < cols;
    const table = h(
      'table',
      { class: 'matrix-table' },
      h('caption', null, this.title, cut ? ` — ${S.tableCut(rows, shownCols, this.m.rows, cols)}` : ''),
      h(
        'thead',
        null,
        h(
          'tr',
          null,
          h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, S.rowHeader)),
          colLabels.map((c) => h('th', { scope: 'col' }, c)),
        ),
      ),
      h(
        'tbody',
        null,
        rowLabels.map((r, i) =>
          h(
            'tr',
            { dataset: { i } },
            h('th', { scope: 'row' }, r),
            colLabels.map((_, j) => {
              const v = data[i * cols + j];
              return h(
                'td',
                {
                  dataset: { i, j, value: Number.isFinite(v) ? v : '-inf' },
                  class: Number.isFinite(v) ? (v < 0 ? 'neg' : '') : 'masked',
                },
                fmt(v, this.decimals),
              );
            }),
          ),
        ),
      ),
    );
    this.table.replaceChildren(table);
    this.applyHighlight();
  }

  /** Highlight row i and column j (either may be null). */
  highlight(i, j) {
    this.focus = { i, j };
    this.applyHighlight();
  }

  applyHighlight() {
    const { i, j } = this.focus;
    const on = i !== null || j !== null;
    this.el.classList.toggle('has-focus', on);
    const mark = (el) => {
      const hit = on && ((i !== null && +el.dataset.i === i) || (j !== null && +el.dataset.j === j));
      el.classList.toggle('hl', hit);
    };
    this.svg?.querySelectorAll('rect.hm-cell').forEach(mark);
    this.table.querySelectorAll('td').forEach(mark);
  }
}

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
      h('figcaption', null, h('span', { class: 'fig-title' }, title)),
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
          stroke: '#3b528b',
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
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', S.linesAria(this.title));
    svg.dataset.links = shown.length;
    this.chart.replaceChildren(svg);
  }
}
