// The playground's input checks: pasted JSON (x and state_dict) read with errors that name the row and the
// number, the numeric fields' ranges, and the token limit. Every error says what was found and what is expected.
import { S } from './strings.js';

const T = S.pg.input;
export const MAX_TOKENS = 1024; // the playground draws every head of up to this many tokens

/** JSON has no NaN or Infinity: mark bare ones so the walk below can name where they are. */
const BARE = /(^|[\s,[:])(-?)(NaN|Infinity)(?=[\s,\]}]|$)/g;
const MARK = '\u0000';

function parseJson(text, what) {
  const marked = text.replace(BARE, (_, pre, sign, word) => `${pre}"\\u0000${sign}${word}"`); // parses to MARK + word
  try {
    return JSON.parse(marked);
  } catch (e) {
    const at = /position (\d+)/.exec(e.message);
    if (!at) throw new Error(T.syntax(what, e.message));
    const pos = Number(at[1]);
    const before = marked.slice(0, pos).split('\n');
    throw new Error(
      T.syntaxAt(what, e.message.replace(/ in JSON at position \d+.*$/, ''), before.length, before.at(-1).length + 1),
    );
  }
}

/** "a number" check for one entry; `where` names it for the message. */
function number(v, where) {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.startsWith(MARK)) throw new Error(T.notJsonNumber(where, v.slice(1)));
  throw new Error(T.notNumber(where, v === null ? 'null' : Array.isArray(v) ? 'a list' : JSON.stringify(v)));
}

/** Pasted embeddings: tokens × d_in, batch × tokens × d_in, or {"tokens": [...], "x": ...}. */
export function parseX(text) {
  let v = parseJson(text, 'x');
  let tokens = null;
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    if (!('x' in v)) throw new Error(T.noX);
    tokens = v.tokens ?? null;
    v = v.x;
  }
  if (!Array.isArray(v) || v.length === 0) throw new Error(T.notList);
  const three = Array.isArray(v[0]) && Array.isArray(v[0][0]) ? v : [v];
  const b = three.length;
  const n = Array.isArray(three[0]) ? three[0].length : 0;
  const first = three[0]?.[0];
  if (!Array.isArray(first) || first.length === 0) throw new Error(T.rowNotList(T.row(0, 0, b), first));
  const d = first.length;
  if (n > MAX_TOKENS) throw new Error(T.tooMany(n, MAX_TOKENS));
  const x = new Float32Array(b * n * d);
  let k = 0;
  three.forEach((m, bi) => {
    if (!Array.isArray(m) || m.length !== n) throw new Error(T.batchRows(bi, Array.isArray(m) ? m.length : 0, n));
    m.forEach((r, i) => {
      const where = T.row(bi, i, b);
      if (!Array.isArray(r)) throw new Error(T.rowNotList(where, r));
      if (r.length !== d) throw new Error(T.rowLength(where, r.length, d));
      r.forEach((val, c) => (x[k++] = number(val, T.entry(where, c))));
    });
  });
  if (tokens !== null) {
    if (!Array.isArray(tokens)) throw new Error(T.tokensNotList);
    if (tokens.length !== n) throw new Error(T.tokensLength(tokens.length, n));
  }
  return {
    x,
    shape: [b, n, d],
    tokens: tokens ? tokens.map(String) : Array.from({ length: n }, (_, i) => `t${i + 1}`),
  };
}

/** A pasted state_dict: {name: nested lists} or {"state_dict": {...}}; every entry a number. */
export function parseStateDict(text) {
  let sd = parseJson(text, 'state_dict');
  if (sd && sd.state_dict) sd = sd.state_dict;
  if (!sd || typeof sd !== 'object' || Array.isArray(sd)) throw new Error(T.sdNotObject);
  const walk = (v, name, path) => {
    if (Array.isArray(v)) v.forEach((u, k) => walk(u, name, [...path, k]));
    else number(v, T.sdEntry(name, path));
  };
  for (const [name, v] of Object.entries(sd)) walk(v, name, []);
  return sd;
}

// A picked or dropped state_dict file is read into a text field: more than this would stall the page.
export const MAX_FILE_BYTES = 64 * 2 ** 20;

/** A state_dict file's text, refused (from its size, before reading it) when it cannot be a JSON state_dict. */
export async function stateDictFileText(file) {
  if (file.size > MAX_FILE_BYTES) throw new Error(T.fileTooBig(file.name, file.size, MAX_FILE_BYTES));
  if (file.size === 0) throw new Error(T.fileEmpty(file.name));
  let bytes;
  try {
    bytes = new Uint8Array(await file.arrayBuffer());
  } catch (e) {
    throw new Error(T.fileUnreadable(file.name, e.message));
  }
  const zero = bytes.indexOf(0);
  if (zero !== -1) throw new Error(T.fileBinary(file.name, zero));
  let text;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new Error(T.fileNotUtf8(file.name));
  }
  if (!text.trim()) throw new Error(T.fileEmpty(file.name));
  return text;
}

/** A numeric field within its min/max (whole numbers where its step is 1); → the number. */
export function fieldValue(control, label) {
  const raw = control.value.trim();
  const v = Number(raw);
  const min = control.min === '' ? -Infinity : Number(control.min);
  const max = control.max === '' ? Infinity : Number(control.max);
  const whole = control.step === '' || control.step === '1';
  if (raw === '' || !Number.isFinite(v) || v < min || v > max || (whole && !Number.isInteger(v)))
    throw Object.assign(new Error(T.range(label, whole, control.min, control.max, raw)), { control });
  return v;
}

export function checkTokens(n) {
  if (n === 0) throw new Error(T.noTokens);
  if (n > MAX_TOKENS) throw new Error(T.tooMany(n, MAX_TOKENS));
}
