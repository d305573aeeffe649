// Colour scales as 256-entry lookup tables built from Observable Plot's own schemes (viridis for weights,
// PuOr for signed values), so one image of a million cells is coloured with array reads, and a cell's
// number gets the text colour (near-black or white) with the higher contrast on that exact fill.
import * as Plot from '@observablehq/plot';

const STEPS = 256;
export const MASKED_RGB = [217, 220, 225]; // −∞ (masked) cells: light grey, the same in both colour schemes
export const MASKED_FILL = `rgb(${MASKED_RGB.join(',')})`;
export const MASKED_RGBA = (255 << 24) | (MASKED_RGB[2] << 16) | (MASKED_RGB[1] << 8) | MASKED_RGB[0];
const DARK_TEXT = [0, 0, 0];
const LIGHT_TEXT = [255, 255, 255];

function parse(color) {
  const hex = /^#([0-9a-f]{6})$/i.exec(color);
  if (hex) {
    const n = parseInt(hex[1], 16);
    return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
  }
  const m = color.match(/[\d.]+/g);
  return m ? m.slice(0, 3).map(Number) : [0, 0, 0];
}

const cache = new Map();
/** {rgb: Uint8Array(256·3), css: string[256], rgba: Uint32Array(256)} for a scheme over t ∈ [0, 1]. */
export function lut(scheme) {
  if (cache.has(scheme)) return cache.get(scheme);
  const scale = Plot.scale({ color: { type: 'linear', scheme, domain: [0, 1] } });
  const rgb = new Uint8Array(STEPS * 3);
  const css = [];
  for (let k = 0; k < STEPS; k++) {
    const c = parse(scale.apply(k / (STEPS - 1)));
    rgb.set(c, k * 3);
    css.push(`rgb(${c.join(',')})`);
  }
  // The same colours as 32-bit RGBA pixels (little-endian ABGR), one store per pixel in an image loop.
  const rgba = new Uint32Array(STEPS);
  for (let k = 0; k < STEPS; k++) rgba[k] = (255 << 24) | (rgb[k * 3 + 2] << 16) | (rgb[k * 3 + 1] << 8) | rgb[k * 3];
  const table = { rgb, css, rgba };
  cache.set(scheme, table);
  return table;
}

function luminance([r, g, b]) {
  const f = (c) => {
    c /= 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
}
export const contrast = (a, b) => {
  const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p);
  return (x + 0.05) / (y + 0.05);
};

/** The text colour with the higher WCAG contrast on an [r, g, b] fill (≥ 4.58:1 on any fill). */
export const textOn = (rgb) =>
  contrast(rgb, DARK_TEXT) >= contrast(rgb, LIGHT_TEXT) ? 'rgb(0,0,0)' : 'rgb(255,255,255)';

/**
 * The mapping from a value to a position t ∈ [0, 1] on the scheme, for one matrix.
 * mode: "linear" (0…max for weights, −m…m for signed), "row" (each row over its own maximum |value|),
 * "log" (weights only: log10 from max·1e-4 to max; smaller values take the darkest colour).
 * affine(i) → [a, b] with t = a·v + b for row i (every mode but log): the image loop's fast path.
 */
export function mapping(kind, mode, data, rows, cols) {
  let lo = Infinity,
    hi = -Infinity;
  for (let k = 0; k < data.length; k++) {
    const v = data[k];
    if (Number.isFinite(v)) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  if (lo === Infinity) [lo, hi] = [0, 1];
  const signed = kind !== 'weights';
  if (mode === 'row') {
    const rowMax = new Float32Array(rows);
    for (let i = 0; i < rows; i++) {
      let m = 0;
      for (let j = 0; j < cols; j++) {
        const a = Math.abs(data[i * cols + j]);
        if (Number.isFinite(a) && a > m) m = a;
      }
      rowMax[i] = m || 1;
    }
    return {
      lo,
      hi,
      t: signed ? (v, i) => 0.5 + (0.5 * v) / rowMax[i] : (v, i) => v / rowMax[i],
      affine: signed ? (i) => [0.5 / rowMax[i], 0.5] : (i) => [1 / rowMax[i], 0],
      legend: signed ? [-1, 1] : [0, 1],
    };
  }
  if (signed) {
    const m = Math.max(Math.abs(lo), Math.abs(hi)) || 1;
    return { lo, hi, t: (v) => 0.5 + (0.5 * v) / m, affine: () => [0.5 / m, 0.5], legend: [-m, m] };
  }
  const max = Math.max(hi, 1e-6);
  if (mode === 'log') {
    const floor = max * 1e-4;
    const span = Math.log10(max / floor);
    return { lo, hi, t: (v) => Math.log10(Math.max(v, floor) / floor) / span, legend: [floor, max], log: true };
  }
  return { lo, hi, t: (v) => v / max, affine: () => [1 / max, 0], legend: [0, max] };
}

/** Index into a lookup table for t (clamped). */
export const index = (t) => (t <= 0 ? 0 : t >= 1 ? STEPS - 1 : Math.round(t * (STEPS - 1)));
