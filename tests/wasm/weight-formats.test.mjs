// State_dicts in the formats people have (issue "Attention for real models" §2): create({ weightsFormat,
// weightsPrefix }) loads torch.nn.MultiheadAttention's and GPT-2's attention block's state_dicts as PyTorch dumps
// them, and layer.stateDict({ format, prefix }) writes them back; checked against PyTorch's golden files
// (tests/golden/torch/mha_*.json, gpt2_attention_block.json), never against the package's own output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { load } from '../../wasm/index.mjs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DIST, f32, flat, golden } from './helpers.mjs';
import { relError } from './attention-reference.mjs';
import { MHA, mhaCase } from './torch-mha-cases.mjs';

const ak = await load({ threads: false });
const gpt2 = golden('torch/gpt2_attention_block.json');

// Every key of `expected` (a PyTorch dump) equals the written entry as float32, with its shape.
function assertStateDictEquals(written, expected, what) {
  assert.deepEqual(Object.keys(written).sort(), Object.keys(expected).sort(), `${what}: keys`);
  for (const [name, value] of Object.entries(expected)) {
    const want = typeof value === 'number' ? [value] : flat(value).map(Number);
    assert.deepEqual(Array.from(written[name].data), Array.from(Float32Array.from(want)), `${what}: ${name}`);
  }
}

for (const name of MHA) {
  for (const weightsFormat of ['torch-mha', 'auto']) {
    test(`PyTorch golden mha_${name}: nn.MultiheadAttention's own state_dict, weightsFormat ${weightsFormat}`, () => {
      const g = golden(`torch/mha_${name}.json`);
      const { create, forward, x, shape } = mhaCase(g, g.state_dict);
      // only what nn.MultiheadAttention's constructor says and its state_dict does not: embed_dim, num_heads;
      // kdim, vdim and bias are read from the keys and shapes
      const layer = ak.create('multihead', {
        numHeads: create.numHeads,
        causal: false,
        stateDict: g.state_dict,
        weightsFormat,
      });
      assert.equal(layer.dOutTotal, g.shapes['outputs.output'][2]);
      const out = layer.forward(x, shape, forward);
      const err = relError(out.context, flat(g.outputs.output), 0.1);
      assert.ok(err <= 1e-5, `context: ${err}`);
      if (g.outputs.weights) {
        assert.deepEqual(out.weightsShape, g.shapes['outputs.weights']);
        assert.ok(relError(out.weights, flat(g.outputs.weights), 1e-2) <= 1e-5, 'weights');
      }
      // written back in torch's names: the same numbers PyTorch dumped (bias=False writes no bias)
      assertStateDictEquals(layer.stateDict({ format: 'torch-mha' }), g.state_dict, name);
      layer.dispose();
    });
  }
}

test('PyTorch golden gpt2_attention_block: the block as it dumps itself and under GPT2Model\'s prefix "h.0.attn."', () => {
  const x = f32(gpt2.inputs.x);
  const shape = gpt2.shapes['inputs.x'];
  const cases = [
    { stateDict: gpt2.state_dict },
    { stateDict: gpt2.state_dict, weightsFormat: 'gpt2' },
    { stateDict: gpt2.state_dict_prefixed, weightsPrefix: 'h.0.attn.' },
    { stateDict: new Map(Object.entries(gpt2.state_dict_prefixed)), weightsFormat: 'gpt2', weightsPrefix: 'h.0.attn.' },
  ];
  for (const options of cases) {
    const layer = ak.create('multihead', { numHeads: 2, ...options });
    assert.equal(layer.causal, true, 'GPT-2 attention is causal');
    const out = layer.forward(x, shape, { returnWeights: true });
    assert.deepEqual(out.contextShape, gpt2.shapes['outputs.output']);
    const err = relError(out.context, flat(gpt2.outputs.output), 0.1);
    assert.ok(err <= 1e-5, `output: ${err}`);
    assert.deepEqual(out.weightsShape, gpt2.shapes['outputs.weights']);
    assert.ok(relError(out.weights, flat(gpt2.outputs.weights), 1e-2) <= 1e-5, 'weights');
    // the fast path (no weights) gives the same context
    assert.ok(relError(layer.forward(x, shape).context, flat(gpt2.outputs.output), 0.1) <= 1e-5, 'fused');
    // written back: GPT-2's keys and numbers, bias and masked_bias included, with and without the prefix
    assertStateDictEquals(layer.stateDict({ format: 'gpt2' }), gpt2.state_dict, 'gpt2');
    assertStateDictEquals(layer.stateDict({ format: 'gpt2', prefix: 'h.0.attn.' }), gpt2.state_dict_prefixed, 'gpt2');
    layer.dispose();
  }
});

test("a GPT-2 block's present_key / present_value: the decoder's cache gives the block's output token by token", () => {
  const layer = ak.create('multihead', { numHeads: 2, stateDict: gpt2.state_dict });
  const [b, n, e] = gpt2.shapes['inputs.x'];
  const x = f32(gpt2.inputs.x);
  const expected = flat(gpt2.outputs.output);
  const decoder = layer.decoder({ maxTokens: n, batch: b });
  const step = new Float32Array(b * e);
  for (let t = 0; t < n; t++) {
    for (let s = 0; s < b; s++) step.set(x.subarray((s * n + t) * e, (s * n + t + 1) * e), s * e);
    const { context, contextShape } = decoder.step(step, [b, 1, e]);
    assert.deepEqual(contextShape, [b, 1, e]);
    const want = [];
    for (let s = 0; s < b; s++) want.push(...expected.slice((s * n + t) * e, (s * n + t + 1) * e));
    assert.ok(relError(context, want, 0.1) <= 1e-5, `token ${t}`);
  }
  decoder.dispose();
  layer.dispose();
});

test('formats convert into each other: book ↔ torch-mha ↔ gpt2 give the same layer, bit for bit', () => {
  const book = ak.create('multihead', { dIn: 6, dOut: 6, numHeads: 3, qkvBias: true, seed: 9 });
  const x = new Float32Array(2 * 4 * 6).map((_, i) => Math.sin(i * 0.7));
  const want = Array.from(book.forward(x, [2, 4, 6]).context);
  for (const format of ['book', 'torch-mha', 'gpt2']) {
    const sd = book.stateDict({ format, prefix: 'blocks.3.' });
    assert.ok(
      Object.keys(sd).every((k) => k.startsWith('blocks.3.')),
      format,
    );
    const again = ak.create('multihead', { numHeads: 3, causal: true, stateDict: sd, weightsPrefix: 'blocks.3.' });
    assert.deepEqual(Array.from(again.forward(x, [2, 4, 6]).context), want, format);
    again.dispose();
  }
  // torch-mha's in_proj_weight is W_query; W_key; W_value stacked; gpt2's c_attn.weight is its transpose
  const sd = book.stateDict();
  const mha = book.stateDict({ format: 'torch-mha' });
  assert.deepEqual(mha.in_proj_weight.shape, [18, 6]);
  assert.deepEqual(Array.from(mha.in_proj_weight.data), [
    ...sd['W_query.weight'].data,
    ...sd['W_key.weight'].data,
    ...sd['W_value.weight'].data,
  ]);
  const c = book.stateDict({ format: 'gpt2' })['c_attn.weight'];
  assert.deepEqual(c.shape, [6, 18]);
  for (let i = 0; i < 6; i++)
    for (let j = 0; j < 18; j++) assert.equal(c.data[i * 18 + j], mha.in_proj_weight.data[j * 6 + i]);
  book.dispose();
});

test('the options and state_dict entries are read once: a counting getter, a bare number, boolean buffers', () => {
  let reads = 0;
  const options = {
    numHeads: 2,
    stateDict: gpt2.state_dict,
    get weightsFormat() {
      reads++;
      return 'gpt2';
    },
  };
  ak.create('multihead', options).dispose();
  assert.equal(reads, 1);
  // GPT-2's bias as 0/1 numbers (old checkpoints save uint8) instead of booleans, masked_bias as { shape: [], data }
  const numeric = {
    ...gpt2.state_dict,
    bias: flat(gpt2.state_dict.bias).map(Number),
    masked_bias: { shape: [], data: [-1e4] },
  };
  numeric.bias = { shape: [1, 1, 8, 8], data: numeric.bias };
  const layer = ak.create('multihead', { numHeads: 2, stateDict: numeric });
  const err = relError(layer.forward(f32(gpt2.inputs.x), [2, 5, 8]).context, flat(gpt2.outputs.output), 0.1);
  assert.ok(err <= 1e-5, `${err}`);
  layer.dispose();
});

// [what, () => call, error name, the message (exact)]
const mha = golden('torch/mha_self_attention.json').state_dict;
const withKey = (sd, key, value) => ({ ...sd, [key]: value });
const multihead = () => ak.create('multihead', { dIn: 4, dOut: 4, numHeads: 2 });
const BAD = [
  [
    'unknown weightsFormat',
    () => ak.create('multihead', { numHeads: 2, stateDict: mha, weightsFormat: 'hf' }),
    'Error',
    "unknown weights format 'hf'; expected one of auto, book, torch-mha, gpt2",
  ],
  [
    'empty weightsFormat',
    () => ak.create('multihead', { numHeads: 2, stateDict: mha, weightsFormat: '' }),
    'Error',
    "unknown weights format ''; expected one of auto, book, torch-mha, gpt2",
  ],
  [
    'weightsFormat not a string',
    () => ak.create('multihead', { numHeads: 2, stateDict: mha, weightsFormat: 5 }),
    'Error',
    "option weightsFormat must be a string, 'auto', 'book', 'torch-mha' or 'gpt2'; got number 5",
  ],
  [
    'weightsPrefix not a string',
    () => ak.create('multihead', { numHeads: 2, stateDict: mha, weightsPrefix: ['h.0.'] }),
    'Error',
    "option weightsPrefix must be a string, a key prefix such as 'h.0.attn.'; got an Array of length 1",
  ],
  [
    'weightsFormat without a stateDict',
    () => ak.create('multihead', { dIn: 4, dOut: 4, weightsFormat: 'gpt2' }),
    'Error',
    'option weightsFormat applies only with stateDict; expected a stateDict to load',
  ],
  [
    'keys of another format',
    () => ak.create('multihead', { numHeads: 2, stateDict: gpt2.state_dict, weightsFormat: 'torch-mha' }),
    'Error',
    "weights format torch-mha does not match the state_dict keys: c_attn.weight is gpt2's; expected in_proj_weight or q_proj_weight (torch-mha), or weights format gpt2 or auto",
  ],
  [
    "book named, torch's keys given",
    () => ak.create('multihead', { numHeads: 2, stateDict: mha, weightsFormat: 'book' }),
    'Error',
    "weights format book does not match the state_dict keys: in_proj_weight is torch-mha's; expected W_query.weight (book), or weights format torch-mha or auto",
  ],
  [
    'keys of two formats',
    () => ak.create('multihead', { numHeads: 2, stateDict: withKey(gpt2.state_dict, 'in_proj_weight', [[1]]) }),
    'Error',
    'the state_dict keys match more than one weights format: torch-mha (in_proj_weight) and gpt2 (c_attn.weight); expected the keys of one',
  ],
  [
    'prefixed keys without weightsPrefix',
    () => ak.create('multihead', { numHeads: 2, stateDict: gpt2.state_dict_prefixed }),
    'Error',
    "cannot tell the weights format from the state_dict keys (saw h.0.attn.bias, h.0.attn.masked_bias, h.0.attn.c_attn.weight, h.0.attn.c_attn.bias, h.0.attn.c_proj.weight, h.0.attn.c_proj.bias); expected in_proj_weight or q_proj_weight (torch-mha), c_attn.weight (gpt2) or W_query.weight (book); the keys look prefixed: expected the prefix 'h.0.attn.'",
  ],
  [
    'a prefix no key has',
    () => ak.create('multihead', { numHeads: 2, stateDict: gpt2.state_dict_prefixed, weightsPrefix: 'h.1.attn.' }),
    'Error',
    "no state_dict key starts with the prefix 'h.1.attn.' (saw h.0.attn.bias, h.0.attn.masked_bias, h.0.attn.c_attn.weight, h.0.attn.c_attn.bias, h.0.attn.c_proj.weight, h.0.attn.c_proj.bias); expected a prefix that some keys start with, e.g. 'h.0.attn.'",
  ],
  [
    'numHeads left out (not in the state_dict)',
    () => ak.create('multihead', { stateDict: gpt2.state_dict }),
    'Error',
    "option numHeads is required with gpt2 weights: GPT-2's n_head is not in its state_dict (GPT-2 small has 12); expected numHeads N dividing 8",
  ],
  [
    'numHeads left out (torch-mha)',
    () => ak.create('multihead', { stateDict: mha }),
    'Error',
    "option numHeads is required with torch-mha weights: nn.MultiheadAttention's num_heads is not in its state_dict; expected numHeads N dividing 8",
  ],
  [
    'numHeads not dividing embed_dim',
    () => ak.create('multihead', { numHeads: 3, stateDict: gpt2.state_dict }),
    'RangeError',
    'd_out (8) must be divisible by num_heads (3)',
  ],
  [
    'torch-mha on another mechanism',
    () => ak.create('causal', { dIn: 8, dOut: 8, stateDict: mha, weightsFormat: 'torch-mha' }),
    'Error',
    "torch-mha weights apply only to multihead; mechanism 'causal' loads the book's state_dict names (weights format book)",
  ],
  [
    'bias_k (add_bias_kv=True)',
    () => ak.create('multihead', { numHeads: 2, stateDict: withKey(mha, 'bias_k', [[new Array(8).fill(0)]]) }),
    'Error',
    'torch-mha key bias_k is not supported: nn.MultiheadAttention(add_bias_kv=True) appends a learned key and value to every sequence, which attnkit does not compute; expected a module built with add_bias_kv=False',
  ],
  [
    'a missing key',
    () => {
      const { 'out_proj.weight': _, ...rest } = mha;
      return ak.create('multihead', { numHeads: 2, stateDict: rest });
    },
    'Error',
    'torch-mha state_dict is missing key out_proj.weight (expected shape [E, E] (embed_dim, embed_dim))',
  ],
  [
    'an unknown key',
    () => ak.create('multihead', { numHeads: 2, stateDict: withKey(gpt2.state_dict, 'c_fc.weight', [[1]]) }),
    'Error',
    'gpt2 state_dict has unknown key c_fc.weight; expected c_attn.weight, c_attn.bias, c_proj.weight, c_proj.bias and the buffers bias, masked_bias',
  ],
  [
    'c_attn.weight of the wrong shape',
    () => ak.create('multihead', { numHeads: 2, stateDict: withKey(gpt2.state_dict, 'c_attn.weight', [[1, 2, 3]]) }),
    'Error',
    'gpt2 key c_attn.weight has shape [1, 3]; expected [8, 24] (n_embd, 3·n_embd), Conv1D layout (n_embd 8)',
  ],
  [
    'a bias buffer that is not the causal mask',
    () =>
      ak.create('multihead', {
        numHeads: 2,
        stateDict: withKey(gpt2.state_dict, 'bias', [
          [
            [
              [true, true],
              [true, true],
            ],
          ],
        ]),
      }),
    'Error',
    "gpt2 key bias is not the causal mask: entry [0, 0, 0, 1] is 1, expected 0 (lower-triangular ones; attnkit computes GPT-2's causal attention only)",
  ],
  [
    'masked_bias not a scalar',
    () => ak.create('multihead', { numHeads: 2, stateDict: withKey(gpt2.state_dict, 'masked_bias', [1, 2]) }),
    'Error',
    'gpt2 key masked_bias has shape [2]; expected [] (a scalar, ignored)',
  ],
  [
    'NaN in a parameter',
    () =>
      ak.create('multihead', {
        numHeads: 2,
        stateDict: withKey(gpt2.state_dict, 'c_proj.bias', [NaN, 0, 0, 0, 0, 0, 0, 0]),
      }),
    'Error',
    'gpt2 key c_proj.bias contains NaN at index [0]; expected finite numbers',
  ],
  [
    'a string entry',
    () => ak.create('multihead', { numHeads: 2, stateDict: withKey(gpt2.state_dict, 'masked_bias', 'x') }),
    'Error',
    'stateDict[\'masked_bias\'] must be nested Arrays of numbers, a number or { shape, data }; got the string "x"',
  ],
  [
    'a number that overflows float32',
    () => ak.create('multihead', { numHeads: 2, stateDict: withKey(gpt2.state_dict, 'masked_bias', 1e39) }),
    'RangeError',
    "stateDict['masked_bias'] has 1e+39 at index [], which overflows float32; expected numbers of magnitude at most 3.4028234663852886e+38",
  ],
  [
    'causal: false with GPT-2 weights',
    () => ak.create('multihead', { numHeads: 2, causal: false, stateDict: gpt2.state_dict }),
    'Error',
    'gpt2 attention is causal (its bias buffer is the causal mask); expected causal on or unset',
  ],
  [
    'dIn that disagrees with the state_dict',
    () => ak.create('multihead', { dIn: 4, numHeads: 2, stateDict: gpt2.state_dict }),
    'Error',
    'd_in (4) does not match the gpt2 state_dict: c_proj.weight [8, 8] gives embed_dim 8; expected d_in 8',
  ],
  [
    'stateDict({ format }) unknown',
    () => multihead().stateDict({ format: 'hf' }),
    'Error',
    "unknown weights format 'hf'; expected one of auto, book, torch-mha, gpt2",
  ],
  [
    "stateDict({ format: 'auto' })",
    () => multihead().stateDict({ format: 'auto' }),
    'Error',
    'a state_dict is written in one format; expected book, torch-mha or gpt2, got auto',
  ],
  [
    'stateDict({ format }) not a string',
    () => multihead().stateDict({ format: 7 }),
    'Error',
    "option format must be a string, 'book', 'torch-mha' or 'gpt2'; got number 7",
  ],
  [
    'stateDict({ prefix }) not a string',
    () => multihead().stateDict({ prefix: null }),
    'Error',
    "option prefix must be a string, a key prefix such as 'h.0.attn.'; got null",
  ],
  [
    'stateDict() unknown option',
    () => multihead().stateDict({ fmt: 'gpt2' }),
    'Error',
    "unknown stateDict option 'fmt'; expected one of format, prefix",
  ],
  [
    'stateDict() options a Map',
    () => multihead().stateDict(new Map([['format', 'gpt2']])),
    'Error',
    'stateDict options must be a plain object; got a Map (its entries are not read as options: pass { name: value, … }, e.g. Object.fromEntries(map))',
  ],
  [
    'gpt2 written from a non-causal layer',
    () => ak.create('multihead', { dIn: 4, dOut: 4, numHeads: 2, causal: false }).stateDict({ format: 'gpt2' }),
    'Error',
    'gpt2 weights are a causal block; this module is not causal (expected causal on to write gpt2)',
  ],
  [
    'gpt2 written with dIn ≠ dOut',
    () => ak.create('multihead', { dIn: 3, dOut: 4, numHeads: 2 }).stateDict({ format: 'gpt2' }),
    'Error',
    'gpt2 weights need d_in == d_out (its queries have embed_dim features); this module has d_in 3 and d_out 4',
  ],
  [
    'torch-mha written from another mechanism',
    () => ak.create('self', { dIn: 3, dOut: 4 }).stateDict({ format: 'torch-mha' }),
    'Error',
    "torch-mha weights apply only to multihead; mechanism 'self' loads the book's state_dict names (weights format book)",
  ],
];

for (const [what, call, name, message] of BAD) {
  test(`bad input: ${what}`, () => {
    const before = ak.memory().liveLayers;
    assert.throws(call, (e) => {
      assert.equal(e.constructor.name, name, `${e.name}: ${e.message}`);
      assert.equal(e.message, message);
      return true;
    });
    // a failed create leaves no layer behind (layers made only to call stateDict() on are freed by the registry)
    if (!what.startsWith('stateDict(') && !what.includes('written')) assert.equal(ak.memory().liveLayers, before);
  });
}

test('hostile: a getter that disposes the layer or terminates the instance mid-call gets an Error', async () => {
  const layer = multihead();
  assert.throws(
    () =>
      layer.stateDict({
        get format() {
          layer.dispose();
          return 'torch-mha';
        },
      }),
    { name: 'Error', message: 'layer was disposed; create a new one with ak.create()' },
  );
  // a Proxy stateDict options object is read once per key, through its traps
  const other = multihead();
  const seen = [];
  const proxy = new Proxy(
    { format: 'torch-mha' },
    {
      get(target, key) {
        seen.push(key);
        return target[key];
      },
    },
  );
  assert.ok('in_proj_weight' in other.stateDict(proxy));
  assert.deepEqual(seen.filter((k) => k === 'format').length, 1);
  other.dispose();
  // terminate() from a getter of create's options: the instance's own error, nothing half-made
  const ak2 = await load({ threads: false, wasmBinary: readFileSync(join(DIST, 'attnkit.wasm')) });
  assert.throws(
    () =>
      ak2.create('multihead', {
        numHeads: 2,
        stateDict: gpt2.state_dict,
        get weightsPrefix() {
          ak2.terminate();
          return '';
        },
      }),
    { name: 'Error', message: 'this attnkit instance was terminated (ak.terminate()); load a new one with load()' },
  );
});
