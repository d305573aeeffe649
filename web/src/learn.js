// "Watch it learn" (#learn): a task, a model, Start / Pause / Step / Reset. Training runs in a worker of
// its own with the package's model (ak.createModel) and AdamW, so the page never blocks.
import { S } from './strings.js';
import { h, nextId } from './util.js';

const T = S.learn;

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

export function renderLearn(root, info) {
  const task = h(
    'select',
    { id: 'learn-task' },
    Object.entries(T.tasks).map(([v, t]) => h('option', { value: v }, t.name)),
  );
  const controls = {
    task,
    heads: num('learn-heads', 1, 8, 1),
    dModel: num('learn-dmodel', 8, 128, 32),
    steps: num('learn-steps', 1, 5000, 300),
    lr: num('learn-lr', 0.0001, 0.1, 0.01, '0.0001'),
    seed: num('learn-seed', 0, 2147483647, 123, '1'),
  };
  const button = (id, text, primary) =>
    h('button', { type: 'button', class: primary ? 'primary' : null, dataset: { testid: id }, id }, text);
  const start = button('learn-start', T.start, true);
  const pause = button('learn-pause', T.pause);
  const stepB = button('learn-step-once', T.stepOnce);
  const reset = button('learn-reset', T.reset);
  const stepOut = h('output', { 'data-testid': 'learn-step', id: 'learn-step' }, '0');
  const lossOut = h('output', { 'data-testid': 'learn-loss', id: 'learn-loss' }, '—');
  const accOut = h('output', { id: 'learn-accuracy' }, '—');
  const about = h('p', { class: 'learn-about', id: 'learn-about' });
  const status = h('p', { class: 'help', id: 'learn-status', role: 'status', 'aria-live': 'polite' });
  const lossChart = h('div', { class: 'learn-chart', id: 'learn-loss-chart' });
  const probe = h('div', { class: 'grid2 learn-probe', id: 'learn-probe' });
  const showAbout = () => (about.textContent = T.tasks[task.value].about);
  task.addEventListener('change', showAbout);
  showAbout();

  root.replaceChildren(
    h(
      'div',
      { class: 'learn-controls control-grid' },
      field(T.task, controls.task),
      field(T.heads, controls.heads),
      field(T.dModel, controls.dModel),
      field(T.steps, controls.steps),
      field(T.lr, controls.lr),
      field(T.seed, controls.seed),
    ),
    about,
    h('div', { class: 'row-buttons' }, start, pause, stepB, reset),
    h(
      'p',
      { class: 'learn-numbers' },
      h('span', null, T.stepLabel, ' ', stepOut),
      h('span', null, T.lossLabel, ' ', lossOut),
      h('span', null, T.accuracyLabel, ' ', accOut),
    ),
    status,
    lossChart,
    probe,
  );
  const ready = !!info.canTrain;
  for (const b of [start, pause, stepB, reset]) b.setAttribute('aria-disabled', String(!ready));
  if (!ready) status.textContent = T.missing;
  return { controls, start, pause, stepB, reset, stepOut, lossOut, accOut, status, lossChart, probe, ready };
}
