// Drawing one matrix with Observable Plot: up to CELLS_MAX cells as cell marks (one <rect> each, with
// data-i/j/value, numbers inside when they fit); above that, Plot draws the axes (token labels) and frame
// and the values are one image: a canvas of cols × rows pixels coloured through a lookup table, placed on
// the frame, so a 1024 × 1024 map costs one array pass. Both return the same geometry for hover and keys.
import * as Plot from '@observablehq/plot';
import { S } from './strings.js';
import { h, fmt } from './util.js';
import { lut, mapping, index, textOn, MASKED_FILL, MASKED_RGBA } from './colors.js';

export const CELLS_MAX = 1024; // 32 × 32: beyond, one image (per-cell elements cost more than they give)
const SCHEMES = { weights: 'viridis', signed: 'puor' };
const clip = (s, n = 12) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

function legend(kind, map, mode) {
  const label = mode === 'row' ? S.legendRow : kind === 'weights' ? S.legendWeights : S.legendValue;
  const color = map.log
    ? { type: 'log', scheme: SCHEMES[kind], domain: map.legend, label }
    : { type: 'linear', scheme: SCHEMES[kind], domain: map.legend, label };
  const svg = Plot.legend({
    color,
    width: 260,
    height: 46,
    marginTop: 16,
    marginBottom: 18,
    marginLeft: 0,
    ticks: 4,
    tickFormat: map.log ? (v) => String(+v.toPrecision(1)) : (v) => fmt(v, 2),
    style: { fontSize: '11px', background: 'transparent' },
  });
  return svg;
}

/** Plot's marks put aria-label/aria-description on <g>s and <rect>s without a role (axe: aria-prohibited-attr). */
export function tidy(svg) {
  svg.querySelectorAll(':not(svg)[aria-label], [aria-description]').forEach((g) => {
    g.removeAttribute('aria-label');
    g.removeAttribute('aria-description');
  });
  return svg;
}

/**
 * m = {data, rows, cols, rowLabels, colLabels}; opts = {kind, mode, decimals, showText, room, maxWidth}.
 * → {svg, canvas?, legend, geo: {left, top, cell, cellH, rows, cols}, cells?: Map "i,j" → rect}
 */
export function drawMatrix(m, opts) {
  const { data, rows, cols, rowLabels, colLabels } = m;
  const { kind, mode, decimals } = opts;
  const table = lut(SCHEMES[kind]);
  const map = mapping(kind, mode, data, rows, cols);
  const raster = rows * cols > CELLS_MAX;
  const longest = Math.min(12, Math.max(...rowLabels.map((s) => s.length), 1));
  const marginLeft = Math.min(110, 14 + longest * 7.2);
  const avail = Math.max(160, Math.min(opts.maxWidth, opts.room - 4)) - marginLeft - 8;
  let cell, cellH;
  if (raster) {
    cell = Math.min(8, avail / cols);
    cellH = Math.min(8, Math.max(cell, 240 / rows), avail / Math.max(rows, 1));
  } else {
    cell = Math.max(12, Math.min(cols <= 4 ? 68 : 58, Math.floor(avail / cols)));
    cellH = Math.min(cell, 40);
  }
  // Column labels: every `stride`-th one, so they never overlap (≥ 14 px apart when rotated).
  const maxCol = Math.min(12, Math.max(...colLabels.map((s) => s.length), 1));
  const rotate = maxCol * 7.2 > cell;
  const xStride = Math.max(1, Math.ceil((rotate ? 14 : maxCol * 7.2 + 6) / cell));
  const yStride = Math.max(1, Math.ceil(14 / cellH));
  const marginTop = rotate ? Math.min(90, 18 + maxCol * 5.5) : 28;
  const width = marginLeft + cols * cell + 8;
  const height = marginTop + rows * cellH + 6;
  const geo = { left: marginLeft, top: marginTop, cell, cellH, rows, cols, width, height };
  const ticks = (n, stride) => Array.from({ length: Math.ceil(n / stride) }, (_, k) => k * stride + 0.5);
  const axes = {
    x: {
      type: 'linear',
      domain: [0, cols],
      axis: 'top',
      ticks: ticks(cols, xStride),
      tickFormat: (v) => clip(colLabels[Math.floor(v)] ?? ''),
      tickRotate: rotate ? -90 : 0,
      label: null,
      tickSize: 0,
    },
    y: {
      type: 'linear',
      domain: [0, rows],
      reverse: true,
      ticks: ticks(rows, yStride),
      tickFormat: (v) => clip(rowLabels[Math.floor(v)] ?? ''),
      label: null,
      tickSize: 0,
    },
  };
  const frame = {
    width,
    height,
    marginLeft,
    marginTop,
    marginRight: 8,
    marginBottom: 6,
    style: { fontSize: '12px', background: 'transparent' },
    ...axes,
  };
  const rgbOf = (v, i) => {
    const k = index(map.t(v, i)) * 3;
    return [table.rgb[k], table.rgb[k + 1], table.rgb[k + 2]];
  };
  let svg,
    canvas = null;
  if (raster) {
    svg = Plot.plot({ ...frame, marks: [Plot.frame({ stroke: 'currentColor', strokeOpacity: 0.25 })] });
    canvas = h('canvas', { class: 'hm-image', width: cols, height: rows, 'aria-hidden': 'true' });
    Object.assign(canvas.style, {
      left: `${marginLeft}px`,
      top: `${marginTop}px`,
      width: `${cols * cell}px`,
      height: `${rows * cellH}px`,
    });
    const img = new ImageData(cols, rows);
    const px = new Uint32Array(img.data.buffer); // one RGBA pixel per store (little-endian, as every browser is)
    const rgba = table.rgba;
    const top = 255; // the table's last index
    const real = m.real ?? Infinity; // rows/columns from here on are padding: grey
    for (let i = 0, k = 0; i < rows; i++) {
      const [a, b] = map.affine ? map.affine(i) : [0, 0];
      for (let j = 0; j < cols; j++, k++) {
        const v = data[k];
        if (v === v && v !== Infinity && v !== -Infinity && i < real && j < real) {
          let c = map.affine ? ((a * v + b) * top + 0.5) | 0 : index(map.t(v, i));
          px[k] = rgba[c < 0 ? 0 : c > top ? top : c];
        } else px[k] = MASKED_RGBA;
      }
    }
    canvas.getContext('2d').putImageData(img, 0, 0);
  } else {
    const all = [];
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) all.push({ i, j, v: data[i * cols + j] });
    const chars = Math.max(...all.map((c) => fmt(c.v, decimals).length));
    const fontSize = cell >= 56 ? 12 : 10.5;
    const showText = opts.showText ?? (chars * fontSize * 0.6 + 6 <= cell && rows * cols <= 196);
    const real = m.real ?? Infinity;
    const shown = (d) => Number.isFinite(d.v) && d.i < real && d.j < real;
    const fill = (d) => (shown(d) ? `rgb(${rgbOf(d.v, d.i).join(',')})` : MASKED_FILL);
    const rectOf = { x1: (d) => d.j + 0.02, x2: (d) => d.j + 0.98, y1: (d) => d.i + 0.02, y2: (d) => d.i + 0.98 };
    svg = Plot.plot({
      ...frame,
      marks: [
        Plot.rect(all, { ...rectOf, fill, className: 'hm-cells' }),
        showText
          ? Plot.text(all, {
              x: (d) => d.j + 0.5,
              y: (d) => d.i + 0.5,
              text: (d) => fmt(d.v, decimals),
              fill: (d) => (shown(d) ? textOn(rgbOf(d.v, d.i)) : 'rgb(0,0,0)'),
              fontSize,
              pointerEvents: 'none',
              ariaHidden: 'true',
            })
          : null,
      ],
    });
    const rects = svg.querySelectorAll('g.hm-cells rect');
    rects.forEach((r, k) => {
      const c = all[k];
      r.dataset.i = c.i;
      r.dataset.j = c.j;
      r.dataset.value = Number.isFinite(c.v) ? c.v : '-inf';
      r.classList.add('hm-cell');
    });
  }
  tidy(svg);
  svg.setAttribute('role', 'img');
  return { svg, canvas, legend: legend(kind, map, mode), geo };
}
