// The page's ONNX graph builder (web/src/onnx-graph.js) in onnxruntime-node against the page's plain-JS reference
// (web/src/reference.js), for the three graphs bench/compare runs: the causal prefill, the decode step with
// past_key/past_value and the prefill with key_padding_mask (bench/compare/check-onnx-graph.mjs does the work);
// and the reference's key_padding_mask against answers known without it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { normaliseStateDict, referenceForward } from '../../web/src/reference.js';
import { mulberry32 } from '../../web/src/prng.js';

const check = fileURLToPath(new URL('../../bench/compare/check-onnx-graph.mjs', import.meta.url));

for (const name of ['C1', 'D1', 'P1']) {
  test(`onnx graph ${name} matches the plain-JS reference`, () => {
    const r = spawnSync(process.execPath, [check, name], { encoding: 'utf8', timeout: 120000 });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const e = Number(/rel\. error ([0-9.e+-]+)/.exec(r.stdout)?.[1]);
    assert.ok(e <= 1e-4, `relative error ${e}`);
  });
}

// A random multihead state_dict (b, n, d_in 5, d_out 6, 2 heads) and input.
function setup(b, n) {
  const rand = mulberry32(3);
  const draw = (shape) => ({
    shape,
    data: Float32Array.from({ length: shape.reduce((x, y) => x * y, 1) }, () => 2 * rand() - 1),
  });
  const sd = normaliseStateDict({
    'W_query.weight': draw([6, 5]),
    'W_key.weight': draw([6, 5]),
    'W_value.weight': draw([6, 5]),
    'out_proj.weight': draw([6, 6]),
    'out_proj.bias': draw([6]),
  });
  return { sd, x: draw([b, n, 5]).data };
}

test('reference key_padding_mask: with only key 0 left, every row gets the context of row 0', () => {
  const { sd, x } = setup(2, 7);
  const cfg = { dOut: 6, numHeads: 2, causal: false };
  const mask = new Uint8Array(2 * 7).fill(1);
  mask[0] = 0;
  mask[7] = 0;
  const masked = referenceForward('multihead', cfg, sd, x, [2, 7, 5], { keyPaddingMask: mask });
  // Causal row 0 attends to key 0 only: the same answer, reached without the mask.
  const causal = referenceForward('multihead', { ...cfg, causal: true }, sd, x, [2, 7, 5]);
  for (let b = 0; b < 2; b++)
    for (let i = 0; i < 7; i++)
      for (let d = 0; d < 6; d++) {
        const got = masked.context[(b * 7 + i) * 6 + d],
          want = causal.context[b * 7 * 6 + d];
        assert.ok(
          Math.abs(got - want) <= 1e-6 * Math.max(1, Math.abs(want)),
          `b${b} row ${i} d${d}: ${got} vs ${want}`,
        );
      }
  for (let i = 0; i < 2 * 2 * 7; i++) assert.equal(masked.weights[i * 7], 1);
});

test('reference key_padding_mask: no padding is the unmasked answer; a fully padded row gets zero weights', () => {
  const { sd, x } = setup(1, 4);
  const cfg = { dOut: 6, numHeads: 2, causal: false };
  const plain = referenceForward('multihead', cfg, sd, x, [1, 4, 5]);
  const none = referenceForward('multihead', cfg, sd, x, [1, 4, 5], { keyPaddingMask: new Uint8Array(4) });
  assert.deepEqual(Array.from(none.context), Array.from(plain.context));
  const all = referenceForward('multihead', cfg, sd, x, [1, 4, 5], { keyPaddingMask: new Uint8Array(4).fill(1) });
  assert.ok(all.weights.every((w) => w === 0));
  // Nothing attended: the context before out_proj is zero, so the output is out_proj's bias.
  for (let i = 0; i < 4; i++)
    for (let d = 0; d < 6; d++) assert.equal(all.context[i * 6 + d], sd['out_proj.bias'].data[d]);
});
