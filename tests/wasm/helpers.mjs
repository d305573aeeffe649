// Shared helpers for the wasm package tests (node --test tests/wasm).
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BOOK_DIR = join(ROOT, 'data', 'book'); // the book's printed numbers (product data)
export const GOLDEN_DIR = join(ROOT, 'tests', 'golden'); // generated float64 fixtures, ref_*.json
export const DIST = join(ROOT, 'dist');
// The native CLI, built by ensureNative() if it is missing (cmake target `attnkit` in build/).
export const CLI = join(ROOT, 'build', 'native', 'attnkit');

export function ensureNative() {
  if (existsSync(CLI)) return;
  const buildDir = join(ROOT, 'build');
  if (!existsSync(join(buildDir, 'CMakeCache.txt'))) {
    execFileSync('cmake', ['-S', ROOT, '-B', buildDir, '-DCMAKE_BUILD_TYPE=Release'], { stdio: 'inherit' });
  }
  execFileSync('cmake', ['--build', buildDir, '--target', 'attnkit', '-j2'], { stdio: 'inherit' });
  assert.ok(existsSync(CLI), `native CLI not built at ${CLI}`);
}

// A golden file by the start of its name: the book's (book_*, hacktricks_*) from data/book, the rest from tests/golden.
// A name with a folder ('torch/sdpa_no_mask') is looked up in that folder of tests/golden.
export function golden(name) {
  const slash = name.lastIndexOf('/');
  const base = name.startsWith('book_') || name.startsWith('hacktricks_') ? BOOK_DIR : GOLDEN_DIR;
  const dir = slash === -1 ? base : join(base, name.slice(0, slash));
  name = name.slice(slash + 1);
  const file = readdirSync(dir).find((f) => f.startsWith(name));
  assert.ok(file, `golden file ${name}* not found in ${dir}`);
  // Python's json writes -Infinity/Infinity/NaN, which JSON.parse refuses: turn them into the strings flat() knows.
  const text = readFileSync(join(dir, file), 'utf8')
    .replace(/([\[,:]\s*)-Infinity/g, '$1"-inf"')
    .replace(/([\[,:]\s*)Infinity/g, '$1"inf"')
    .replace(/([\[,:]\s*)NaN/g, '$1"nan"');
  return JSON.parse(text);
}

export function shapeOf(nested) {
  const shape = [];
  let v = nested;
  while (Array.isArray(v)) {
    shape.push(v.length);
    v = v[0];
  }
  return shape;
}

// Flattens nested lists; the string "-inf" becomes -Infinity.
export function flat(nested) {
  const out = [];
  const walk = (v) => {
    if (Array.isArray(v)) v.forEach(walk);
    else out.push(v === '-inf' ? -Infinity : v === 'inf' ? Infinity : v === 'nan' ? NaN : v);
  };
  walk(nested);
  return out;
}

export function f32(nested) {
  return Float32Array.from(flat(nested));
}

// |actual - expected| <= atol + rtol·|expected| element-wise; ±Inf must match exactly.
export function assertClose(actual, expected, { atol = 1e-6, rtol = 0, what = 'tensor' } = {}) {
  const a = Array.from(actual);
  const e = Array.isArray(expected) || ArrayBuffer.isView(expected) ? flat(Array.from(expected)) : expected;
  assert.equal(a.length, e.length, `${what}: ${a.length} elements, expected ${e.length}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(e[i])) {
      assert.equal(a[i], e[i], `${what}[${i}]: ${a[i]}, expected ${e[i]}`);
      continue;
    }
    const err = Math.abs(a[i] - e[i]);
    worst = Math.max(worst, err);
    assert.ok(
      err <= atol + rtol * Math.abs(e[i]),
      `${what}[${i}]: ${a[i]}, expected ${e[i]} (|diff| ${err} > ${atol + rtol * Math.abs(e[i])})`,
    );
  }
  return worst;
}

// Relative difference as used for native vs wasm: |a - b| / max(|b|, floor).
export function maxRelDiff(a, b, floor = 1e-3) {
  assert.equal(a.length, b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]) / Math.max(Math.abs(b[i]), floor);
    if (d > worst) worst = d;
  }
  return worst;
}

// Seeded PRNG for random test cases (mulberry32).
export function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomArray(n, next, scale = 1) {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (next() * 2 - 1) * scale;
  return a;
}

// A tensor of a book file: the step whose code contains `codeSnippet`, tensor index k.
export function bookTensor(file, codeSnippet, k = 0) {
  const step = file.steps.find((s) => s.code.includes(codeSnippet) && s.tensors.length > k);
  assert.ok(step, `no step with code containing ${JSON.stringify(codeSnippet)} in ${file.example}`);
  const t = step.tensors[k];
  return { expected: t.expected, shape: t.shape, atol: t.abs_tol + 1e-6, full: t.debian_full_precision_float32 };
}

// One small layer of each mechanism, for tests that run every mechanism on x of shape [2, 6, 3]; `dropout`
// for the causal one (it only acts with { train: true }).
export function mechanismCases(dropout) {
  return [
    ['simplified', {}],
    ['self-v1', { dIn: 3, dOut: 4 }],
    ['self', { dIn: 3, dOut: 4, qkvBias: true }],
    ['causal', { dIn: 3, dOut: 4, dropout }],
    ['multihead-wrapper', { dIn: 3, dOut: 2, numHeads: 3 }],
    ['multihead', { dIn: 3, dOut: 4, numHeads: 2, contextLength: 6 }],
  ];
}

// A bad-input table's row: `thunk` throws exactly `type` (Error or RangeError) with exactly `message`.
export function expectError(thunk, type, message, row = message) {
  assert.throws(
    thunk,
    (e) => {
      assert.equal(e.constructor, type, `${row}: expected ${type.name}, got ${e.constructor.name}: ${e.message}`);
      assert.equal(e.message, message, row);
      return true;
    },
    `${row}: expected an error`,
  );
}
