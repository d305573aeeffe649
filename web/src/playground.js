// The playground: a sentence (or pasted JSON) → any of the six mechanisms → heatmaps, lines, every step.
import { S } from './strings.js';
import { h, fmtSci, nextId, block2d } from './util.js';
import { MatrixView, LinesView } from './charts.js';
import { embedSentence, BOOK, HELLO } from './embeddings.js';
import { latestOnly } from './compute.js';

const playgroundText = S.pg; // the playground's strings
const STEP_ORDER = [
  'queries',
  'keys',
  'values',
  'scores',
  'scaled_scores',
  'masked_scores',
  'unmasked_weights',
  'weights',
  'weights_after_dropout',
  'context_before_out_proj',
  'context',
];
const WEIGHTLIKE = new Set(['unmasked_weights', 'weights', 'weights_after_dropout']);

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

function parseX(text) {
  let v = JSON.parse(text);
  let tokens = null;
  if (v && !Array.isArray(v)) {
    tokens = v.tokens || null;
    v = v.x;
  }
  if (!Array.isArray(v) || !Array.isArray(v[0])) throw new Error('expected a list of token vectors');
  const three = Array.isArray(v[0][0]) ? v : [v];
  const b = three.length,
    n = three[0].length,
    d = three[0][0].length;
  const x = new Float32Array(b * n * d);
  let k = 0;
  for (const m of three) {
    if (m.length !== n) throw new Error('every batch item needs the same number of tokens');
    for (const r of m) {
      if (!Array.isArray(r) || r.length !== d) throw new Error(`every token vector needs ${d} numbers`);
      for (const val of r) x[k++] = Number(val);
    }
  }
  return {
    x,
    shape: [b, n, d],
    tokens: tokens && tokens.length === n ? tokens.map(String) : Array.from({ length: n }, (_, i) => `t${i + 1}`),
  };
}

// mechanisms: the package's ak.mechanisms (the core's traits table): names, defaults and the options that apply.
export function renderPlayground(root, compute, mechanisms) {
  const traitsOf = new Map(mechanisms.map((t) => [t.name, t]));
  const applies = (option) => traitsOf.get(mechanism.value).options.includes(option);
  const about = (t) => (t.bookClass ? `${t.bookClass}: ${t.description}` : t.description);
  // ------------------------------------------------------------------ controls
  const modeSentence = h('input', {
    type: 'radio',
    name: 'pg-mode',
    value: 'sentence',
    checked: true,
    id: 'pg-mode-sentence',
  });
  const modeJson = h('input', { type: 'radio', name: 'pg-mode', value: 'json', id: 'pg-mode-json' });
  const sentence = h('input', {
    type: 'text',
    id: 'pg-sentence',
    value: BOOK.sentence,
    autocomplete: 'off',
    spellcheck: 'false',
  });
  const dIn = h('input', { type: 'number', id: 'pg-din', min: '1', max: '256', value: '3' });
  const xJson = h('textarea', { id: 'pg-x', rows: '6', spellcheck: 'false' });
  xJson.value = JSON.stringify({ tokens: BOOK.tokens, x: BOOK.x });
  const sdJson = h('textarea', { id: 'pg-sd', rows: '4', spellcheck: 'false' }); // its format is in the help text
  const mechanism = h(
    'select',
    { id: 'pg-mechanism' },
    mechanisms.map((t) => h('option', { value: t.name, selected: t.name === 'multihead' }, t.name)),
  );
  const dOut = h('input', { type: 'number', id: 'pg-dout', min: '1', max: '512', value: '4' });
  const heads = h('input', { type: 'number', id: 'pg-heads', min: '1', max: '64', value: '2' });
  const causal = h('input', { type: 'checkbox', id: 'pg-causal', checked: true });
  const route = h(
    'select',
    { id: 'pg-route' },
    Object.entries(playgroundText.routes).map(([v, t]) => h('option', { value: v }, t)),
  );
  const dropout = h('input', { type: 'number', id: 'pg-dropout', min: '0', max: '0.99', step: '0.05', value: '0' });
  const train = h('input', { type: 'checkbox', id: 'pg-train' });
  const seed = h('input', { type: 'number', id: 'pg-seed', min: '0', step: '1', value: '123' });
  const qkvBias = h('input', { type: 'checkbox', id: 'pg-qkvbias' });

  const sentenceBox = h(
    'div',
    { class: 'input-sentence' },
    field(playgroundText.sentence, sentence, playgroundText.sentenceHelp),
    field(playgroundText.dIn, dIn),
  );
  const jsonBox = h(
    'div',
    { class: 'input-json', hidden: true },
    field(playgroundText.xJson, xJson),
    field(playgroundText.sdJson, sdJson, playgroundText.sdHelp),
    h(
      'div',
      { class: 'row-buttons' },
      h(
        'button',
        {
          type: 'button',
          class: 'small',
          onclick: () => {
            xJson.value = JSON.stringify({ tokens: BOOK.tokens, x: BOOK.x });
            schedule();
          },
        },
        playgroundText.loadBook,
      ),
      h(
        'button',
        {
          type: 'button',
          class: 'small',
          onclick: () => {
            xJson.value = JSON.stringify({ tokens: HELLO.tokens, x: HELLO.x });
            schedule();
          },
        },
        playgroundText.loadSeed,
      ),
    ),
  );

  const form = h(
    'form',
    { class: 'controls', 'aria-label': playgroundText.heading, onsubmit: (e) => e.preventDefault() },
    h(
      'fieldset',
      { class: 'mode' },
      h('legend', null, playgroundText.inputMode),
      h(
        'div',
        { class: 'segmented' },
        modeSentence,
        h('label', { for: modeSentence.id }, playgroundText.modeSentence),
        modeJson,
        h('label', { for: modeJson.id }, playgroundText.modeJson),
      ),
    ),
    sentenceBox,
    jsonBox,
    h(
      'div',
      { class: 'control-grid' },
      field(playgroundText.mechanism, mechanism, about(traitsOf.get('multihead')), true),
      field(playgroundText.dOut, dOut),
      field(playgroundText.heads, heads),
      field(playgroundText.seed, seed),
      field(playgroundText.dropout, dropout),
      field(playgroundText.route, route, null, true),
      check(playgroundText.causal, causal),
      check(playgroundText.train, train),
      check(playgroundText.qkvBias, qkvBias),
    ),
  );

  // ------------------------------------------------------------------ outputs
  const error = h('p', { class: 'error', id: 'pg-error', role: 'status', 'aria-live': 'polite', hidden: true });
  const progress = h(
    'div',
    { class: 'progress', hidden: true, role: 'progressbar', 'aria-label': playgroundText.computing },
    h('div', { class: 'bar' }),
    h('span', null, playgroundText.computing),
  );
  const summary = h('p', { class: 'summary', id: 'pg-summary', 'aria-live': 'polite' });
  const tokenStrip = h('div', { class: 'tokens', role: 'group', 'aria-label': playgroundText.tokensLabel });
  const headGroup = h('div', {
    class: 'segmented',
    role: 'radiogroup',
    'aria-label': playgroundText.headSelect,
    id: 'pg-heads-select',
  });
  const batchGroup = h('div', {
    class: 'segmented',
    role: 'radiogroup',
    'aria-label': playgroundText.batchSelect,
    id: 'pg-batch-select',
    hidden: true,
  });
  const weightsView = new MatrixView({ title: playgroundText.weightsTitle, name: 'pg-weights', kind: 'weights' });
  const dropView = new MatrixView({
    title: playgroundText.weightsDropTitle,
    name: 'pg-weights-dropout',
    kind: 'weights',
  });
  const linesView = new LinesView({ title: playgroundText.lines });
  const contextView = new MatrixView({ title: playgroundText.contextTitle, name: 'pg-context', kind: 'signed' });
  const stepsGrid = h('div', { class: 'steps-grid' });
  const stepViews = new Map();
  dropView.el.hidden = true;

  const output = h(
    'div',
    { class: 'pg-output', id: 'pg-output', dataset: { state: 'idle', run: '0' } },
    error,
    progress,
    summary,
    h(
      'div',
      { class: 'selectors' },
      h('div', null, h('span', { class: 'sel-label', id: 'pg-head-label' }, playgroundText.headSelect), headGroup),
      h('div', null, h('span', { class: 'sel-label' }, playgroundText.batchSelect), batchGroup),
    ),
    h('p', { class: 'help' }, playgroundText.tokensLabel),
    tokenStrip,
    h('div', { class: 'grid2 pg-main' }, h('div', null, weightsView.el, dropView.el), linesView.el),
    contextView.el,
    h(
      'details',
      { class: 'steps', open: true },
      h('summary', null, playgroundText.steps),
      h('p', { class: 'help' }, playgroundText.stepsText),
      stepsGrid,
    ),
  );
  root.replaceChildren(h('div', { class: 'pg-layout' }, form, output));

  // ------------------------------------------------------------------ state + rendering
  let last = null; // { result, tokens, shape }
  let sel = { head: 0, batch: 0 };
  let focusTok = null;

  function syncEnabled() {
    const m = mechanism.value;
    const help = document.getElementById(`${mechanism.id}-help`);
    if (help) help.textContent = about(traitsOf.get(m));
    heads.disabled = !applies('numHeads');
    dOut.disabled = !applies('dOut');
    qkvBias.disabled = !applies('qkvBias');
    route.disabled = !causal.checked || !applies('causalRoute');
    const json = modeJson.checked;
    sentenceBox.hidden = json;
    jsonBox.hidden = !json;
  }

  function readInput() {
    if (modeJson.checked) {
      let parsed, sd;
      try {
        parsed = parseX(xJson.value);
      } catch (e) {
        throw Object.assign(new Error(playgroundText.jsonError('x', e.message)), { control: xJson });
      }
      if (sdJson.value.trim()) {
        try {
          sd = JSON.parse(sdJson.value);
          if (sd.state_dict) sd = sd.state_dict;
        } catch (e) {
          throw Object.assign(new Error(playgroundText.jsonError('state_dict', e.message)), { control: sdJson });
        }
      }
      return { ...parsed, stateDict: sd };
    }
    const d = Math.round(Number(dIn.value));
    return embedSentence(sentence.value, d);
  }

  function controlFor(message) {
    const m = message.toLowerCase();
    if (m.includes('num_heads') || m.includes('heads')) return applies('numHeads') ? heads : dOut;
    if (m.includes('d_out')) return dOut;
    if (m.includes('dropout')) return dropout;
    if (m.includes('seed')) return seed;
    if (
      m.includes('state_dict') ||
      m.includes('parameter') ||
      m.includes('w_query') ||
      m.includes('w_key') ||
      m.includes('w_value') ||
      m.includes('out_proj')
    )
      return sdJson;
    if (m.includes('token') || m.includes('d_in') || m.includes(' x ')) return modeJson.checked ? xJson : dIn;
    return null;
  }

  function showError(message, control) {
    form.querySelectorAll('[aria-invalid]').forEach((el) => {
      el.removeAttribute('aria-invalid');
      el.removeAttribute('aria-errormessage');
    });
    if (!message) {
      error.hidden = true;
      error.textContent = '';
      return;
    }
    error.hidden = false;
    error.textContent = message;
    if (control) {
      control.setAttribute('aria-invalid', 'true');
      control.setAttribute('aria-errormessage', 'pg-error');
    }
  }

  function segmented(group, count, current, label, onPick) {
    const name = group.id;
    group.replaceChildren();
    for (let k = 0; k < count; k++) {
      const id = `${name}-${k}`;
      const input = h('input', {
        type: 'radio',
        name,
        id,
        value: String(k),
        checked: k === current,
        onchange: () => onPick(k),
      });
      group.append(input, h('label', { for: id }, label(k)));
    }
  }

  function renderTokens(tokens) {
    tokenStrip.replaceChildren(
      ...tokens.map((t, k) => {
        const b = h('button', { type: 'button', class: 'token', dataset: { index: k }, text: t });
        const on = () => setFocus(k);
        const off = () => setFocus(null);
        b.addEventListener('pointerenter', on);
        b.addEventListener('pointerleave', off);
        b.addEventListener('focus', on);
        b.addEventListener('blur', off);
        return b;
      }),
    );
  }

  function setFocus(k) {
    focusTok = k;
    tokenStrip.querySelectorAll('.token').forEach((b) => b.classList.toggle('active', +b.dataset.index === k));
    for (const v of [weightsView, dropView]) v.highlight(k, k);
    linesView.highlight(k);
    contextView.highlight(k, null);
  }
  const hoverCell = (i, j) => {
    for (const v of [weightsView, dropView]) v.highlight(i, j);
    linesView.highlight(i);
    tokenStrip
      .querySelectorAll('.token')
      .forEach((b) => b.classList.toggle('active', +b.dataset.index === i || +b.dataset.index === j));
  };
  weightsView.onHover = hoverCell;
  dropView.onHover = hoverCell;

  function renderResult() {
    const { result: r, tokens, shape } = last;
    const [b, n] = shape;
    const H = r.weightsShape ? r.weightsShape[1] : 1;
    sel.head = Math.min(sel.head, H - 1);
    sel.batch = Math.min(sel.batch, b - 1);
    segmented(
      headGroup,
      H,
      sel.head,
      (k) => `${k + 1}`,
      (k) => {
        sel.head = k;
        renderResult();
      },
    );
    batchGroup.hidden = b <= 1;
    batchGroup.previousElementSibling.hidden = b <= 1;
    if (b > 1)
      segmented(
        batchGroup,
        b,
        sel.batch,
        (k) => `${k + 1}`,
        (k) => {
          sel.batch = k;
          renderResult();
        },
      );

    const blk = sel.batch * H + sel.head;
    const lab = { rowLabels: tokens, colLabels: tokens };
    const I = r.intermediates;
    const w = block2d(I.weights || { data: r.weights, shape: r.weightsShape }, blk);
    weightsView.el.dataset.head = sel.head;
    weightsView.update({ ...w, ...lab });
    const dropped = I.weights_after_dropout;
    dropView.el.hidden = !dropped;
    if (dropped) dropView.update({ ...block2d(dropped, blk), ...lab });
    linesView.update({ data: (dropped ? block2d(dropped, blk) : w).data, n, tokens });

    const width = r.contextShape[2];
    contextView.update({
      data: r.context.subarray(sel.batch * n * width, (sel.batch + 1) * n * width),
      rows: n,
      cols: width,
      rowLabels: tokens,
      colLabels: Array.from({ length: width }, (_, k) => String(k + 1)),
    });

    // every intermediate
    const present = STEP_ORDER.filter((name) => I[name]);
    for (const [name, v] of stepViews)
      if (!present.includes(name)) {
        v.el.remove();
        stepViews.delete(name);
      }
    for (const name of present) {
      let v = stepViews.get(name);
      if (!v) {
        v = new MatrixView({
          title: playgroundText.inames[name] || name,
          name: `pg-i-${name}`,
          kind: WEIGHTLIKE.has(name) ? 'weights' : 'signed',
          maxWidth: 420,
        });
        stepViews.set(name, v);
      }
      stepsGrid.append(v.el); // keeps STEP_ORDER
      const t = I[name];
      let m;
      if (t.shape.length === 4) m = block2d(t, blk);
      else m = block2d(t, sel.batch);
      const cols = m.cols;
      const square =
        t.shape.length === 4 && t.shape[3] === n && name !== 'queries' && name !== 'keys' && name !== 'values';
      v.update({
        ...m,
        rowLabels: tokens,
        colLabels: square ? tokens : Array.from({ length: cols }, (_, k) => String(k + 1)),
      });
    }
    if (focusTok !== null && focusTok < n) setFocus(focusTok);
    else setFocus(null);
    output.dataset.heads = H;
    output.dataset.tokens = n;
  }

  const run = latestOnly(async () => {
    syncEnabled();
    let input;
    try {
      input = readInput();
    } catch (e) {
      showError(e.message, e.control);
      output.dataset.state = 'error';
      return;
    }
    const m = mechanism.value;
    const options = {
      dIn: input.shape[2],
      dOut: Math.round(Number(dOut.value)),
      numHeads: applies('numHeads') ? Math.round(Number(heads.value)) : 1,
      causal: causal.checked,
      causalRoute: route.value,
      qkvBias: qkvBias.checked && !qkvBias.disabled,
      dropout: Number(dropout.value),
      seed: Math.round(Number(seed.value)),
    };
    if (input.stateDict) options.stateDict = input.stateDict;
    output.dataset.state = 'busy';
    output.setAttribute('aria-busy', 'true');
    const slow = setTimeout(() => (progress.hidden = false), 150);
    try {
      const result = await compute.call('forward', {
        mechanism: m,
        options,
        x: input.x,
        shape: input.shape,
        forwardOptions: { returnWeights: true, intermediates: true, train: train.checked },
        crossCheck: input.shape[0] * input.shape[1] * input.shape[1] * options.numHeads <= 200000,
      });
      showError(null);
      last = { result, tokens: input.tokens, shape: input.shape };
      const t0 = performance.now();
      renderTokens(input.tokens);
      renderResult();
      output.dataset.renderMs = (performance.now() - t0).toFixed(1);
      const cs = `(${result.contextShape.join(', ')})`;
      summary.replaceChildren(
        h('span', null, playgroundText.summary(m, cs, result.ms.toFixed(2))),
        result.crossCheck !== undefined
          ? h(
              'span',
              { class: `badge ${result.crossCheck < 1e-4 ? 'ok' : 'bad'}`, dataset: { crosscheck: result.crossCheck } },
              result.crossCheck < 1e-4
                ? playgroundText.crossCheck(fmtSci(result.crossCheck))
                : playgroundText.crossCheckBad(fmtSci(result.crossCheck)),
            )
          : null,
      );
      output.dataset.state = 'ready';
    } catch (e) {
      if (e.name === 'AbortError') return;
      showError(playgroundText.errorPrefix + e.message, controlFor(e.message));
      output.dataset.state = 'error';
    } finally {
      clearTimeout(slow);
      progress.hidden = true;
      output.removeAttribute('aria-busy');
      output.dataset.run = String(Number(output.dataset.run) + 1);
    }
  });
  const schedule = () => run();

  mechanism.addEventListener('change', () => {
    causal.checked = traitsOf.get(mechanism.value).defaultCausal;
    if (mechanism.value === 'multihead-wrapper' && Number(dOut.value) > 4) dOut.value = '2';
  });
  // "input" fires for text, number, select and checkbox controls alike (one recompute per change).
  form.addEventListener('input', schedule);
  syncEnabled();
  schedule();
  return { schedule };
}
