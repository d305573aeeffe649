// The first view: the HackTricks tutorial's "Hello shiny sun!" walkthrough and the book's chapter 3, computed live.
// Every number comes from the module's outputs and intermediates; golden files only feed the
// "matches the book" checks.
import { S } from './strings.js';
import { h, fmt, fmtVec, fmtSci, dataJson, flatten, maxDiff, stateDictToNested } from './util.js';
import { MatrixView, barsChart } from './charts.js';
import { BOOK, HELLO } from './embeddings.js';
import { shapesTable } from './shapes.js';
import hello from '../../data/book/hacktricks_hello_shiny_sun.json';
import b01 from '../../data/book/book_01_simplified_attention_query2.json';
import b02 from '../../data/book/book_02_simplified_attention_all.json';
import b03 from '../../data/book/book_03_trainable_weights_stepwise_seed123.json';
import b04 from '../../data/book/book_04_self_attention_v1_seed123.json';
import b05 from '../../data/book/book_05_self_attention_v2_seed789.json';
import b06 from '../../data/book/book_06_causal_mask_renormalise.json';
import b07 from '../../data/book/book_07_causal_mask_neg_inf_softmax.json';
import b08 from '../../data/book/book_08_dropout_seed123.json';
import b09 from '../../data/book/book_09_causal_attention_seed123.json';
import b10 from '../../data/book/book_10_multihead_wrapper_seed123.json';
import b11 from '../../data/book/book_11_multihead_attention_seed123.json';

const walkthroughText = S.wt; // the walkthrough's strings
const g = (file, step, tensor = 0) => file.steps[step].tensors[tensor];

/** A ✓/✗ badge comparing `got` with a golden tensor at its printed precision. */
function badge(got, golden, key, scale = 1, label = null) {
  const expected = flatten(golden.expected).map((v) => v * scale);
  const tol = golden.abs_tol * scale + 1e-6;
  const d = maxDiff(Array.from(got), expected);
  const ok = d <= tol;
  return h(
    'span',
    {
      class: `badge ${ok ? 'ok' : 'bad'}`,
      dataset: { check: key, ok: String(ok), maxdiff: d },
      title: S.bookTolerance(fmtSci(d), fmtSci(golden.abs_tol * scale)),
    },
    label ? h('span', { class: 'badge-label' }, `${label}:`) : null,
    ok
      ? S.matchesBook(fmtSci(d), fmtSci(golden.abs_tol * scale))
      : S.differsBook(fmtSci(d), fmtSci(golden.abs_tol * scale)),
  );
}

/** "label = [v, v, v]" with the full-precision values in data-values. */
function vec(label, values, key, extra) {
  return h(
    'div',
    { class: 'vec' },
    h('span', { class: 'vec-label' }, label),
    h('span', { class: 'vec-eq' }, '='),
    h(
      'output',
      { class: 'vec-values', dataset: { key, values: dataJson(values) } },
      values.length === 1 ? fmt(values[0]) : fmtVec(values),
    ),
    extra,
  );
}

function step(title, text, ...content) {
  return h('section', { class: 'step' }, h('h4', null, title), text ? h('p', null, text) : null, ...content);
}

function matrix(opts, m) {
  const v = new MatrixView(opts);
  v.update(m);
  return v;
}

const row = (t, i, cols) => Array.from(t.data.subarray(i * cols, (i + 1) * cols));

export async function renderWalkthrough(root, compute) {
  const fwd = (mechanism, options, x, shape, extra = {}) =>
    compute.call('forward', {
      mechanism,
      options,
      x: Float32Array.from(x.flat(Infinity)),
      shape,
      forwardOptions: { returnWeights: true, intermediates: true, ...extra.forwardOptions },
      wantStateDict: extra.wantStateDict,
    });

  const out = h('div', { class: 'walkthrough' });
  root.replaceChildren(out);
  const views = [];
  const place = (...els) => out.append(...els);

  // ---------------------------------------------------------------- 1. Hello shiny sun
  {
    const tokens = HELLO.tokens;
    const q = tokens.indexOf(hello.query);
    const r = await fwd('simplified', { dIn: 3 }, HELLO.x, [1, 3, 3]);
    const scores = r.intermediates.scores;
    const weights = r.intermediates.weights;
    const scoreRow = row(scores, q, 3);
    const weightRow = row(weights, q, 3);
    const ctx = row(r.intermediates.context ?? { data: r.context }, q, 3);
    const exps = scoreRow.map(Math.exp);
    const sum = exps.reduce((a, b) => a + b, 0);
    const weighted = tokens.map((_, i) => HELLO.x[i].map((v) => weightRow[i] * v));

    const embTable = h(
      'table',
      { class: 'matrix-table compact' },
      h('caption', null, walkthroughText.hello.embeddings),
      h(
        'thead',
        null,
        h(
          'tr',
          null,
          h('th', { scope: 'col' }, walkthroughText.hello.tokenCol),
          [1, 2, 3].map((k) => h('th', { scope: 'col' }, walkthroughText.hello.dimCol(k))),
        ),
      ),
      h(
        'tbody',
        null,
        tokens.map((t, i) =>
          h(
            'tr',
            { class: i === q ? 'query-row' : '' },
            h('th', { scope: 'row' }, t),
            HELLO.x[i].map((v) => h('td', null, v.toFixed(2))),
          ),
        ),
      ),
    );

    const sec = h(
      'section',
      { class: 'card', id: 'hello', 'aria-labelledby': 'hello-h' },
      h('h3', { id: 'hello-h' }, walkthroughText.hello.heading),
      h('p', { class: 'lead' }, walkthroughText.hello.intro),
      embTable,
      step(
        walkthroughText.hello.step1,
        walkthroughText.hello.step1Text,
        h(
          'div',
          { class: 'eqs' },
          tokens.map((t, i) =>
            h(
              'div',
              { class: 'eq' },
              h('span', { class: 'lhs' }, `${t} · ${hello.query}`),
              ' = ',
              h(
                'span',
                { class: 'terms' },
                HELLO.x[i].map((v, k) => `${v.toFixed(2)}×${HELLO.x[q][k].toFixed(2)}`).join(' + '),
              ),
              ' = ',
              h('output', { class: 'val', dataset: { key: `hello.score.${t}`, value: scoreRow[i] } }, fmt(scoreRow[i])),
            ),
          ),
        ),
      ),
      step(
        walkthroughText.hello.step2,
        walkthroughText.hello.step2Text,
        h(
          'div',
          { class: 'eqs' },
          h('div', { class: 'eq sub' }, h('span', { class: 'lhs' }, walkthroughText.hello.exps)),
          tokens.map((t, i) =>
            h(
              'div',
              { class: 'eq' },
              h('span', { class: 'lhs' }, `e^${fmt(scoreRow[i])}`),
              ' = ',
              h('output', { class: 'val', dataset: { key: `hello.exp.${t}`, value: exps[i] } }, fmt(exps[i])),
            ),
          ),
          h(
            'div',
            { class: 'eq' },
            h('span', { class: 'lhs' }, walkthroughText.hello.sum),
            ' = ',
            h('span', { class: 'terms' }, exps.map((e) => fmt(e)).join(' + ')),
            ' = ',
            h('output', { class: 'val', dataset: { key: 'hello.sum', value: sum } }, fmt(sum)),
          ),
          h('div', { class: 'eq sub' }, h('span', { class: 'lhs' }, walkthroughText.hello.weights)),
          tokens.map((t, i) =>
            h(
              'div',
              { class: 'eq' },
              h('span', { class: 'lhs' }, `α(${t})`),
              ' = ',
              h('span', { class: 'terms' }, `${fmt(exps[i])} / ${fmt(sum)}`),
              ' = ',
              h(
                'output',
                { class: 'val', dataset: { key: `hello.weight.${t}`, value: weightRow[i] } },
                fmt(weightRow[i]),
              ),
            ),
          ),
          h('p', { class: 'muted' }, walkthroughText.hello.weightsSum(fmt(weightRow.reduce((a, b) => a + b, 0)))),
        ),
        barsChart({ labels: tokens, values: weightRow, title: walkthroughText.hello.barsTitle, max: 0.5 }),
      ),
      step(
        walkthroughText.hello.step3,
        walkthroughText.hello.step3Text,
        h(
          'div',
          { class: 'eqs' },
          tokens.map((t, i) =>
            h(
              'div',
              { class: 'eq' },
              h('span', { class: 'lhs' }, walkthroughText.hello.weighted(t)),
              ' = ',
              h('span', { class: 'terms' }, `${fmt(weightRow[i])} × ${fmtVec(HELLO.x[i], 2)}`),
              ' = ',
              h(
                'output',
                { class: 'val', dataset: { key: `hello.weighted.${t}`, values: dataJson(weighted[i]) } },
                fmtVec(weighted[i]),
              ),
            ),
          ),
          h(
            'div',
            { class: 'eq' },
            h('span', { class: 'lhs' }, 'Σ'),
            ' = ',
            h(
              'span',
              { class: 'terms' },
              `[${[0, 1, 2].map((k) => weighted.map((w) => fmt(w[k])).join(' + ')).join(', ')}]`,
            ),
          ),
        ),
        h(
          'div',
          { class: 'result' },
          h('span', { class: 'result-label' }, walkthroughText.hello.context),
          h(
            'output',
            {
              class: 'result-value',
              id: 'shiny-context',
              dataset: { key: 'hello.context.shiny', values: dataJson(ctx) },
            },
            fmtVec(ctx),
          ),
        ),
        h('aside', { class: 'note', role: 'note' }, walkthroughText.hello.roundingNote),
      ),
    );
    place(sec);
    const all = matrix(
      { title: walkthroughText.hello.all, name: 'hello-weights', kind: 'weights', note: walkthroughText.hello.allText },
      { data: weights.data, rows: 3, cols: 3, rowLabels: tokens, colLabels: tokens },
    );
    sec.append(all.el);
    all.highlight(q, null);
    views.push(all);
  }

  // ---------------------------------------------------------------- 2. The book
  const tokens = BOOK.tokens;
  const X = BOOK.x;
  const n = tokens.length;
  const book = h(
    'section',
    { class: 'card', id: 'book', 'aria-labelledby': 'book-h' },
    h('h3', { id: 'book-h' }, walkthroughText.book.heading),
    h('p', { class: 'lead' }, walkthroughText.book.intro),
  );
  place(book);
  const addMatrix = (parent, opts, m) => {
    const v = new MatrixView(opts);
    parent.append(v.el);
    v.update(m);
    views.push(v);
    return v;
  };
  const labels = { rowLabels: tokens, colLabels: tokens };

  // 2.1 simplified
  {
    const r = await fwd('simplified', { dIn: 3 }, X, [1, n, 3]);
    const s1 = row(r.intermediates.scores, 1, n),
      naive = s1.map((v) => v / s1.reduce((a, b) => a + b, 0)),
      w1 = row(r.intermediates.weights, 1, n),
      c1 = Array.from(r.context.subarray(3, 6));
    const st = step(
      walkthroughText.book.simplified,
      walkthroughText.book.simplifiedText,
      h(
        'div',
        { class: 'vecs' },
        vec(walkthroughText.book.scoresJourney, s1, 'book.simplified.scores2', badge(s1, g(b01, 1), 'book01.scores')),
        vec(walkthroughText.book.naive, naive, 'book.simplified.naive2', badge(naive, g(b01, 3), 'book01.naive')),
        vec(
          walkthroughText.book.weightsJourney,
          w1,
          'book.simplified.weights2',
          badge(w1, g(b01, 5), 'book01.weights'),
        ),
        vec(
          walkthroughText.book.contextJourney,
          c1,
          'book.simplified.context2',
          badge(c1, g(b01, 6), 'book01.context'),
        ),
      ),
      h(
        'div',
        { class: 'badges' },
        badge(r.intermediates.weights.data, g(b02, 2), 'book02.weights', 1, walkthroughText.book.allRows),
        badge(r.context, g(b02, 4), 'book02.context', 1, walkthroughText.book.allContexts),
      ),
    );
    book.append(st);
    addMatrix(
      st,
      { title: walkthroughText.book.allWeights, name: 'book-simplified-weights', kind: 'weights' },
      { data: r.intermediates.weights.data, rows: n, cols: n, ...labels },
    );
  }

  // 2.2 SelfAttention_v1, seed 123
  {
    const r = await fwd('self-v1', { dIn: 3, dOut: 2, seed: 123 }, X, [1, n, 3], { wantStateDict: true });
    const I = r.intermediates;
    const q2 = row(I.queries, 1, 2);
    const s22 = I.scores.data[1 * n + 1];
    const s2 = row(I.scores, 1, n),
      w2 = row(I.weights, 1, n),
      c2 = Array.from(r.context.subarray(2, 4));
    const st = step(walkthroughText.book.trainable, walkthroughText.book.trainableText);
    const grid = h('div', { class: 'grid3' });
    st.append(grid);
    book.append(st);
    for (const [name, title] of [
      ['W_query', walkthroughText.book.wq],
      ['W_key', walkthroughText.book.wk],
      ['W_value', walkthroughText.book.wv],
    ]) {
      const t = r.stateDict[name];
      addMatrix(
        grid,
        { title, name: `v1-${name}`, kind: 'signed', maxWidth: 220 },
        { data: t.data, rows: t.shape[0], cols: t.shape[1], rowLabels: ['1', '2', '3'], colLabels: ['1', '2'] },
      );
    }
    st.append(
      h(
        'div',
        { class: 'vecs' },
        vec(walkthroughText.book.query2, q2, 'book.v1.query2', badge(q2, g(b03, 2), 'book03.query2')),
        vec(walkthroughText.book.score22, [s22], 'book.v1.score22', badge([s22], g(b03, 4), 'book03.score22')),
        vec(walkthroughText.book.scores2, s2, 'book.v1.scores2', badge(s2, g(b03, 5), 'book03.scores2')),
        vec(walkthroughText.book.weights2, w2, 'book.v1.weights2', badge(w2, g(b03, 6), 'book03.weights2')),
        vec(walkthroughText.book.context2, c2, 'book.v1.context2', badge(c2, g(b03, 7), 'book03.context2')),
      ),
      h('div', { class: 'badges' }, badge(r.context, g(b04, 0), 'book04.context', 1, walkthroughText.book.allContexts)),
    );
    addMatrix(
      st,
      { title: walkthroughText.book.v1All, name: 'book-v1-context', kind: 'signed' },
      { data: r.context, rows: n, cols: 2, rowLabels: tokens, colLabels: ['1', '2'] },
    );
  }

  // 2.3 SelfAttention_v2, seed 789
  let sd789;
  {
    const r = await fwd('self', { dIn: 3, dOut: 2, seed: 789 }, X, [1, n, 3], { wantStateDict: true });
    sd789 = stateDictToNested(r.stateDict);
    const st = step(
      walkthroughText.book.v2,
      walkthroughText.book.v2Text,
      h('div', { class: 'badges' }, badge(r.context, g(b05, 0), 'book05.context', 1, walkthroughText.book.allOutputs)),
    );
    book.append(st);
    addMatrix(
      st,
      { title: walkthroughText.book.v2Title, name: 'book-v2-context', kind: 'signed' },
      { data: r.context, rows: n, cols: 2, rowLabels: tokens, colLabels: ['1', '2'] },
    );
  }

  // 2.4 causal, both routes, with the v2 weights
  {
    const opts = { dIn: 3, dOut: 2, seed: 789, stateDict: sd789, causal: true };
    const a = await fwd('causal', { ...opts, causalRoute: 'renormalise' }, X, [1, n, 3]);
    const b = await fwd('causal', { ...opts, causalRoute: 'neg-inf' }, X, [1, n, 3]);
    const masked = b.intermediates.masked_scores;
    // The book prints the masked *unscaled* scores; if the module masks after scaling, compare at that scale.
    const scaledMask =
      masked &&
      b.intermediates.scaled_scores &&
      masked.data[0] === b.intermediates.scaled_scores.data[0] &&
      masked.data[0] !== b.intermediates.scores.data[0];
    const diff = maxDiff(Array.from(a.intermediates.weights.data), Array.from(b.intermediates.weights.data));
    const st = step(walkthroughText.book.causal, walkthroughText.book.causalText);
    book.append(st);
    const colA = h('div', { class: 'route' }, h('h5', null, walkthroughText.book.routeA));
    const colB = h('div', { class: 'route' }, h('h5', null, walkthroughText.book.routeB));
    st.append(h('div', { class: 'grid2' }, colA, colB));
    addMatrix(
      colA,
      { title: walkthroughText.book.routeAUnmasked, name: 'causal-unmasked', kind: 'weights', maxWidth: 420 },
      { data: a.intermediates.unmasked_weights.data, rows: n, cols: n, ...labels },
    );
    colA.append(badge(a.intermediates.unmasked_weights.data, g(b06, 0), 'book06.unmasked'));
    addMatrix(
      colA,
      { title: walkthroughText.book.routeAWeights, name: 'causal-renormalised', kind: 'weights', maxWidth: 420 },
      { data: a.intermediates.weights.data, rows: n, cols: n, ...labels },
    );
    colA.append(badge(a.intermediates.weights.data, g(b06, 3), 'book06.weights'));
    addMatrix(
      colB,
      {
        title: scaledMask ? walkthroughText.book.routeBMaskedScaled : walkthroughText.book.routeBMasked,
        note: scaledMask ? walkthroughText.book.routeBScaledNote : null,
        name: 'causal-masked-scores',
        kind: 'signed',
        maxWidth: 420,
      },
      { data: masked.data, rows: n, cols: n, ...labels },
    );
    colB.append(badge(masked.data, g(b07, 0), 'book07.masked', scaledMask ? 1 / Math.sqrt(2) : 1));
    addMatrix(
      colB,
      { title: walkthroughText.book.routeBWeights, name: 'causal-neg-inf', kind: 'weights', maxWidth: 420 },
      { data: b.intermediates.weights.data, rows: n, cols: n, ...labels },
    );
    colB.append(badge(b.intermediates.weights.data, g(b07, 1), 'book07.weights'));
    st.append(
      h(
        'p',
        { class: 'agree', dataset: { key: 'causal.routes.maxdiff', value: diff } },
        walkthroughText.book.routesAgree(fmtSci(diff)),
      ),
    );
  }

  // 2.5 dropout: first on a matrix of ones (the book's demo), then on the causal weights
  {
    // Zero inputs make every score 0, so a non-causal row's weights are all 1/n: dropout of a matrix of ones,
    // scaled by 1/n. With a state_dict given, the seed drives the dropout only, as torch.manual_seed(123) does.
    const zeros = X.map((r) => r.map(() => 0));
    const ones = await fwd(
      'causal',
      { dIn: 3, dOut: 2, seed: 123, stateDict: sd789, dropout: 0.5, causal: false },
      zeros,
      [1, n, 3],
      {
        forwardOptions: { train: true },
      },
    );
    const dropOnes = ones.intermediates.weights_after_dropout.data.map((v) => v * n);
    const st0 = step(walkthroughText.book.dropoutOnes, walkthroughText.book.dropoutOnesText);
    book.append(st0);
    addMatrix(
      st0,
      { title: walkthroughText.book.dropoutOnesTitle, name: 'dropout-ones', kind: 'weights', decimals: 0 },
      {
        data: dropOnes,
        rows: n,
        cols: n,
        rowLabels: tokens.map((_, k) => String(k + 1)),
        colLabels: tokens.map((_, k) => String(k + 1)),
      },
    );
    st0.append(badge(dropOnes, g(b08, 0), 'book08.ones'));
    const r = await fwd('causal', { dIn: 3, dOut: 2, seed: 123, stateDict: sd789, dropout: 0.5 }, X, [1, n, 3], {
      forwardOptions: { train: true },
    });
    const d = r.intermediates.weights_after_dropout;
    const st = step(walkthroughText.book.dropout, walkthroughText.book.dropoutText);
    book.append(st);
    addMatrix(
      st,
      { title: walkthroughText.book.dropoutWeights, name: 'dropout-weights', kind: 'weights' },
      { data: d.data, rows: n, cols: n, ...labels },
    );
    st.append(badge(d.data, g(b08, 1), 'book08.dropout'));
  }

  // 2.6–2.8 the classes on a batch of two
  const X2 = [X, X];
  {
    const r = await fwd('causal', { dIn: 3, dOut: 2, seed: 123, contextLength: n, dropout: 0 }, X2, [2, n, 3]);
    const st = step(
      walkthroughText.book.causalClass,
      walkthroughText.book.causalClassText,
      h('div', { class: 'badges' }, badge(r.context, g(b09, 1), 'book09.context', 1, walkthroughText.book.allOutputs)),
    );
    book.append(st);
    addMatrix(
      st,
      {
        title: walkthroughText.book.contextBatch(0),
        name: 'causal-class-context',
        kind: 'signed',
        note: walkthroughText.book.batchSame,
      },
      { data: r.context.subarray(0, n * 2), rows: n, cols: 2, rowLabels: tokens, colLabels: ['1', '2'] },
    );
  }
  {
    const r = await fwd(
      'multihead-wrapper',
      { dIn: 3, dOut: 2, numHeads: 2, seed: 123, contextLength: n, dropout: 0 },
      X2,
      [2, n, 3],
    );
    const st = step(
      walkthroughText.book.wrapper,
      walkthroughText.book.wrapperText,
      h('div', { class: 'badges' }, badge(r.context, g(b10, 0), 'book10.context', 1, walkthroughText.book.allOutputs)),
    );
    book.append(st);
    const grid = h('div', { class: 'grid2' });
    st.append(grid);
    for (let hh = 0; hh < 2; hh++)
      addMatrix(
        grid,
        { title: walkthroughText.book.head(hh), name: `wrapper-head${hh}`, kind: 'weights', maxWidth: 420 },
        { data: r.intermediates.weights.data.subarray(hh * n * n, (hh + 1) * n * n), rows: n, cols: n, ...labels },
      );
    addMatrix(
      st,
      { title: walkthroughText.book.contextBatch(0), name: 'wrapper-context', kind: 'signed' },
      {
        data: r.context.subarray(0, n * 4),
        rows: n,
        cols: 4,
        rowLabels: tokens,
        colLabels: ['h1·1', 'h1·2', 'h2·1', 'h2·2'],
      },
    );
  }
  {
    const r = await fwd('multihead', { dIn: 3, dOut: 2, numHeads: 2, seed: 123, contextLength: n, dropout: 0 }, X2, [
      2,
      n,
      3,
    ]);
    const st = step(
      walkthroughText.book.mha,
      walkthroughText.book.mhaText,
      h('div', { class: 'badges' }, badge(r.context, g(b11, 0), 'book11.context', 1, walkthroughText.book.allOutputs)),
    );
    book.append(st);
    const grid = h('div', { class: 'grid2' });
    st.append(grid);
    const heads = h('div', { class: 'grid2' });
    st.append(h('h5', null, walkthroughText.book.mhaHeads), heads);
    for (let hh = 0; hh < 2; hh++)
      addMatrix(
        heads,
        { title: walkthroughText.book.head(hh), name: `mha-head${hh}`, kind: 'weights', maxWidth: 420 },
        { data: r.intermediates.weights.data.subarray(hh * n * n, (hh + 1) * n * n), rows: n, cols: n, ...labels },
      );
    st.append(shapesTable({ b: 2, n, dIn: 3, dOut: 2, heads: 2 }, S.shapes.caption(2, n, 3, 2, 2)));
    const before = r.intermediates.context_before_out_proj;
    if (before)
      addMatrix(
        grid,
        { title: walkthroughText.book.beforeOut, name: 'mha-before-out-proj', kind: 'signed', maxWidth: 300 },
        { data: before.data.subarray(0, n * 2), rows: n, cols: 2, rowLabels: tokens, colLabels: ['h1', 'h2'] },
      );
    addMatrix(
      grid,
      { title: walkthroughText.book.afterOut, name: 'mha-context', kind: 'signed', maxWidth: 300 },
      { data: r.context.subarray(0, n * 2), rows: n, cols: 2, rowLabels: tokens, colLabels: ['1', '2'] },
    );
  }
  return views;
}
