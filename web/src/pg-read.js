// The playground's input: a sentence (with a second sentence as keys and values, or as a padded second batch
// item) or pasted JSON, read into {x, shape, tokens, …} with errors that name the control they are about.
import { S } from './strings.js';
import { embedSentence } from './embeddings.js';
import { parseX, parseStateDict, fieldValue, checkTokens } from './pg-input.js';

const T = S.pg;

/** b copies of one sequence (the keys and values for every batch item). */
export function tile(x, b) {
  const out = new Float32Array(x.length * b);
  for (let k = 0; k < b; k++) out.set(x, k * x.length);
  return out;
}

export function readInput(c) {
  if (c.modeJson.checked) {
    let parsed, sd;
    try {
      parsed = parseX(c.xJson.value);
    } catch (e) {
      throw Object.assign(e, { control: c.xJson });
    }
    const fileError = c.sdJson.dataset.fileError; // a refused state_dict file (pg-controls.js)
    if (fileError && !c.sdJson.value.trim()) throw Object.assign(new Error(fileError), { control: c.sdJson });
    if (c.sdJson.value.trim())
      try {
        sd = parseStateDict(c.sdJson.value);
      } catch (e) {
        throw Object.assign(e, { control: c.sdJson });
      }
    return { ...parsed, stateDict: sd };
  }
  const d = fieldValue(c.dIn, T.dIn);
  const sentence = (control) => {
    const s = embedSentence(control.value, d);
    try {
      checkTokens(s.tokens.length);
    } catch (e) {
      throw Object.assign(e, { control });
    }
    return s;
  };
  const input = sentence(c.sentence);
  if (c.cross.checked && c.pad.checked) throw Object.assign(new Error(T.real.crossAndPad), { control: c.pad });
  if (c.pad.checked) return padded(input, sentence(c.padSentence), d);
  return c.cross.checked ? { ...input, kv: sentence(c.kvSentence) } : input;
}

/** Two sentences as a batch of two, the shorter padded with zeros; key_padding_mask marks the padding. */
function padded(a, b, d) {
  const n = Math.max(a.tokens.length, b.tokens.length);
  const x = new Float32Array(2 * n * d);
  const mask = new Uint8Array(2 * n).fill(1);
  const pad = (t) => [...t, ...Array(n - t.length).fill(T.real.padToken)];
  [a, b].forEach((s, k) => {
    x.set(s.x, k * n * d);
    mask.fill(0, k * n, k * n + s.tokens.length);
  });
  return {
    x,
    shape: [2, n, d],
    tokens: pad(a.tokens),
    batchTokens: [pad(a.tokens), pad(b.tokens)],
    real: [a.tokens.length, b.tokens.length],
    mask,
  };
}
