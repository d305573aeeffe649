// Small DOM and number helpers shared by the page's modules.

/** h("div", {class: "x", onclick: fn, dataset: {...}}, child, "text", [more]) → HTMLElement */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (k === 'text') el.textContent = v;
      else if (k in el && typeof v !== 'string') el[k] = v;
      else el.setAttribute(k, v === true ? '' : v);
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

let uid = 0;
export const nextId = (prefix = 'id') => `${prefix}-${++uid}`;

/** 4-decimal float32 formatting; −∞ for masked scores; a true minus sign. */
export function fmt(v, decimals = 4) {
  if (v === -Infinity) return '−∞';
  if (v === Infinity) return '∞';
  if (Number.isNaN(v)) return 'NaN';
  let s = v.toFixed(decimals);
  if (/^-0\.0+$/.test(s)) s = s.slice(1);
  return s.replace('-', '−');
}

export const fmtVec = (arr, decimals = 4) => `[${Array.from(arr, (v) => fmt(v, decimals)).join(', ')}]`;

/** Compact scientific notation for errors and differences: 3.7e-5 → "3.7·10⁻⁵". */
export function fmtSci(v) {
  if (v === 0) return '0';
  if (!Number.isFinite(v)) return String(v);
  const e = Math.floor(Math.log10(Math.abs(v)));
  const m = v / 10 ** e;
  const sup = String(e)
    .replace(/-/g, '⁻')
    .replace(/\d/g, (d) => '⁰¹²³⁴⁵⁶⁷⁸⁹'[d]);
  return `${m.toFixed(1)}·10${sup}`;
}

/** JSON for data attributes: −∞ as the string "-inf" (JSON has no infinities). */
export const dataJson = (arr) => JSON.stringify(Array.from(arr, (v) => (v === -Infinity ? '-inf' : v)));

/** Slice a (…, rows, cols) tensor's 2-D block at flat block index `block`. */
export function block2d(t, block) {
  const s = t.shape;
  const rows = s[s.length - 2],
    cols = s[s.length - 1];
  const off = block * rows * cols;
  return { data: t.data.subarray(off, off + rows * cols), rows, cols };
}

export const flatten = (a) => (Array.isArray(a) ? a.flat(Infinity) : [a]).map((v) => (v === '-inf' ? -Infinity : v));

export function maxDiff(got, expected) {
  let m = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i],
      g = got[i];
    if (e === g) continue;
    const d = Math.abs(e - g);
    if (!(d <= m)) m = d;
  }
  return got.length === expected.length ? m : Infinity;
}

/** {data, shape} → nested lists (what ak.create's stateDict accepts, like the CLI's JSON). */
export function toNested({ data, shape }) {
  if (shape.length === 0) return data[0];
  const rec = (off, dim) => {
    if (dim === shape.length - 1) return Array.from(data.subarray(off, off + shape[dim]));
    const stride = shape.slice(dim + 1).reduce((a, b) => a * b, 1);
    return Array.from({ length: shape[dim] }, (_, k) => rec(off + k * stride, dim + 1));
  };
  return rec(0, 0);
}

export function stateDictToNested(sd) {
  const out = {};
  for (const [k, v] of Object.entries(sd)) out[k] = toNested(v);
  return out;
}
