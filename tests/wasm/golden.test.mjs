// Every golden file through the JS API (numbers are read from data/book and tests/golden, never copied here).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { load } from '../../wasm/index.mjs';
import { golden, f32, flat, shapeOf, assertClose, bookTensor } from './helpers.mjs';

const ak = await load({ threads: false });
const FULL = { atol: 2e-6, rtol: 2e-6 }; // vs torch's float32 numbers at full precision

// Each printed tensor of a book step: the printed value (its abs_tol) and torch's full-precision float32.
function checkBook(actual, file, snippet, k = 0) {
  const t = bookTensor(file, snippet, k);
  assertClose(actual, t.expected, { atol: t.atol, what: `${file.example} printed` });
  if (t.full) assertClose(actual, t.full, { ...FULL, what: `${file.example} full precision` });
}

function params(file) {
  return file.parameters_debian_torch_1_13_1.values;
}

function assertStateDictEquals(sd, values, what) {
  assert.deepEqual(Object.keys(sd).sort(), Object.keys(values).sort(), `${what}: parameter names`);
  for (const [name, v] of Object.entries(values)) {
    assert.deepEqual(sd[name].shape, shapeOf(v), `${what}: shape of ${name}`);
    assertClose(sd[name].data, flat(v), { atol: 0, what: `${what}: ${name}` }); // drawn bit for bit
  }
}

const INPUTS = golden('book_01').inputs.inputs_6x3;
const BATCH = [INPUTS, INPUTS]; // torch.stack((inputs, inputs), dim=0)

test('hacktricks "Hello shiny sun!": simplified attention (float32 and float64 references)', () => {
  const g = golden('hacktricks_hello_shiny_sun');
  const x = g.tokens.map((t) => g.embeddings[t]);
  const out = ak.run('simplified', {}, f32(x), [3, 3], { returnWeights: true, intermediates: true });
  assert.deepEqual(out.contextShape, [3, 3]);
  assert.deepEqual(out.weightsShape, [1, 3, 3]);
  assertClose(out.context, g.computed.float32.all_context, { atol: 1e-6, what: 'context' });
  assertClose(out.weights, g.computed.float32.all_weights, { atol: 1e-6, what: 'weights' });
  assertClose(out.intermediates.scores.data, g.computed.float32.all_scores, { atol: 1e-6, what: 'scores' });
  assertClose(out.context, g.computed.float64.all_context, { atol: 1e-6, what: 'context vs float64' });
  const q = g.tokens.indexOf(g.query);
  assertClose(out.context.subarray(3 * q, 3 * q + 3), g.computed.float32.context_shiny, {
    atol: 1e-6,
    what: 'context of shiny',
  });
});

test('book 01/02: simplified attention on "Your journey starts with one step"', () => {
  const b1 = golden('book_01');
  const b2 = golden('book_02');
  const out = ak.run('simplified', {}, f32(INPUTS), [6, 3], { returnWeights: true, intermediates: true });
  checkBook(out.intermediates.scores.data, b2, 'attn_scores = inputs @ inputs.T');
  checkBook(out.weights, b2, 'attn_weights = torch.softmax(attn_scores, dim=-1)');
  checkBook(out.context, b2, 'all_context_vecs = attn_weights @ inputs');
  // book_01: the second token as the query
  checkBook(out.intermediates.scores.data.subarray(6, 12), b1, 'attn_scores_2[i] = torch.dot');
  checkBook(out.weights.subarray(6, 12), b1, 'attn_weights_2 = torch.softmax(attn_scores_2, dim=0)');
  checkBook(out.context.subarray(3, 6), b1, 'context_vec_2 += attn_weights_2[i]*x_i');
});

test('book 03: trainable weights step by step (self-v1, seed 123)', () => {
  const b = golden('book_03');
  const layer = ak.create('self-v1', { dIn: 3, dOut: 2, seed: 123 });
  assertStateDictEquals(layer.stateDict(), params(b), 'self-v1 seed 123');
  const out = layer.forward(f32(INPUTS), [6, 3], { returnWeights: true, intermediates: true });
  checkBook(out.intermediates.queries.data.subarray(2, 4), b, 'query_2 = x_2 @ W_query');
  checkBook(out.intermediates.scores.data.subarray(6, 12), b, 'attn_scores_2 = query_2 @ keys.T');
  checkBook(out.weights.subarray(6, 12), b, 'attn_weights_2 = torch.softmax(attn_scores_2 / d_k**0.5');
  checkBook(out.context.subarray(2, 4), b, 'context_vec_2 = attn_weights_2 @ values');
  layer.dispose();
});

test('book 04: SelfAttention_v1, seed 123 (drawn parameters and output)', () => {
  const b = golden('book_04');
  const layer = ak.create('self-v1', { dIn: 3, dOut: 2, seed: 123 });
  assertStateDictEquals(layer.stateDict(), params(b), 'self-v1 seed 123');
  const out = layer.forward(f32(INPUTS), [6, 3]);
  assert.deepEqual(out.contextShape, [6, 2]);
  checkBook(out.context, b, 'sa_v1 = SelfAttention_v1(d_in, d_out)');
  layer.dispose();
});

test('book 05: SelfAttention_v2, seed 789 (drawn parameters and output)', () => {
  const b = golden('book_05');
  const layer = ak.create('self', { dIn: 3, dOut: 2, seed: 789 });
  assertStateDictEquals(layer.stateDict(), params(b), 'self seed 789');
  const out = layer.forward(f32(INPUTS), [6, 3]);
  checkBook(out.context, b, 'sa_v2 = SelfAttention_v2(d_in, d_out)');
  layer.dispose();
});

for (const route of ['renormalise', 'neg-inf']) {
  test(`book 06/07: causal weights, route ${route}, both routes give the book's weights`, () => {
    const b6 = golden('book_06');
    const b7 = golden('book_07');
    const layer = ak.create('causal', { dIn: 3, dOut: 2, seed: 789, causalRoute: route });
    assertStateDictEquals(layer.stateDict(), params(b6), 'causal seed 789');
    const out = layer.forward(f32(INPUTS), [6, 3], { returnWeights: true, intermediates: true });
    assert.deepEqual(out.weightsShape, [1, 6, 6]);
    // the same final weights for both routes: book_06's renormalised weights and book_07's −inf softmax
    checkBook(out.weights, b6, 'masked_simple_norm = masked_simple / row_sums');
    checkBook(out.weights, b7, 'attn_weights = torch.softmax(masked / keys.shape[-1]**0.5');
    // the steps of each route
    const scores = out.intermediates.scores.data;
    if (route === 'renormalise') {
      checkBook(
        out.intermediates.unmasked_weights.data,
        b6,
        'attn_weights = torch.softmax(attn_scores / keys.shape[-1]**0.5',
      );
      const masked = out.intermediates.unmasked_weights.data.map((w, i) => (i % 6 > Math.floor(i / 6) ? 0 : w));
      checkBook(masked, b6, 'masked_simple = attn_weights*mask_simple');
      assert.equal(out.intermediates.masked_scores, undefined);
    } else {
      // book_07 masks the unscaled scores with −inf; masked_scores holds −inf exactly there
      const t = bookTensor(b7, 'masked = attn_scores.masked_fill');
      const exp = flat(t.expected);
      const maskedScores = out.intermediates.masked_scores.data;
      for (let i = 0; i < 36; i++) {
        if (exp[i] === -Infinity) assert.equal(maskedScores[i], -Infinity, `masked_scores[${i}]`);
        else assert.ok(Math.abs(scores[i] - exp[i]) <= t.atol, `scores[${i}] ${scores[i]} vs ${exp[i]}`);
      }
      assert.equal(out.intermediates.unmasked_weights, undefined);
    }
    layer.dispose();
  });
}

test('book 08: dropout(0.5) in training mode after torch.manual_seed(123) on the causal weights', () => {
  const b7 = golden('book_07');
  const b8 = golden('book_08');
  // parameters of the seed-789 layer, dropout generator restarted at 123 (construct with a state_dict)
  const out = ak.run(
    'causal',
    { dIn: 3, dOut: 2, dropout: 0.5, seed: 123, stateDict: params(b7) },
    f32(INPUTS),
    [6, 3],
    { train: true, returnWeights: true, intermediates: true },
  );
  checkBook(out.intermediates.weights_after_dropout.data, b8, 'print(dropout(attn_weights))');
  checkBook(out.weights, b7, 'attn_weights = torch.softmax(masked / keys.shape[-1]**0.5'); // weights before dropout
  // eval mode: no dropout, same context as dropout 0
  const evalOut = ak.run(
    'causal',
    { dIn: 3, dOut: 2, dropout: 0.5, seed: 123, stateDict: params(b7) },
    f32(INPUTS),
    [6, 3],
  );
  const noDrop = ak.run('causal', { dIn: 3, dOut: 2, seed: 123, stateDict: params(b7) }, f32(INPUTS), [6, 3]);
  assert.deepEqual(Array.from(evalOut.context), Array.from(noDrop.context));
});

test('book 09: CausalAttention, seed 123, batch of two', () => {
  const b = golden('book_09');
  const layer = ak.create('causal', { dIn: 3, dOut: 2, contextLength: 6, dropout: 0, seed: 123 });
  assertStateDictEquals(layer.stateDict(), params(b), 'causal seed 123');
  const out = layer.forward(f32(BATCH), [2, 6, 3]);
  assert.deepEqual(out.contextShape, [2, 6, 2]);
  checkBook(out.context, b, 'ca = CausalAttention(d_in, d_out, context_length, 0.0)');
  layer.dispose();
});

test('book 10: MultiHeadAttentionWrapper, 2 heads, seed 123', () => {
  const b = golden('book_10');
  const layer = ak.create('multihead-wrapper', {
    dIn: 3,
    dOut: 2,
    contextLength: 6,
    dropout: 0,
    numHeads: 2,
    seed: 123,
  });
  assertStateDictEquals(layer.stateDict(), params(b), 'wrapper seed 123');
  const out = layer.forward(f32(BATCH), [2, 6, 3], { returnWeights: true });
  assert.deepEqual(out.contextShape, [2, 6, 4]);
  assert.deepEqual(out.weightsShape, [2, 2, 6, 6]);
  checkBook(out.context, b, 'mha = MultiHeadAttentionWrapper(');
  layer.dispose();
});

test('book 11: MultiHeadAttention, 2 heads, seed 123', () => {
  const b = golden('book_11');
  const layer = ak.create('multihead', { dIn: 3, dOut: 2, contextLength: 6, dropout: 0, numHeads: 2, seed: 123 });
  assertStateDictEquals(layer.stateDict(), params(b), 'multihead seed 123');
  const out = layer.forward(f32(BATCH), [2, 6, 3], { returnWeights: true });
  assert.deepEqual(out.contextShape, [2, 6, 2]);
  assert.deepEqual(out.weightsShape, [2, 2, 6, 6]);
  checkBook(out.context, b, 'mha = MultiHeadAttention(d_in, d_out, context_length, 0.0, num_heads=2)');
  layer.dispose();
});

// ref_*.json: float64 cases with given weights (nn.Linear layout), loaded as nested lists and as { shape, data }.
function refCases() {
  const mha = golden('ref_mha_b2_t5');
  const causal = golden('ref_causal_attention_b2_t5');
  const wrapper = golden('ref_mha_wrapper_b2_t5');
  const v1 = golden('ref_self_attention_v1_t5');
  const wsd = {};
  for (let h = 0; h < 3; h++) {
    for (const w of ['W_query', 'W_key', 'W_value']) wsd[`heads.${h}.${w}.weight`] = wrapper.weights[`heads.${h}.${w}`];
  }
  return [
    {
      name: 'ref_mha',
      g: mha,
      mechanism: 'multihead',
      options: { dIn: 4, dOut: 6, numHeads: 3, contextLength: 5 },
      sd: {
        'W_query.weight': mha.weights.W_query,
        'W_key.weight': mha.weights.W_key,
        'W_value.weight': mha.weights.W_value,
        'out_proj.weight': mha.weights.out_proj,
        'out_proj.bias': mha.weights.out_proj_bias,
      },
      x: mha.inputs,
      weights: mha.attn_weights_per_head,
      output: mha.output,
      inter: {
        queries: mha.queries_per_head,
        keys: mha.keys_per_head,
        values: mha.values_per_head,
        masked_scores: mha.scaled_scores_per_head /* scaled, then −inf above the diagonal */,
        context_before_out_proj: mha.context_before_out_proj,
      },
    },
    {
      name: 'ref_causal',
      g: causal,
      mechanism: 'causal',
      options: { dIn: 4, dOut: 6, contextLength: 5 },
      sd: {
        'W_query.weight': causal.weights.W_query,
        'W_key.weight': causal.weights.W_key,
        'W_value.weight': causal.weights.W_value,
      },
      x: causal.inputs,
      weights: causal.attn_weights.map((w) => [w]),
      output: causal.output,
    },
    {
      name: 'ref_wrapper',
      g: wrapper,
      mechanism: 'multihead-wrapper',
      options: { dIn: 4, dOut: 2, numHeads: 3, contextLength: 5 },
      sd: wsd,
      x: wrapper.inputs,
      // the file holds (heads, b, n, n); the API returns (b, heads, n, n)
      weights: [0, 1].map((bi) => [0, 1, 2].map((h) => wrapper.attn_weights_per_head[h][bi])),
      output: wrapper.output,
    },
    {
      name: 'ref_self_v1',
      g: v1,
      mechanism: 'self-v1',
      options: { dIn: 4, dOut: 6 },
      sd: { W_query: v1.weights_in_out.W_query, W_key: v1.weights_in_out.W_key, W_value: v1.weights_in_out.W_value },
      x: v1.inputs,
      weights: [v1.attn_weights],
      output: v1.output,
    },
  ];
}

const REF = { atol: 1e-5, rtol: 1e-5 };
for (const c of refCases()) {
  for (const form of ['nested lists', '{ shape, data }']) {
    test(`${c.name} via stateDict as ${form}`, () => {
      const sd = {};
      for (const [k, v] of Object.entries(c.sd))
        sd[k] = form === 'nested lists' ? v : { shape: shapeOf(v), data: f32(v) };
      const layer = ak.create(c.mechanism, { ...c.options, stateDict: sd });
      // the stateDict comes back as given (float32)
      const back = layer.stateDict();
      for (const [k, v] of Object.entries(c.sd)) assertClose(back[k].data, Array.from(f32(v)), { atol: 0, what: k });
      const out = layer.forward(f32(c.x), shapeOf(c.x), { returnWeights: true, intermediates: !!c.inter });
      assert.deepEqual(out.contextShape, shapeOf(c.output));
      assertClose(out.context, c.output, { ...REF, what: `${c.name} output` });
      assertClose(out.weights, flat(c.weights), { ...REF, what: `${c.name} weights` });
      for (const [name, expected] of Object.entries(c.inter || {})) {
        assertClose(out.intermediates[name].data, expected, { ...REF, what: `${c.name} ${name}` });
      }
      layer.dispose();
    });
  }
}
