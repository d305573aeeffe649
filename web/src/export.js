// "Take it with you": every chart's picture as SVG and PNG, its numbers as CSV and JSON, as downloads.
import { S } from './strings.js';
import { h } from './util.js';

const SVG_NS = 'http://www.w3.org/2000/svg';

/** A standalone SVG document for a chart: the svg, an optional raster (canvas) placed at box, a title. */
export function svgDocument(svg, { canvas, box, title } = {}) {
  const copy = svg.cloneNode(true);
  copy.setAttribute('xmlns', SVG_NS);
  copy.setAttribute('xmlns:xlink', 'http://www.w3.org/1999/xlink');
  if (!copy.getAttribute('viewBox'))
    copy.setAttribute('viewBox', `0 0 ${svg.getAttribute('width')} ${svg.getAttribute('height')}`);
  copy.style.background = '#ffffff';
  copy.style.color = '#1b1f24';
  if (canvas && box) {
    const img = document.createElementNS(SVG_NS, 'image');
    img.setAttribute('href', canvas.toDataURL('image/png'));
    for (const [k, v] of Object.entries(box)) img.setAttribute(k, String(v));
    img.setAttribute('preserveAspectRatio', 'none');
    img.setAttribute('style', 'image-rendering: pixelated');
    copy.insertBefore(img, copy.querySelector('g') || null);
  }
  if (title) {
    const t = document.createElementNS(SVG_NS, 'title');
    t.textContent = title;
    copy.prepend(t);
  }
  return new XMLSerializer().serializeToString(copy);
}

/** SVG text → PNG blob at `scale`× (on a white background). */
export async function pngFromSvg(text, width, height, scale = 2) {
  const url = URL.createObjectURL(new Blob([text], { type: 'image/svg+xml' }));
  try {
    const img = new Image();
    img.src = url;
    await img.decode();
    const canvas = document.createElement('canvas');
    canvas.width = Math.ceil(width * scale);
    canvas.height = Math.ceil(height * scale);
    const ctx = canvas.getContext('2d');
    ctx.fillStyle = '#ffffff';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
    return await new Promise((resolve) => canvas.toBlob(resolve, 'image/png'));
  } finally {
    URL.revokeObjectURL(url);
  }
}

export function download(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: filename, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

const cell = (v) => (v === -Infinity ? '-inf' : v === Infinity ? 'inf' : Number.isNaN(v) ? 'nan' : String(v));
const quote = (s) => (/[",\n]/.test(s) ? `"${String(s).replace(/"/g, '""')}"` : String(s));

/** A matrix as CSV: a header of column labels, then one line per row (its label, then its values). */
export function matrixCsv({ data, rows, cols, rowLabels, colLabels }) {
  const lines = [['', ...colLabels].map(quote).join(',')];
  for (let i = 0; i < rows; i++) {
    const vals = Array.from(data.subarray(i * cols, (i + 1) * cols), cell);
    lines.push([quote(rowLabels[i]), ...vals].join(','));
  }
  return lines.join('\n') + '\n';
}

/** A matrix as JSON: labels, shape and nested values (−∞ as the string "-inf", as the page's data attributes). */
export function matrixJson({ data, rows, cols, rowLabels, colLabels }, title) {
  const values = Array.from({ length: rows }, (_, i) =>
    Array.from(data.subarray(i * cols, (i + 1) * cols), (v) => (Number.isFinite(v) ? v : cell(v))),
  );
  return JSON.stringify({ title, shape: [rows, cols], rowLabels, colLabels, values });
}

/**
 * A small "Export" menu (a disclosure: one tab stop per chart) with PNG, SVG, CSV and JSON buttons.
 * source() → { name, svgText, width, height, csv, json } or null when nothing is drawn yet.
 */
export function exportMenu(title, source) {
  const run = async (kind) => {
    const s = source();
    if (!s) return;
    const base = s.name || 'chart';
    if (kind === 'svg') download(new Blob([s.svgText()], { type: 'image/svg+xml' }), `${base}.svg`);
    else if (kind === 'png') download(await pngFromSvg(s.svgText(), s.width, s.height), `${base}.png`);
    else if (kind === 'csv') download(new Blob([s.csv()], { type: 'text/csv' }), `${base}.csv`);
    else download(new Blob([s.json()], { type: 'application/json' }), `${base}.json`);
  };
  const button = (kind) =>
    h(
      'button',
      { type: 'button', class: 'small', dataset: { export: kind }, onclick: () => run(kind) },
      S.exportAs[kind],
      h('span', { class: 'sr-only' }, S.exportOf(title)),
    );
  return h(
    'details',
    { class: 'export' },
    h('summary', null, S.exportLabel, h('span', { class: 'sr-only' }, S.exportOf(title))),
    h('div', { class: 'export-buttons' }, ['png', 'svg', 'csv', 'json'].map(button)),
  );
}
