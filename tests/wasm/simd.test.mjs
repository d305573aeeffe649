// The shipped .wasm really runs SIMD128: the attention kernels (gemm_nt, gemm_nn, softmax, fused attention)
// contain f32x4 arithmetic, checked by disassembling with wabt's wasm-objdump. Function names come from the
// symbol map the build writes next to the module (--emit-symbol-map); the shipped .wasm carries no names.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, DIST } from './helpers.mjs';
import { load } from '../../wasm/index.mjs';

const KERNELS = ['gemm_nt_f32', 'gemm_nn_f32', 'softmax_f32', 'attention_f32'];

const BUILDS = [
  {
    name: 'single-thread',
    wasm: join(ROOT, 'build-wasm', 'wasm', 'attnkit.wasm'),
    symbols: join(ROOT, 'build-wasm', 'wasm', 'attnkit.mjs.symbols'),
    dist: join(DIST, 'attnkit.wasm'),
  },
  {
    name: 'pthreads',
    wasm: join(ROOT, 'build-wasm-mt', 'wasm', 'attnkit-mt.wasm'),
    symbols: join(ROOT, 'build-wasm-mt', 'wasm', 'attnkit-mt.mjs.symbols'),
    dist: join(DIST, 'attnkit-mt.wasm'),
  },
];

// func index → disassembly text of that function
function disassemble(file) {
  const text = execFileSync('wasm-objdump', ['-d', file], { encoding: 'utf8', maxBuffer: 512 * 1024 * 1024 });
  const funcs = new Map();
  let current = null;
  for (const line of text.split('\n')) {
    const m = /^[0-9a-f]+ func\[(\d+)\]/.exec(line);
    if (m) {
      current = [];
      funcs.set(Number(m[1]), current);
      continue;
    }
    if (current) current.push(line);
  }
  return funcs;
}

function symbols(file) {
  const map = new Map();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const i = line.indexOf(':');
    if (i > 0)
      map.set(Number(line.slice(0, i)), decodeURIComponent(line.slice(i + 1).replace(/\\([0-9a-f]{2})/g, '%$1')));
  }
  return map;
}

function count(lines, re) {
  let n = 0;
  for (const l of lines) if (re.test(l)) n++;
  return n;
}

for (const b of BUILDS) {
  const present = existsSync(b.wasm) && existsSync(b.symbols);
  test(
    `${b.name} build: the attention kernels contain f32x4 instructions`,
    { skip: !present && b.name === 'pthreads' ? 'pthreads build not built (ATTNKIT_WASM_MT=0)' : false },
    (t) => {
      assert.ok(present, `${b.wasm} and its symbol map must exist (run scripts/build-wasm.sh)`);
      assert.ok(existsSync(b.dist), `${b.dist} missing`);
      assert.ok(readFileSync(b.dist).equals(readFileSync(b.wasm)), 'dist/ holds the module that was disassembled');
      const names = symbols(b.symbols);
      const funcs = disassemble(b.wasm);
      for (const kernel of KERNELS) {
        const hits = [...names].filter(([, n]) => n.includes(`::${kernel}<`));
        assert.ok(hits.length > 0, `no function named ${kernel} in ${b.symbols}`);
        for (const [index, name] of hits) {
          assert.ok(funcs.get(index), `function ${index} (${name}) not in the disassembly`);
          // the kernel and the attnkit::kernels helpers it calls (e.g. a gemm micro-tile), transitively
          const seen = new Set([index]);
          const queue = [index];
          while (queue.length) {
            for (const line of funcs.get(queue.pop()) || []) {
              const m = /\bcall (\d+)\b/.exec(line);
              if (!m) continue;
              const callee = Number(m[1]);
              if (!seen.has(callee) && (names.get(callee) || '').includes('attnkit::kernels::')) {
                seen.add(callee);
                queue.push(callee);
              }
            }
          }
          const body = [...seen].flatMap((i) => funcs.get(i) || []);
          const mul = count(body, /\bf32x4\.mul\b/);
          const add = count(body, /\bf32x4\.add\b/);
          const loads = count(body, /\bv128\.load\b/);
          t.diagnostic(
            `${kernel} (func ${index}, ${seen.size} function(s) with its kernel helpers): ${mul} f32x4.mul, ${add} f32x4.add, ${loads} v128.load`,
          );
          assert.ok(mul > 0 && add > 0, `${name} has no f32x4 arithmetic (mul ${mul}, add ${add})`);
          if (kernel === 'softmax_f32') {
            // docs/architecture.md, "SIMD in wasm": xsimd::exp's float→int conversion is scalarised per lane under Emscripten
            assert.equal(
              count(body, /\bi32\.trunc(_sat)?_f32_s\b/),
              0,
              'softmax converts float→int lane by lane (scalar exp)',
            );
          }
        }
      }
    },
  );
}

test('the module reports the wasm SIMD instruction set', async () => {
  const ak = await load({ threads: false });
  assert.equal(ak.simd, 'wasm-simd128');
});
