// The decode soak (tests/wasm/soak.mjs) in short mode: 2 000 steps (ATTNKIT_SOAK_STEPS overrides) through both
// builds, memory flat by the bounds stated there. The full 100 000-step run: npm run test:soak.
import { test } from 'node:test';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DIST } from './helpers.mjs';
import { assertFlat, decodeSoak, describe } from './soak.mjs';

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
