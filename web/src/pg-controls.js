// The playground's form: every control, its label and help, and its state as a plain object (for the
// permalink). The numeric fields carry their min/max, which pg-input.js enforces.
import { S } from './strings.js';
import { h, nextId } from './util.js';
import { BOOK, HELLO } from './embeddings.js';
import { stateDictFileText } from './pg-input.js';

const T = S.pg;

function field(label, control, help, wide) {
  const id = control.id || (control.id = nextId('f'));
  const helpId = help ? `${id}-help` : null;
  if (helpId) control.setAttribute('aria-describedby', helpId);
  return h(
    'div',
    { class: wide ? 'field wide' : 'field' },
    h('label', { for: id }, label),
    control,
    help ? h('p', { class: 'help', id: helpId }, help) : null,
  );
}

function check(label, control) {
  control.id ||= nextId('c');
  return h('div', { class: 'field check' }, control, h('label', { for: control.id }, label));
}

const num = (id, min, max, value, step) =>
  h('input', {
    type: 'number',
    id,
    min: String(min),
    max: String(max),
    value: String(value),
    ...(step ? { step } : {}),
  });
const select = (id, entries, value) =>
  h(
    'select',
    { id },
    entries.map(([v, t]) => h('option', { value: v, selected: v === value }, t)),
  );

/** Builds the form; → { form, c (controls by name), state(), apply(state), onTemplate } */
export function buildControls(mechanisms, about) {
  const c = {
    modeSentence: h('input', {
      type: 'radio',
      name: 'pg-mode',
      value: 'sentence',
      checked: true,
      id: 'pg-mode-sentence',
    }),
    modeJson: h('input', { type: 'radio', name: 'pg-mode', value: 'json', id: 'pg-mode-json' }),
    sentence: h('input', {
      type: 'text',
      id: 'pg-sentence',
      value: BOOK.sentence,
      autocomplete: 'off',
      spellcheck: 'false',
    }),
    dIn: num('pg-din', 1, 256, 3),
    xJson: h('textarea', { id: 'pg-x', rows: '6', spellcheck: 'false' }),
    sdJson: h('textarea', { id: 'pg-sd', rows: '4', spellcheck: 'false' }),
    mechanism: select(
      'pg-mechanism',
      mechanisms.map((t) => [t.name, t.name]),
      'multihead',
    ),
    dOut: num('pg-dout', 1, 1024, 4),
    heads: num('pg-heads', 1, 64, 2),
    causal: h('input', { type: 'checkbox', id: 'pg-causal', checked: true }),
    route: select('pg-route', Object.entries(T.routes), 'neg-inf'),
    dropout: num('pg-dropout', 0, 0.99, 0, '0.05'),
    train: h('input', { type: 'checkbox', id: 'pg-train' }),
    seed: num('pg-seed', 0, 2147483647, 123, '1'),
    qkvBias: h('input', { type: 'checkbox', id: 'pg-qkvbias' }),
    colour: select('pg-colour', Object.entries(T.colourModes), 'auto'),
    // Attention for real models: cross-attention, a padded batch, grouped-query heads, a state_dict file
    cross: h('input', { type: 'checkbox', id: 'pg-cross' }),
    kvSentence: h('input', {
      type: 'text',
      id: 'pg-kv-sentence',
      value: T.real.kvDefault,
      autocomplete: 'off',
      spellcheck: 'false',
    }),
    pad: h('input', { type: 'checkbox', id: 'pg-pad' }),
    padSentence: h('input', {
      type: 'text',
      id: 'pg-pad-sentence',
      value: T.real.padDefault,
      autocomplete: 'off',
      spellcheck: 'false',
    }),
    kvHeads: num('pg-kvheads', 0, 64, 0),
    wformat: select('pg-wformat', Object.entries(T.real.formats), 'book'),
    sdFile: h('input', { type: 'file', id: 'pg-sd-file', accept: '.json,application/json' }),
  };
  c.xJson.value = JSON.stringify({ tokens: BOOK.tokens, x: BOOK.x });
  const loadX = (src) => () => {
    c.xJson.value = JSON.stringify({ tokens: src.tokens, x: src.x });
    c.xJson.dispatchEvent(new Event('input', { bubbles: true }));
  };
  const sentenceBox = h(
    'div',
    { class: 'input-sentence' },
    field(T.sentence, c.sentence, T.sentenceHelp),
    field(T.dIn, c.dIn),
  );
  const jsonBox = h(
    'div',
    { class: 'input-json', hidden: true },
    field(T.xJson, c.xJson),
    field(T.sdJson, c.sdJson, T.sdHelp),
    field(T.real.file, c.sdFile, T.real.fileHelp),
    field(T.real.format, c.wformat, T.real.formatHelp),
    h(
      'div',
      { class: 'row-buttons' },
      h('button', { type: 'button', class: 'small', onclick: loadX(BOOK) }, T.loadBook),
      h('button', { type: 'button', class: 'small', onclick: loadX(HELLO) }, T.loadHello),
    ),
  );
  const form = h(
    'form',
    { class: 'controls', 'aria-label': T.heading, onsubmit: (e) => e.preventDefault() },
    h(
      'fieldset',
      { class: 'mode' },
      h('legend', null, T.inputMode),
      h(
        'div',
        { class: 'segmented' },
        c.modeSentence,
        h('label', { for: c.modeSentence.id }, T.modeSentence),
        c.modeJson,
        h('label', { for: c.modeJson.id }, T.modeJson),
      ),
    ),
    sentenceBox,
    jsonBox,
    h(
      'div',
      { class: 'control-grid' },
      field(T.mechanism, c.mechanism, about('multihead'), true),
      field(T.dOut, c.dOut),
      field(T.heads, c.heads),
      field(T.seed, c.seed),
      field(T.dropout, c.dropout),
      field(T.route, c.route, null, true),
      check(T.causal, c.causal),
      check(T.train, c.train),
      check(T.qkvBias, c.qkvBias),
      field(T.colour, c.colour, T.colourHelp, true),
    ),
    h(
      'fieldset',
      { class: 'real' },
      h('legend', null, T.real.legend),
      check(T.real.cross, c.cross),
      field(T.real.kvSentence, c.kvSentence, T.real.kvHelp),
      check(T.real.pad, c.pad),
      field(T.real.padSentence, c.padSentence, T.real.padHelp),
      field(T.real.kvHeads, c.kvHeads, T.real.kvHeadsHelp),
    ),
  );
  // A state_dict file, picked or dropped on the field, fills the field (JSON, any naming the package reads). A file
  // that cannot be one (too large, empty, binary, not UTF-8, unreadable) empties the field and leaves its message for
  // readInput (pg-read.js) to show under it, until the field is typed in or another file comes.
  const readFile = async (file) => {
    if (!file) return;
    let text = '';
    try {
      text = await stateDictFileText(file);
      delete c.sdJson.dataset.fileError;
    } catch (e) {
      c.sdJson.dataset.fileError = e.message;
      c.sdFile.value = ''; // picking the same file again, fixed, is a change
    }
    c.sdJson.value = text;
    c.sdJson.dispatchEvent(new Event('input', { bubbles: true }));
  };
  c.sdFile.addEventListener('change', () => readFile(c.sdFile.files[0]));
  c.sdJson.addEventListener('input', (e) => {
    if (e.isTrusted) delete c.sdJson.dataset.fileError;
  });
  c.sdJson.addEventListener('dragover', (e) => e.preventDefault());
  c.sdJson.addEventListener('drop', (e) => {
    if (!e.dataTransfer.files.length) return; // dragged text: the browser inserts it
    e.preventDefault();
    readFile(e.dataTransfer.files[0]);
  });
  const sync = () => {
    sentenceBox.hidden = c.modeJson.checked;
    jsonBox.hidden = !c.modeJson.checked;
    c.kvSentence.disabled = !c.cross.checked;
    c.pad.disabled = c.modeJson.checked;
    c.padSentence.disabled = !c.pad.checked || c.modeJson.checked;
  };

  // The permalink's state: short keys, only what differs from a fresh page is still written (all of it, simply).
  const KEYS = {
    s: 'sentence',
    d: 'dIn',
    m: 'mechanism',
    o: 'dOut',
    h: 'heads',
    r: 'route',
    p: 'dropout',
    seed: 'seed',
    cs: 'colour',
  };
  const FLAGS = { c: 'causal', t: 'train', b: 'qkvBias' };
  const state = () => {
    const st = { mode: c.modeJson.checked ? 'json' : 'sentence' };
    for (const [k, name] of Object.entries(KEYS)) st[k] = c[name].value;
    for (const [k, name] of Object.entries(FLAGS)) st[k] = c[name].checked ? '1' : '0';
    if (st.mode === 'json') {
      st.x = c.xJson.value;
      if (c.sdJson.value.trim()) st.sd = c.sdJson.value;
    }
    return st;
  };
  const apply = (st) => {
    if (st.mode === 'json') c.modeJson.checked = true;
    else c.modeSentence.checked = true;
    for (const [k, name] of Object.entries(KEYS)) if (st[k] !== undefined) c[name].value = st[k];
    for (const [k, name] of Object.entries(FLAGS)) if (st[k] !== undefined) c[name].checked = st[k] === '1';
    if (st.x !== undefined) c.xJson.value = st.x;
    if (st.sd !== undefined) c.sdJson.value = st.sd;
    sync();
  };
  return { form, c, sync, state, apply };
}
