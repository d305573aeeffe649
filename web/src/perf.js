// The performance panel: C1–C3 (the bench configs) in a worker of its own — attnkit against onnxruntime-web
// (wasm SIMD, the same comparison as `npm run bench:compare`) and against the plain-JavaScript reference,
// on the same input and the layer's own weights, measured in the same run.
import { S } from './strings.js';
import { h, fmtSci } from './util.js';

const perfText = S.perf; // the panel's strings
// The panel's choice: which of the package's bench configurations it offers, and how many timed runs each
// gets (C4 takes too long in a page). Shapes and FLOP counts are the core's (ak.benchConfigs).
const RUNS = { C1: 51, C2: 5, C3: 5 };
const panelConfigs = (benchConfigs) =>
  benchConfigs
    .filter((c) => RUNS[c.name])
    .map((c) => ({
      name: c.name,
      b: c.batch,
      n: c.tokens,
      dIn: c.dIn,
      dOut: c.dOut,
      h: c.numHeads,
      flops: c.flops,
      runs: RUNS[c.name],
    }));

const work = (f) =>
  f < 1e6 ? `${f} FLOP` : f < 1e9 ? `${(f / 1e6).toPrecision(3)} MFLOP` : `${(f / 1e9).toPrecision(3)} GFLOP`;
const rate = (g) => (g >= 0.1 ? g.toFixed(2) : g.toPrecision(2));
const ms = (v) =>
  v < 1
    ? `${(v * 1000).toPrecision(3)} µs`
    : v < 1000
      ? `${v.toFixed(v < 10 ? 2 : 1)} ms`
      : `${(v / 1000).toFixed(2)} s`;
const ratio = (r) => `${r.toFixed(r < 10 ? 2 : 1)}×`;

// Column groups; each row has one cell per leaf column after Config, Shape, Work and Threads.
const GROUPS = [
  { key: 'ak', label: perfText.groups.attnkit, cols: perfText.cols.attnkit },
  { key: 'ort', label: perfText.groups.ort, cols: perfText.cols.ort },
  { key: 'ref', label: perfText.groups.ref, cols: perfText.cols.ref },
];

// benchConfigs: the package's ak.benchConfigs (the core's C1–C4 with their FLOP counts).
export function renderPerf(root, makeCompute, benchConfigs) {
  const configs = panelConfigs(benchConfigs);
  // A worker of its own, started on first use, so long runs never hold up the playground. onnxruntime-web
  // fixes its thread count when it starts, so a new thread count gets a fresh worker.
  let compute = null,
    computeThreads = 0;
  const getCompute = (threads) => {
    if (compute && computeThreads !== threads) {
      compute.terminate();
      compute = null;
    }
    computeThreads = threads;
    return (compute ??= makeCompute());
  };
  const isolated = !!globalThis.crossOriginIsolated;
  const twoThreads = isolated && (navigator.hardwareConcurrency || 1) >= 2;

  const status = h('p', { class: 'perf-status', role: 'status', 'aria-live': 'polite' });
  const bar = h('progress', { max: '1', value: '0', hidden: true, 'aria-label': perfText.heading });
  const ortNote = h('p', { class: 'perf-note', id: 'perf-ort-note', role: 'status', 'aria-live': 'polite' });
  const rows = new Map();
  const tbody = h(
    'tbody',
    null,
    configs.map((c) => {
      const flops = c.flops;
      const cells = {};
      for (const g of GROUPS)
        cells[g.key] = g.cols.map((_, k) => h('td', { class: k === 0 ? 'num group-start' : 'num' }, perfText.pending));
      cells.threads = h('td', { class: 'num' }, perfText.pending);
      const tr = h(
        'tr',
        { dataset: { config: c.name } },
        h('th', { scope: 'row' }, c.name),
        h('td', null, `b${c.b} · n${c.n} · d${c.dIn}${c.dIn !== c.dOut ? `→${c.dOut}` : ''} · h${c.h}`),
        h('td', { class: 'num' }, work(flops)),
        cells.threads,
        GROUPS.map((g) => cells[g.key]),
      );
      rows.set(c.name, { tr, cells });
      return tr;
    }),
  );
  const thead = h(
    'thead',
    null,
    h(
      'tr',
      null,
      perfText.cols.lead.map((c) => h('th', { scope: 'col', rowspan: '2' }, c)),
      GROUPS.map((g) =>
        h(
          'th',
          { scope: 'colgroup', colspan: String(g.cols.length), class: 'group-start', id: `perf-h-${g.key}` },
          g.label,
        ),
      ),
    ),
    h(
      'tr',
      null,
      GROUPS.map((g) => g.cols.map((c, k) => h('th', { scope: 'col', class: k === 0 ? 'group-start' : null }, c))),
    ),
  );

  const withOrt = h('input', { type: 'checkbox', id: 'perf-ort', checked: true });
  const withRef = h('input', { type: 'checkbox', id: 'perf-ref', checked: true });
  const threadsSel = h(
    'select',
    { id: 'perf-threads' },
    h('option', { value: '1', selected: true }, perfText.threads1),
    h('option', { value: '2', disabled: !twoThreads }, twoThreads ? perfText.threads2 : perfText.threads2Unavailable),
  );
  const buttons = configs.map((c) =>
    h('button', { type: 'button', dataset: { run: c.name }, onclick: () => runList([c]) }, perfText.run(c.name)),
  );
  const all = h('button', { type: 'button', class: 'primary', onclick: () => runList(configs) }, perfText.runAll);
  const cancel = h(
    'button',
    { type: 'button', 'aria-disabled': 'true', onclick: () => busy && compute?.cancel() },
    perfText.cancel,
  );
  // Buttons are marked aria-disabled while a run is on (not disabled), so the one pressed keeps focus.
  const runButtons = [all, ...buttons];
  const setBusy = (on) => {
    runButtons.forEach((b) => b.setAttribute('aria-disabled', String(on)));
    cancel.setAttribute('aria-disabled', String(!on));
    controls.forEach((b) => (b.disabled = on));
  };
  const scroller = h(
    'div',
    { class: 'table-scroll', tabindex: '0', role: 'region', 'aria-label': perfText.tableLabel },
    h('table', { class: 'perf-table', id: 'perf-table' }, thead, tbody),
  );
  const scrollBox = h(
    'div',
    { class: 'table-scroll-box' },
    h('p', { class: 'scroll-cue', 'aria-hidden': 'true' }, perfText.scrollCue),
    scroller,
  );
  // The cue shows only when the table is wider than its box (phones): text, and shadows at the cut edges.
  if (typeof ResizeObserver === 'function')
    new ResizeObserver(() =>
      scrollBox.classList.toggle('scrolls', scroller.scrollWidth > scroller.clientWidth + 1),
    ).observe(scroller);
  const controls = [withOrt, withRef, threadsSel];
  root.replaceChildren(
    h('div', { class: 'row-buttons' }, all, buttons, cancel),
    h(
      'div',
      { class: 'perf-options' },
      h('span', { class: 'perf-option' }, withOrt, h('label', { for: 'perf-ort' }, perfText.withOrt)),
      h('span', { class: 'perf-option' }, withRef, h('label', { for: 'perf-ref' }, perfText.withRef)),
      h('span', { class: 'perf-option' }, h('label', { for: 'perf-threads' }, perfText.threadsLabel), threadsSel),
    ),
    h('div', { class: 'perf-progress' }, bar, status),
    scrollBox,
    ortNote,
    h('p', { class: 'help' }, perfText.ratioNote),
    h('p', { class: 'help' }, perfText.ortHelp),
    h('p', { class: 'help' }, perfText.threadsNote(isolated)),
    h('p', { class: 'help' }, perfText.timingNote),
    h('p', { class: 'help' }, perfText.flopsNote),
    h('p', { class: 'help' }, perfText.smallNote),
  );

  const fill = (tds, vals) =>
    tds.forEach((td, k) => {
      td.textContent = vals[k] ?? perfText.pending;
      td.removeAttribute('title');
    });

  let busy = false;
  async function runList(list) {
    if (busy) return;
    busy = true;
    setBusy(true);
    bar.hidden = false;
    const threads = Number(threadsSel.value);
    const ort = withOrt.checked,
      reference = withRef.checked;
    // progress bar: equal shares for attnkit, onnxruntime-web and the reference (those that run)
    const parts = ['wasm', ...(ort ? ['ort'] : []), ...(reference ? ['reference'] : [])];
    const at = (phase, f) => (parts.indexOf(phase) + Math.min(1, f)) / parts.length;
    try {
      for (const c of list) {
        const { tr, cells } = rows.get(c.name);
        cells.threads.textContent = String(threads);
        fill(
          cells.ak,
          cells.ak.map(() => '…'),
        );
        fill(
          cells.ort,
          cells.ort.map(() => (ort ? '…' : perfText.off)),
        );
        fill(
          cells.ref,
          cells.ref.map(() => (reference ? '…' : perfText.off)),
        );
        for (const k of ['medianMs', 'gflops', 'speedup', 'maxdiff', 'ortMs', 'ortRatio', 'ortMaxdiff', 'ortError'])
          delete tr.dataset[k];
        tr.dataset.threads = threads;
        const r = await getCompute(threads).call(
          'bench',
          { ...c, threads, reference, ort },
          {
            onProgress: (p) => {
              if (p.phase === 'wasm') {
                bar.value = at('wasm', p.i / p.n);
                status.textContent = perfText.phaseWasm(c.name, p.i + 1, p.n, threads);
              } else if (p.phase === 'ort-load') {
                bar.value = at('ort', 0);
                status.textContent = perfText.phaseOrtLoad(c.name);
              } else if (p.phase === 'ort') {
                bar.value = at('ort', p.i / p.n);
                status.textContent = perfText.phaseOrt(c.name, p.i + 1, p.n, threads);
              } else {
                bar.value = at('reference', p.f ?? 0);
                status.textContent = perfText.phaseRef(c.name);
              }
            },
          },
        );
        fill(cells.ak, [ms(r.medianMs), rate(r.gflops)]);
        tr.dataset.medianMs = r.medianMs;
        tr.dataset.gflops = r.gflops;
        if (r.ort?.error) {
          fill(cells.ort, [perfText.ortFailedCell]);
          cells.ort[0].title = r.ort.error;
          tr.dataset.ortError = r.ort.error;
          ortNote.textContent = perfText.ortFailed(r.ort.error);
        } else if (r.ort) {
          fill(cells.ort, [ms(r.ort.medianMs), ratio(r.ort.ratio), fmtSci(r.ort.maxDiff)]);
          Object.assign(tr.dataset, { ortMs: r.ort.medianMs, ortRatio: r.ort.ratio, ortMaxdiff: r.ort.maxDiff });
          ortNote.textContent = perfText.ortLoaded(r.ort.version, threads);
        }
        if (reference) {
          fill(cells.ref, [ms(r.refMs), ratio(r.speedup), fmtSci(r.maxDiff)]);
          Object.assign(tr.dataset, { speedup: r.speedup, maxdiff: r.maxDiff });
        }
        bar.value = 1;
        status.textContent = perfText.done(c.name);
      }
    } catch (e) {
      status.textContent = e.name === 'AbortError' ? perfText.cancelled : `${S.pg.errorPrefix}${e.message}`;
      for (const { cells } of rows.values())
        for (const td of [...cells.ak, ...cells.ort, ...cells.ref])
          if (td.textContent === '…') td.textContent = perfText.pending;
    } finally {
      busy = false;
      setBusy(false);
      threadsSel.options[1].disabled = !twoThreads;
      bar.hidden = true;
    }
  }
}
