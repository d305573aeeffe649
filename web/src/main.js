import './style.css';
import { S } from './strings.js';
import { h } from './util.js';
import { Compute } from './compute.js';
import { renderWalkthrough } from './walkthrough.js';
import { renderPlayground } from './playground.js';
import { renderPerf } from './perf.js';
import { renderLearn } from './learn.js';
import { readPermalink } from './permalink.js';

document.title = S.title;
const $ = (id) => document.getElementById(id);

function fillStatic() {
  for (const el of document.querySelectorAll('[data-s]')) {
    const v = el.dataset.s.split('.').reduce((o, k) => o?.[k], S);
    if (typeof v === 'string') el.textContent = v;
  }
}

async function main() {
  fillStatic();
  const compute = new Compute();
  const status = $('engine');
  status.textContent = S.loading;
  let info;
  try {
    info = await compute.call('info');
  } catch (e) {
    status.textContent = S.loadFailed + e.message;
    status.classList.add('error');
    document.body.dataset.ready = 'error';
    return;
  }
  status.textContent = S.engine(info.simd, info.threads, info.isolated, info.version);
  const permalink = readPermalink(location.hash); // a "Link to this view" restores the playground
  if (permalink) $('playground').scrollIntoView();
  const mechanisms = info.mechanisms; // the package's ak.mechanisms: the page keeps no list of its own
  const tasks = [
    renderWalkthrough($('walkthrough-body'), compute).then(() => {
      $('walkthrough-body').dataset.ready = 'true';
      const checks = [...document.querySelectorAll('[data-check]')];
      $('hero-context').textContent = $('shiny-context').textContent;
      $('hero-checks').textContent = S.hero.checks(checks.filter((c) => c.dataset.ok === 'true').length, checks.length);
      $('hero-card').hidden = false;
    }),
    Promise.resolve(renderPlayground($('playground-body'), compute, mechanisms, permalink)),
  ];
  renderLearn($('learn-body'), info, () => new Compute());
  renderPerf($('perf-body'), () => new Compute(), info.benchConfigs);
  try {
    await Promise.all(tasks);
    document.body.dataset.ready = 'true';
  } catch (e) {
    $('walkthrough-body').prepend(h('p', { class: 'error', role: 'status' }, S.loadFailed + e.message));
    document.body.dataset.ready = 'error';
    console.error(e);
  }
}

main();
