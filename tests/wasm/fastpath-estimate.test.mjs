// The fast path keeps its memory estimate for the last shape and options it saw (wasm/layer.hpp, FitKey): a shape that
// cannot fit is refused each time it comes, between calls that fit; an estimate that threw (a wrong dIn) is not kept;
// a call with other options or another rank is estimated anew. Against the book's printed numbers, in both builds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { load } from '../../wasm/index.mjs';
import { assertClose, bookTensor, f32, golden } from './helpers.mjs';

const INPUTS = golden('book_01').inputs.inputs_6x3;
const BATCH = f32([INPUTS, INPUTS]);
const TOO_LARGE =
  /^forward of causal on x of shape \[20000, 1\] needs (about|more than) \d+ bytes of wasm memory; expected at most 4294967296 bytes \(the wasm32 limit\); use fewer tokens or a smaller batch$/;

for (const threads of [false, true]) {
  const ak = await load({ threads });
  const build = threads ? 'pthreads' : 'single-thread';

  test(`${build}: a shape too large for wasm memory is refused every time, between calls that fit`, () => {
    // (20000, 3·65536) floats of q|k|v alone: 15.7 GB
    const wide = ak.create('causal', { dIn: 1, dOut: 65536, seed: 1 });
    const big = new Float32Array(20000).fill(0.25);
    for (let k = 0; k < 3; k++) {
      assert.throws(
        () => wide.forward(big, [20000, 1]),
        (e) => e instanceof RangeError && TOO_LARGE.test(e.message),
      );
      const small = wide.forward(new Float32Array([0.5, -0.5]), [2, 1]);
      assert.deepEqual(small.contextShape, [2, 65536]);
      // causal, the first token sees itself only: its context is its own value projection, 0.5·W_value[:, 0]
      const wv = wide.stateDict()['W_value.weight'].data;
      for (const c of [0, 1, 4095, 65535])
        assert.ok(Math.abs(small.context[c] - 0.5 * wv[c]) <= 1e-6 * (1 + Math.abs(wv[c])));
    }
    wide.dispose();
  });

  test(`${build}: an estimate that threw is not kept, and the book's numbers follow on every rank and option`, () => {
    const t = bookTensor(golden('book_11'), 'mha = MultiHeadAttention(d_in, d_out, context_length, 0.0, num_heads=2)');
    const layer = ak.create('multihead', { dIn: 3, dOut: 2, contextLength: 6, dropout: 0, numHeads: 2, seed: 123 });
    for (let k = 0; k < 2; k++) {
      assert.throws(
        () => layer.forward(new Float32Array(24), [2, 6, 2]),
        (e) => e.constructor === Error && /^x has d_in 2 \(shape \[2, 6, 2\]\); expected d_in 3$/.test(e.message),
      );
      assertClose(layer.forward(BATCH, [2, 6, 3]).context, t.expected, { atol: t.atol, what: 'batched' });
      // unbatched, the first sequence only: the first 12 numbers
      const one = layer.forward(BATCH.subarray(0, 18), [6, 3], { threads: 1, train: true });
      assert.deepEqual(one.contextShape, [6, 2]);
      assertClose(one.context, t.expected[0], { atol: t.atol, what: 'unbatched' });
    }
    layer.dispose();
  });
}
