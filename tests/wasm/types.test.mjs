// wasm/attnkit.d.ts type-checks a usage file (tests/wasm/usage.ts), including @ts-expect-error lines that
// must stay errors. `attnkit` resolves to the root package through its exports map ("types").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './helpers.mjs';

test('tsc --noEmit on tests/wasm/usage.ts against wasm/attnkit.d.ts', () => {
  const tsc = join(ROOT, 'node_modules', '.bin', 'tsc');
  const r = spawnSync(tsc, ['-p', join(ROOT, 'tests', 'wasm', 'tsconfig.json')], { encoding: 'utf8', timeout: 120000 });
  assert.equal(r.status, 0, `tsc failed:\n${r.stdout}${r.stderr}`);
});
