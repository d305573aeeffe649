// A titled matrix: heatmap (heatmap.js) with hover and keyboard read-out of the exact value at any size,
// a selectable colour scale, a table view (toggle), and an export menu (PNG, SVG, CSV, JSON).
// Every drawn cell of a small matrix carries data-i / data-j / data-value for tests and tools.
import { S } from './strings.js';
import { h, fmt, nextId, dataJson } from './util.js';
import { drawMatrix } from './heatmap.js';
import { exportMenu, svgDocument, matrixCsv, matrixJson } from './export.js';

const TABLE_MAX = 60;
const labelsOf = (n, given) => given || Array.from({ length: n }, (_, k) => String(k + 1));

/** Width of a view's box, kept up to date by a ResizeObserver that re-renders on a noticeable change. */
export function trackWidth(view, el) {
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
export const roomOf = (view, fallback) =>
  (view.room ||= view.el.clientWidth || view.el.parentElement?.clientWidth || fallback);

/** kind: "weights" (viridis, 0…max) | "signed" (PuOr around 0). scale: "linear" | "row" | "log". */
export class MatrixView {
  constructor({ title, name, kind = 'signed', note, decimals = 4, showText, maxWidth = 560, scale = 'linear' }) {
    Object.assign(this, { title, name, kind, decimals, showText, maxWidth, scale });
    this.mode = 'chart';
    this.focus = { i: null, j: null };
    this.cursor = null;
    const tableId = nextId('table');
    this.toggle = h(
      'button',
      {
        type: 'button',
        class: 'toggle',
        'aria-pressed': 'false',
        'aria-controls': tableId,
        onclick: () => this.setMode(this.mode === 'chart' ? 'table' : 'chart'),
      },
      S.showTable,
      h('span', { class: 'sr-only' }, S.tableOf(title)),
    );
    this.readout = h('output', { class: 'readout', 'aria-live': 'polite' });
    this.chart = h('div', {
      class: 'chart',
      tabindex: '0',
      role: 'application',
      'aria-roledescription': S.heatmapRole,
      onkeydown: (e) => this.key(e),
      onfocus: () => this.moveCursor(this.cursor ?? { i: 0, j: 0 }),
      onblur: () => this.moveCursor(null),
      onpointermove: (e) => this.pointer(e),
      onpointerleave: () => this.onHover?.(null, null),
    });
    this.legend = h('div', { class: 'legend', 'aria-hidden': 'true' });
    this.table = h('div', {
      class: 'table-wrap',
      id: tableId,
      hidden: true,
      tabindex: '0', // scrollable: reachable by keyboard (its table has a caption)
    });
    this.exporter = exportMenu(title, () => this.exportSource());
    this.el = h(
      'figure',
      { class: 'matrix-view', dataset: { name: name || '', kind, scale } },
      h(
        'figcaption',
        null,
        h('span', { class: 'fig-title' }, title),
        h('span', { class: 'fig-tools' }, this.toggle, this.exporter),
      ),
      note ? h('p', { class: 'fig-note' }, note) : null,
      this.chart,
      this.readout,
      this.legend,
      this.table,
    );
    trackWidth(this, this.el);
    this.onHover = (i, j) => this.highlight(i, j); // the playground replaces this to sync its views
  }

  setMode(mode) {
    this.mode = mode;
    const table = mode === 'table';
    this.toggle.setAttribute('aria-pressed', String(table));
    this.chart.hidden = table;
    this.legend.hidden = table;
    this.readout.hidden = table;
    this.table.hidden = !table;
    if (table && this.m) this.renderTable();
  }

  setScale(scale) {
    this.scale = scale;
    this.el.dataset.scale = scale;
    if (this.m) this.render();
  }

  /** m = { data: Float32Array (rows·cols), rows, cols, rowLabels, colLabels } */
  update(m) {
    this.m = { ...m, rowLabels: labelsOf(m.rows, m.rowLabels), colLabels: labelsOf(m.cols, m.colLabels) };
    this.el.dataset.rows = m.rows;
    this.el.dataset.cols = m.cols;
    if (m.data.length <= 10000) this.el.dataset.values = dataJson(m.data);
    else delete this.el.dataset.values;
    if (this.cursor && (this.cursor.i >= m.rows || this.cursor.j >= m.cols)) this.cursor = { i: 0, j: 0 };
    this.render();
    if (this.mode === 'table') this.renderTable();
  }

  render() {
    const { rows, cols } = this.m;
    const d = drawMatrix(this.m, {
      kind: this.kind,
      mode: this.kind === 'weights' || this.scale === 'row' ? this.scale : 'linear',
      decimals: this.decimals,
      showText: this.showText,
      room: roomOf(this, this.maxWidth),
      maxWidth: this.maxWidth,
    });
    Object.assign(this, { svg: d.svg, canvas: d.canvas, geo: d.geo });
    d.svg.setAttribute('aria-label', S.chartAria(this.title, rows, cols));
    this.chart.setAttribute('aria-label', S.chartKeys(this.title, rows, cols));
    if (d.canvas) d.svg.dataset.raster = 'true';
    this.marker = h('div', { class: 'hm-cursor', hidden: true });
    this.bands = [h('div', { class: 'hm-band row', hidden: true }), h('div', { class: 'hm-band col', hidden: true })];
    const inner = h('div', { class: 'chart-inner', style: `width:${d.geo.width}px` }, d.svg, d.canvas, ...this.bands);
    inner.append(this.marker);
    this.chart.replaceChildren(inner);
    this.legend.replaceChildren(d.legend);
    this.applyHighlight();
    // The read-out follows the keyboard cursor; a hover read-out of the previous data is dropped.
    if (this.cursor && document.activeElement === this.chart) this.moveCursor(this.cursor);
    else this.readout.textContent = '';
  }

  cellAt(x, y) {
    const g = this.geo;
    const j = Math.floor((x - g.left) / g.cell),
      i = Math.floor((y - g.top) / g.cellH);
    return i >= 0 && j >= 0 && i < g.rows && j < g.cols ? { i, j } : null;
  }

  pointer(e) {
    if (!this.geo) return;
    const box = this.chart.firstChild.getBoundingClientRect();
    const c = this.cellAt(e.clientX - box.left, e.clientY - box.top);
    if (!c) return this.onHover?.(null, null);
    this.say(c);
    this.onHover?.(c.i, c.j);
  }

  key(e) {
    if (!this.m) return;
    const { rows, cols } = this.m;
    const c = { ...(this.cursor ?? { i: 0, j: 0 }) };
    const page = Math.max(1, Math.round(rows / 10));
    const moves = {
      ArrowUp: () => (c.i -= 1),
      ArrowDown: () => (c.i += 1),
      ArrowLeft: () => (c.j -= 1),
      ArrowRight: () => (c.j += 1),
      PageUp: () => (c.i -= page),
      PageDown: () => (c.i += page),
      Home: () => (c.j = 0),
      End: () => (c.j = cols - 1),
    };
    if (!moves[e.key]) return;
    e.preventDefault();
    moves[e.key]();
    c.i = Math.max(0, Math.min(rows - 1, c.i));
    c.j = Math.max(0, Math.min(cols - 1, c.j));
    this.moveCursor(c);
    this.onHover?.(c.i, c.j);
  }

  moveCursor(c) {
    this.cursor = c;
    if (!this.marker || !this.geo) return;
    this.marker.hidden = !c;
    if (!c) return;
    const g = this.geo;
    Object.assign(this.marker.style, {
      left: `${g.left + c.j * g.cell - 1}px`,
      top: `${g.top + c.i * g.cellH - 1}px`,
      width: `${Math.max(3, g.cell) + 2}px`,
      height: `${Math.max(3, g.cellH) + 2}px`,
    });
    this.say(c);
  }

  /** The exact value of cell (i, j) in the read-out (announced to screen readers). */
  say({ i, j }) {
    const { data, cols, rowLabels, colLabels } = this.m;
    const v = data[i * cols + j];
    const pad = this.m.real !== undefined && (i >= this.m.real || j >= this.m.real);
    this.readout.textContent = S.cellReadout(rowLabels[i], i, colLabels[j], j, pad ? S.padding : fmt(v, 6));
    this.readout.dataset.i = i;
    this.readout.dataset.j = j;
    this.readout.dataset.value = Number.isFinite(v) ? v : '-inf';
  }

  renderTable() {
    const { data, cols, rowLabels: allRows, colLabels: allCols } = this.m;
    const rows = Math.min(this.m.rows, TABLE_MAX),
      shownCols = Math.min(cols, TABLE_MAX);
    const rowLabels = allRows.slice(0, rows),
      colLabels = allCols.slice(0, shownCols);
    const cut = rows < this.m.rows || shownCols < cols;
    const td = (i, j) => {
      const v = data[i * cols + j];
      const cls = Number.isFinite(v) ? (v < 0 ? 'neg' : '') : 'masked';
      return h('td', { dataset: { i, j, value: Number.isFinite(v) ? v : '-inf' }, class: cls }, fmt(v, this.decimals));
    };
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
            colLabels.map((_, j) => td(i, j)),
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
    if (!this.canvas) this.svg?.querySelectorAll('rect.hm-cell').forEach(mark);
    else if (this.geo) {
      const g = this.geo;
      const [row, col] = this.bands;
      row.hidden = i === null;
      col.hidden = j === null;
      const band = Math.max(2, g.cellH);
      if (i !== null)
        Object.assign(row.style, {
          left: `${g.left}px`,
          top: `${g.top + i * g.cellH}px`,
          width: `${g.cols * g.cell}px`,
          height: `${band}px`,
        });
      if (j !== null)
        Object.assign(col.style, {
          left: `${g.left + j * g.cell}px`,
          top: `${g.top}px`,
          width: `${Math.max(2, g.cell)}px`,
          height: `${g.rows * g.cellH}px`,
        });
    }
    this.table.querySelectorAll('td').forEach(mark);
  }

  exportSource() {
    if (!this.m || !this.svg) return null;
    const g = this.geo;
    const box = { x: g.left, y: g.top, width: g.cols * g.cell, height: g.rows * g.cellH };
    return {
      name: this.name || 'matrix',
      width: g.width,
      height: g.height,
      svgText: () => svgDocument(this.svg, { canvas: this.canvas, box, title: this.title }),
      csv: () => matrixCsv(this.m),
      json: () => matrixJson(this.m, this.title),
    };
  }
}
