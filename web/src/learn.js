// "Watch it learn" (#learn): a task, a model, Start / Pause / Step / Reset. Training runs in a worker of
// its own with the package's model (ak.createModel, AdamW by default), a chunk of steps per message, so the
// page draws between chunks and never blocks.
import { S } from './strings.js';
import { h, nextId, fmt } from './util.js';
import { fieldValue } from './pg-input.js';
import { CurveChart, ProbeViews, headScores } from './learn-charts.js';

const T = S.learn;
const CHUNK_MS = 80; // steps per message are sized to take about this long
const EVAL_MS = 500; // the evaluation set's accuracy is measured about this often (and at the end)
const APPEARED = 0.9; // a head with this share of its weight on the expected key shows the pattern

function field(label, control) {
  control.id ||= nextId('l');
  return h('div', { class: 'field' }, h('label', { for: control.id }, label), control);
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

export function renderLearn(root, info, makeCompute) {
  const tasks = info.tasks || [];
  const task = h(
    'select',
    { id: 'learn-task' },
    Object.entries(T.tasks).map(([v, t]) => {
      const spec = tasks.find((x) => x.name === v);
      return h(
        'option',
        { value: v, dataset: spec ? { goalSteps: spec.goalSteps, goalAccuracy: spec.goalAccuracy } : {} },
        t.name,
      );
    }),
  );
  const c = {
    heads: num('learn-heads', 1, 8, 4),
    dModel: num('learn-dmodel', 8, 128, 64),
    steps: num('learn-steps', 1, 20000, 600),
    lr: num('learn-lr', 0.0001, 1, 0.01, 'any'),
    seed: num('learn-seed', 0, 2147483647, 123, '1'),
  };
  const button = (id, text, primary) =>
    h('button', { type: 'button', class: primary ? 'primary' : null, id, 'data-testid': id }, text);
  const start = button('learn-start', T.start, true);
  const pause = button('learn-pause', T.pause);
  const stepB = button('learn-step-once', T.stepOnce);
  const reset = button('learn-reset', T.reset);
  const stepOut = h('output', { 'data-testid': 'learn-step', id: 'learn-step' }, '0');
  const lossOut = h('output', { 'data-testid': 'learn-loss', id: 'learn-loss' }, '—');
  const accOut = h('output', { id: 'learn-accuracy' }, '—');
  const about = h('p', { class: 'learn-about', id: 'learn-about' });
  const status = h('p', { class: 'help', id: 'learn-status', role: 'status', 'aria-live': 'polite' });
  const marker = h('p', { class: 'learn-marker', id: 'learn-marker', 'aria-live': 'polite' });
  const curves = new CurveChart();
  const snapshot = h('input', { type: 'range', id: 'learn-snapshot', min: '0', max: '0', value: '0' });
  const probeBox = h(
    'div',
    { class: 'learn-probe', id: 'learn-probe' },
    h('h3', null, T.untrainedRow),
    h('div', { class: 'learn-heads', dataset: { row: 'untrained' } }),
    h('h3', null, T.nowRow),
    h('div', { class: 'learn-heads', dataset: { row: 'now' } }),
  );
  const probes = new ProbeViews(probeBox);

  root.replaceChildren(
    h(
      'div',
      { class: 'learn-controls control-grid' },
      field(T.task, task),
      field(T.heads, c.heads),
      field(T.dModel, c.dModel),
      field(T.steps, c.steps),
      field(T.lr, c.lr),
      field(T.seed, c.seed),
    ),
    about,
    h('div', { class: 'row-buttons' }, start, pause, stepB, reset),
    h(
      'p',
      { class: 'learn-numbers' },
      h('span', null, T.stepLabel, ' ', stepOut),
      h('span', null, T.lossLabel, ' ', lossOut),
      h('span', null, T.accuracyEval, ' ', accOut),
    ),
    status,
    marker,
    curves.el,
    h('div', { class: 'field' }, h('label', { for: snapshot.id }, T.snapshot), snapshot),
    h('p', { class: 'help' }, T.probeHelp),
    probeBox,
  );
  const showAbout = () => {
    const spec = tasks.find((t) => t.name === task.value);
    about.textContent = T.tasks[task.value].about + (spec ? ` ${T.goal(spec.goalAccuracy, spec.goalSteps)}` : '');
  };
  showAbout();
  if (!info.canTrain) {
    for (const b of [start, pause, stepB, reset]) b.setAttribute('aria-disabled', 'true');
    status.textContent = T.missing;
    return;
  }

  const compute = makeCompute(); // a worker of its own: training never waits for the playground, nor it for us
  let running = false,
    busy = false,
    model = null; // { points, evals, snapshots: [{step, probe}], appeared, chunk }

  function setRunning(on) {
    running = on;
    start.setAttribute('aria-disabled', String(on));
    pause.setAttribute('aria-disabled', String(!on));
  }

  async function create() {
    const options = {
      task: task.value,
      heads: fieldValue(c.heads, T.heads),
      dModel: fieldValue(c.dModel, T.dModel),
      lr: fieldValue(c.lr, T.lr),
      seed: fieldValue(c.seed, T.seed),
    };
    const r = await compute.call('learn-create', { options });
    model = {
      points: [],
      evals: [{ step: 0, accuracy: r.eval.accuracy }],
      snapshots: [{ step: 0, probe: r.probe }],
      appeared: null,
      chunk: 1,
    };
    probes.update('untrained', r.probe, 0);
    show(model.snapshots.length - 1);
  }

  function show(k) {
    const s = model.snapshots[k];
    snapshot.max = String(model.snapshots.length - 1);
    snapshot.value = String(k);
    probes.update('now', s.probe, s.step);
    curves.update(model.points, model.evals, model.appeared, root.clientWidth);
    const last = model.points.at(-1);
    stepOut.textContent = String(last?.step ?? 0);
    lossOut.textContent = last ? fmt(last.loss, 4) : '—';
    accOut.textContent = fmt(model.evals.at(-1).accuracy, 3);
  }

  async function train(steps, final = true) {
    if (busy) return;
    busy = true;
    try {
      if (!model) await create();
      const due = final || performance.now() - model.evaluated > EVAL_MS;
      const r = await compute.call('learn-train', { steps, evaluate: due });
      model.chunk = Math.max(1, Math.min(500, Math.round((steps * CHUNK_MS) / Math.max(0.5, r.trainMs))));
      const first = r.step - r.losses.length + 1;
      r.losses.forEach((loss, k) => model.points.push({ step: first + k, loss, accuracy: r.accuracies[k] }));
      if (r.eval) {
        model.evals.push({ step: r.step, accuracy: r.eval.accuracy });
        model.evaluated = performance.now();
      }
      model.snapshots.push({ step: r.step, probe: r.probe });
      const scores = headScores(r.probe);
      const best = Math.max(...scores);
      if (model.appeared === null && best >= APPEARED) {
        model.appeared = r.step;
        marker.textContent = T.appeared(r.step, scores.indexOf(best), fmt(best, 2));
        marker.dataset.step = r.step;
      }
      show(model.snapshots.length - 1);
    } catch (e) {
      setRunning(false);
      status.textContent = S.pg.errorPrefix + e.message;
    } finally {
      busy = false;
    }
  }

  async function loop() {
    const target = fieldValue(c.steps, T.steps);
    while (running && (model?.points.length ?? 0) < target)
      await train(Math.min(model?.chunk ?? 1, target - (model?.points.length ?? 0)));
    setRunning(false);
    status.textContent = T.stopped(model?.points.length ?? 0);
  }

  start.addEventListener('click', () => {
    if (running) return;
    status.textContent = T.training;
    setRunning(true);
    loop().catch((e) => (status.textContent = S.pg.errorPrefix + e.message));
  });
  pause.addEventListener('click', () => setRunning(false));
  stepB.addEventListener('click', () => !running && train(1));
  reset.addEventListener('click', async () => {
    setRunning(false);
    while (busy) await new Promise((r) => setTimeout(r, 20));
    model = null;
    marker.textContent = '';
    delete marker.dataset.step;
    await create().catch((e) => (status.textContent = S.pg.errorPrefix + e.message));
    status.textContent = T.resetDone;
  });
  snapshot.addEventListener('input', () => model && show(Number(snapshot.value)));
  task.addEventListener('change', () => {
    showAbout();
    reset.click();
  });
  setRunning(false);
  create().catch((e) => (status.textContent = S.pg.errorPrefix + e.message));
}
