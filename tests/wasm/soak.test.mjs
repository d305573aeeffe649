// The soaks (tests/wasm/soak.mjs) in short mode: 2 000 decode steps and 400 training steps (ATTNKIT_SOAK_STEPS
// overrides both) through both builds, memory flat by the bounds stated there. The full 100 000-step runs: npm run
// test:soak.
import { test } from 'node:test';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DIST } from './helpers.mjs';
import { assertFlat, decodeSoak, describe, trainSoak } from './soak.mjs';

const steps = Number(process.env.ATTNKIT_SOAK_STEPS ?? 2000);
const builds = [false, ...(existsSync(join(DIST, 'attnkit-mt.wasm')) ? [true] : [])];

for (const threads of builds) {
  test(`decode soak, ${threads ? 'pthreads' : 'single-thread'} build: ${steps} steps keep memory flat`, async (t) => {
    const t0 = performance.now();
    const r = await decodeSoak({ steps, threads, sessionSteps: Math.max(8, Math.floor(steps / 4)) });
    t.diagnostic(describe(r, (performance.now() - t0) / 1000));
    try {
      assertFlat(r);
    } finally {
      r.ak.terminate();
    }
  });
}

const trainSteps = Number(process.env.ATTNKIT_SOAK_STEPS ?? 400);
for (const threads of builds) {
  test(`training soak, ${threads ? 'pthreads' : 'single-thread'} build: ${trainSteps} steps keep memory flat`, async (t) => {
    const t0 = performance.now();
    const r = { ...(await trainSoak({ steps: trainSteps, threads })), kind: 'train' };
    t.diagnostic(describe(r, (performance.now() - t0) / 1000));
    try {
      assertFlat(r);
    } finally {
      r.ak.terminate();
    }
  });
}
