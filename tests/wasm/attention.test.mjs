// ak.attention against a float64 reference written from the definition (attention-reference.mjs) and against
// PyTorch's golden files (tests/golden/torch/sdpa_*.json, computed in float64 by scripts/make_torch_golden.py).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { load } from '../../wasm/index.mjs';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DIST, flat, golden, rng, randomArray } from './helpers.mjs';
import { attentionReference, relError } from './attention-reference.mjs';

const ak = await load({ threads: false });
const next = rng(1111);
const TOL = 1e-5; // float32 against float64, relative
// Below these magnitudes an element is held to TOL·floor absolute: a sum of n_k terms of magnitude ~1 that
// cancels to near 0 carries float32's rounding of the terms, not of the result.
const OUTPUT_FLOOR = 0.1;
const WEIGHTS_FLOOR = 1e-2;

function problem(b, hq, hkv, nq, nk, d, dv, scale = 1) {
  const shapes = { queryShape: [b, hq, nq, d], keyShape: [b, hkv, nk, d], valueShape: [b, hkv, nk, dv] };
  return {
    query: randomArray(b * hq * nq * d, next, scale),
    key: randomArray(b * hkv * nk * d, next, scale),
    value: randomArray(b * hkv * nk * dv, next),
    shapes,
  };
}

// Runs ak.attention with weights per head and averaged, and checks output and both weights against the reference.
function check(p, options = {}, refMask) {
  const { queryShape, keyShape, valueShape } = p.shapes;
  const ref = attentionReference(p.query, queryShape, p.key, keyShape, p.value, valueShape, {
    mask: refMask,
    causal: options.causal,
    scale: options.scale,
  });
  const perHead = ak.attention(p.query, p.key, p.value, { ...p.shapes, ...options, returnWeights: true });
  const [b, hq, nq] = queryShape;
  const nk = keyShape[2];
  assert.deepEqual(perHead.outputShape, [b, hq, nq, valueShape[3]]);
  assert.deepEqual(perHead.weightsShape, [b, hq, nq, nk]);
  assert.ok(
    relError(perHead.output, ref.output, OUTPUT_FLOOR) <= TOL,
    `output: rel. error ${relError(perHead.output, ref.output, OUTPUT_FLOOR)}`,
  );
  assert.ok(
    relError(perHead.weights, ref.weights, WEIGHTS_FLOOR) <= TOL,
    `weights: rel. error ${relError(perHead.weights, ref.weights, WEIGHTS_FLOOR)}`,
  );
  const averaged = ak.attention(p.query, p.key, p.value, {
    ...p.shapes,
    ...options,
    returnWeights: true,
    averageWeights: true,
  });
  assert.deepEqual(averaged.weightsShape, [b, nq, nk]);
  assert.ok(relError(averaged.weights, ref.averaged, WEIGHTS_FLOOR) <= TOL, 'averaged weights');
  // the fused path (no weights) gives the same output
  const fused = ak.attention(p.query, p.key, p.value, { ...p.shapes, ...options });
  assert.equal(fused.weights, undefined);
  assert.ok(
    relError(fused.output, ref.output, OUTPUT_FLOOR) <= TOL,
    `fused output: rel. error ${relError(fused.output, ref.output, OUTPUT_FLOOR)}`,
  );
  return { ref, out: perHead };
}

test('sizes around the SIMD width (4 lanes): n_q, n_k, d, d_v in 1, 3, 4, 5, 12, 34', () => {
  for (const n of [1, 3, 4, 5, 12, 34]) {
    check(problem(1, 2, 2, n, n, n, n));
    check(problem(2, 1, 1, n, 5, 4, n), { causal: 'lower-right' });
    check(problem(1, 2, 1, 3, n, n, 4), { causal: 'upper-left' });
  }
});

test('n_q ≠ n_k and d ≠ d_v, with both causal alignments and a scale', () => {
  for (const causal of [false, 'upper-left', 'lower-right']) {
    check(problem(2, 2, 2, 5, 12, 4, 3), { causal });
    check(problem(1, 3, 3, 12, 5, 3, 7), { causal, scale: 0.3 });
  }
});

test('grouped-query and multi-query heads read key/value head h / (h_q / h_kv)', () => {
  check(problem(2, 6, 3, 4, 5, 4, 3));
  check(problem(1, 4, 1, 5, 5, 3, 3), { causal: 'upper-left' });
  check(problem(1, 12, 4, 3, 34, 5, 4), { causal: 'lower-right' });
});

// A mask of `shape` with random allowed entries (about 1 in 4 masked).
function booleanMask(shape) {
  const n = shape.reduce((a, v) => a * v, 1);
  return Array.from({ length: n }, () => next() > 0.25);
}

test('boolean masks of every rank, as a Uint8Array, a flat and a nested Array of booleans', () => {
  const p = problem(2, 4, 2, 5, 7, 4, 3);
  for (const shape of [[7], [5, 7], [1, 7], [4, 1, 7], [2, 1, 1, 7], [2, 4, 5, 7], [1, 4, 5, 1]]) {
    const bools = booleanMask(shape);
    const refMask = { kind: 'boolean', shape, data: bools };
    check(p, { attnMask: Uint8Array.from(bools, Number), attnMaskShape: shape }, refMask);
    check(p, { attnMask: bools, attnMaskShape: shape, causal: 'lower-right' }, refMask);
  }
  const nested = [
    [true, false, true, true, false, true, true],
    [false, true, true, true, true, true, false],
  ];
  const rows = check(
    problem(1, 1, 1, 2, 7, 3, 3),
    { attnMask: nested },
    { kind: 'boolean', shape: [2, 7], data: nested.flat() },
  );
  assert.equal(rows.out.weights[1], 0, 'a masked key has weight 0');
});

test('additive masks (Float32Array, -inf allowed) of every rank, combined with causal', () => {
  const p = problem(2, 2, 2, 4, 5, 3, 4);
  for (const shape of [[5], [4, 5], [2, 1, 4, 5], [1, 2, 1, 5]]) {
    const n = shape.reduce((a, v) => a * v, 1);
    const data = randomArray(n, next, 3);
    data[0] = -Infinity;
    for (const causal of [false, 'upper-left', 'lower-right']) {
      check(p, { attnMask: data, attnMaskShape: shape, causal }, { kind: 'additive', shape, data });
    }
  }
});

test('a row with nothing to attend to gives zeros, never NaN', () => {
  const p = problem(1, 2, 2, 4, 5, 4, 3);
  const mask = booleanMask([4, 5]);
  for (let j = 0; j < 5; j++) mask[2 * 5 + j] = false; // query 2 sees no key
  const { out } = check(p, { attnMask: mask, attnMaskShape: [4, 5] }, { kind: 'boolean', shape: [4, 5], data: mask });
  for (const h of [0, 1]) {
    for (let c = 0; c < 3; c++) assert.equal(out.output[(h * 4 + 2) * 3 + c], 0);
    for (let j = 0; j < 5; j++) assert.equal(out.weights[(h * 4 + 2) * 5 + j], 0);
  }
  // lower-right with more queries than keys: the first n_q − n_k rows see nothing
  const { out: lr } = check(problem(1, 1, 1, 6, 3, 4, 4), { causal: 'lower-right' });
  for (let c = 0; c < 12; c++) assert.equal(lr.output[c], 0);
  // an additive mask of -inf everywhere
  const all = new Float32Array(5).fill(-Infinity);
  const z = ak.attention(p.query, p.key, p.value, { ...p.shapes, attnMask: all, attnMaskShape: [5] });
  assert.ok(z.output.every((v) => v === 0));
});

test("large magnitudes: scores far outside exp's range still give the right weights", () => {
  const p = problem(1, 2, 2, 5, 12, 4, 4, 30); // scores up to about 30²·4/2
  check(p);
  check(p, { causal: 'upper-left' });
});

test('dropout in training mode: with value = identity, each output weight is 0 or weight / (1 − p), seeded', () => {
  const nk = 34;
  const p = problem(2, 2, 2, 12, nk, 4, nk);
  p.value = new Float32Array(2 * 2 * nk * nk);
  for (let s = 0; s < 4; s++) for (let j = 0; j < nk; j++) p.value[(s * nk + j) * nk + j] = 1;
  const ref = attentionReference(p.query, p.shapes.queryShape, p.key, p.shapes.keyShape, p.value, p.shapes.valueShape);
  const dropout = 0.25;
  const a = ak.attention(p.query, p.key, p.value, { ...p.shapes, dropout, train: true, seed: 7, returnWeights: true });
  assert.ok(relError(a.weights, ref.weights, WEIGHTS_FLOOR) <= TOL, 'weights are returned before dropout');
  let dropped = 0;
  for (let i = 0; i < ref.weights.length; i++) {
    if (a.output[i] === 0) {
      dropped++;
      continue;
    }
    assert.ok(
      Math.abs(a.output[i] - ref.weights[i] / (1 - dropout)) <= (TOL * ref.weights[i]) / (1 - dropout) + 1e-7,
      `output[${i}]`,
    );
  }
  const share = dropped / ref.weights.length;
  assert.ok(share > 0.18 && share < 0.32, `dropped ${share} of the weights; expected about ${dropout}`);
  const again = ak.attention(p.query, p.key, p.value, { ...p.shapes, dropout, train: true, seed: 7 });
  assert.deepEqual(again.output, a.output, 'same seed, same mask');
  const other = ak.attention(p.query, p.key, p.value, { ...p.shapes, dropout, train: true, seed: 8 });
  assert.notDeepEqual(other.output, a.output, 'another seed, another mask');
  const evalMode = ak.attention(p.query, p.key, p.value, { ...p.shapes, dropout });
  assert.ok(relError(evalMode.output, ref.output, OUTPUT_FLOOR) <= TOL, 'no dropout outside training');
});

test('nested Arrays with the shapes taken from them; threads give the same bits', () => {
  const q = [
    [
      [
        [1, 0],
        [0, 1],
        [1, 1],
      ],
    ],
  ];
  const k = [
    [
      [
        [1, 0],
        [0, 1],
      ],
    ],
  ];
  const v = [
    [
      [
        [1, 2, 3],
        [4, 5, 6],
      ],
    ],
  ];
  const out = ak.attention(q, k, v);
  assert.deepEqual(out.outputShape, [1, 1, 3, 3]);
  const ref = attentionReference(flat(q), [1, 1, 3, 2], flat(k), [1, 1, 2, 2], flat(v), [1, 1, 2, 3]);
  assert.ok(relError(out.output, ref.output, OUTPUT_FLOOR) <= TOL);
});

test(
  'the pthreads build gives the same bits for any thread count, on both paths',
  { skip: !existsSync(join(DIST, 'attnkit-mt.wasm')) && 'no pthreads build in dist/' },
  async () => {
    const mt = await load({ threads: true });
    const p = problem(2, 4, 2, 34, 130, 12, 5);
    for (const options of [
      { causal: 'lower-right' },
      { returnWeights: true },
      { attnMask: booleanMask([34, 130]), attnMaskShape: [34, 130] },
    ]) {
      const one = mt.attention(p.query, p.key, p.value, { ...p.shapes, ...options, threads: 1 });
      const many = mt.attention(p.query, p.key, p.value, { ...p.shapes, ...options, threads: mt.maxThreads });
      assert.deepEqual(many.output, one.output);
      assert.deepEqual(
        one.output,
        ak.attention(p.query, p.key, p.value, { ...p.shapes, ...options }).output,
        'same bits as the single-thread build',
      );
    }
    mt.terminate();
  },
);

// The sdpa cases of PyTorch's golden files: output and weights (per head and averaged), ≤ 1e-5 relative.
const GOLDEN = [
  'no_mask',
  'bool_mask',
  'float_mask',
  'causal_upper_left',
  'causal_lower_right',
  'causal_lower_right_more_queries',
  'd_ne_dv_scale',
  'fully_masked_row',
  'grouped_query',
  'multi_query',
];

for (const name of GOLDEN) {
  test(`PyTorch golden sdpa_${name}`, () => {
    const g = golden(`torch/sdpa_${name}.json`);
    const options = {
      queryShape: g.shapes['inputs.query'],
      keyShape: g.shapes['inputs.key'],
      valueShape: g.shapes['inputs.value'],
    };
    if (g.call.causal) options.causal = g.call.causal;
    if (g.call.scale !== null) options.scale = g.call.scale;
    if (g.inputs.attn_mask !== undefined) {
      const values = flat(g.inputs.attn_mask);
      options.attnMaskShape = g.shapes['inputs.attn_mask'];
      options.attnMask = typeof values[0] === 'boolean' ? values : Float32Array.from(values);
    }
    const [query, key, value] = ['query', 'key', 'value'].map((t) => Float32Array.from(flat(g.inputs[t])));
    const out = ak.attention(query, key, value, { ...options, returnWeights: true });
    assert.deepEqual(out.outputShape, g.shapes['outputs.output']);
    assert.deepEqual(out.weightsShape, g.shapes['outputs.weights']);
    assert.ok(
      relError(out.output, flat(g.outputs.output), OUTPUT_FLOOR) <= TOL,
      `output: ${relError(out.output, flat(g.outputs.output), OUTPUT_FLOOR)}`,
    );
    assert.ok(relError(out.weights, flat(g.outputs.weights), WEIGHTS_FLOOR) <= TOL, 'weights');
    const avg = ak.attention(query, key, value, { ...options, returnWeights: true, averageWeights: true });
    assert.ok(
      relError(avg.weights, flat(g.outputs.weights_averaged_over_heads), WEIGHTS_FLOOR) <= TOL,
      'averaged weights',
    );
    const fused = ak.attention(query, key, value, options);
    assert.ok(relError(fused.output, flat(g.outputs.output), OUTPUT_FLOOR) <= TOL, 'fused output');
  });
}
