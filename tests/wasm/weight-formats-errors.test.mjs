// Bad input to the package's weight formats that weight-formats.test.mjs's table leaves out: create(…, { stateDict,
// weightsFormat, weightsPrefix }) and layer.stateDict({ format, prefix }) with wrong shapes, missing and extra keys,
// non-finite values, prefixes that match nothing, options that contradict the state_dict, and hostile objects
// (getters, Proxies, Maps with Symbol keys, subclasses). Each row: the exact input and the Error or RangeError with
// its whole message; a failed create leaves no layer behind. Counts per interface: docs/reliability.md §8.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { load } from '../../wasm/index.mjs';
import { expectError, golden } from './helpers.mjs';

const ak = await load({ threads: false });
const gpt2 = golden('torch/gpt2_attention_block.json');
const mha = golden('torch/mha_self_attention.json').state_dict;
const withKey = (sd, key, value) => ({ ...sd, [key]: value });
const without = (sd, key) => Object.fromEntries(Object.entries(sd).filter(([k]) => k !== key));
const zeros = (n) => new Array(n).fill(0);
const create = (stateDict, options = {}) => ak.create('multihead', { numHeads: 2, stateDict, ...options });
const MHA_KEYS =
  'in_proj_weight, in_proj_bias (or q_proj_weight, k_proj_weight, v_proj_weight), out_proj.weight, out_proj.bias';

// [row, () => call, type, message]
const ROWS = [
  [
    'torch-mha in_proj_weight of another shape',
    () =>
      create(
        withKey(mha, 'in_proj_weight', [
          [1, 2],
          [3, 4],
        ]),
      ),
    Error,
    'torch-mha key in_proj_weight has shape [2, 2]; expected [24, 8] (3·embed_dim, embed_dim) (embed_dim 8)',
  ],
  [
    'torch-mha in_proj_weight of rank 1',
    () => create(withKey(mha, 'in_proj_weight', [1, 2, 3])),
    Error,
    'torch-mha key in_proj_weight has shape [3]; expected [24, 8] (3·embed_dim, embed_dim) (embed_dim 8)',
  ],
  [
    'torch-mha out_proj.bias of another length',
    () => create(withKey(mha, 'out_proj.bias', [1, 2, 3])),
    Error,
    'torch-mha key out_proj.bias has shape [3]; expected [8] (embed_dim) (embed_dim 8)',
  ],
  [
    'torch-mha Infinity',
    () => create(withKey(mha, 'out_proj.bias', [Infinity, ...zeros(7)])),
    Error,
    'torch-mha key out_proj.bias contains Inf at index [0]; expected finite numbers',
  ],
  [
    'torch-mha -Infinity in { shape, data }',
    () => create(withKey(mha, 'out_proj.bias', { shape: [8], data: new Float32Array(8).fill(-Infinity) })),
    Error,
    'torch-mha key out_proj.bias contains -Inf at index [0]; expected finite numbers',
  ],
  [
    'torch-mha an extra key',
    () => create(withKey(mha, 'extra', [1])),
    Error,
    `torch-mha state_dict has unknown key extra; expected ${MHA_KEYS}`,
  ],
  [
    'torch-mha a key with a NUL byte',
    () => create(withKey(mha, 'in_proj_weight\0', [1])),
    Error,
    `torch-mha state_dict has unknown key in_proj_weight\\x00; expected ${MHA_KEYS}`,
  ],
  [
    'torch-mha in_proj_bias missing (out_proj.bias kept)',
    () => create(without(mha, 'in_proj_bias')),
    Error,
    'torch-mha state_dict has out_proj.bias but no in_proj_bias; expected both (nn.MultiheadAttention(bias=True)) or neither (bias=False)',
  ],
  [
    'torch-mha in_proj_weight missing',
    () => create(without(mha, 'in_proj_weight')),
    Error,
    'torch-mha state_dict is missing key in_proj_weight (expected shape [24, 8] (3·embed_dim, embed_dim))',
  ],
  [
    'gpt2 c_attn.bias missing',
    () => create(without(gpt2.state_dict, 'c_attn.bias')),
    Error,
    'gpt2 state_dict is missing key c_attn.bias (expected shape [24])',
  ],
  [
    "GPT-2's keys with weightsFormat 'book'",
    () => create(gpt2.state_dict, { weightsFormat: 'book' }),
    Error,
    "weights format book does not match the state_dict keys: c_attn.weight is gpt2's; expected W_query.weight (book), or weights format gpt2 or auto",
  ],
  [
    "the book's keys with weightsFormat 'gpt2'",
    () => {
      const layer = ak.create('multihead', { dIn: 4, dOut: 4, numHeads: 2 });
      const book = layer.stateDict();
      layer.dispose();
      return create(book, { weightsFormat: 'gpt2' });
    },
    Error,
    "weights format gpt2 does not match the state_dict keys: W_query.weight is book's; expected c_attn.weight (gpt2), or weights format book or auto",
  ],
  [
    "an empty stateDict with weightsFormat 'torch-mha'",
    () => create({}, { weightsFormat: 'torch-mha' }),
    Error,
    'torch-mha state_dict is missing key out_proj.weight (expected shape [E, E] (embed_dim, embed_dim))',
  ],
  ['an empty stateDict, no dIn to build from', () => create({}), RangeError, 'd_in must be at least 1 (got 0)'],
  [
    'a prefix no torch-mha key has',
    () => create(mha, { weightsPrefix: 'attn.' }),
    Error,
    "no state_dict key starts with the prefix 'attn.' (saw in_proj_weight, in_proj_bias, out_proj.weight, out_proj.bias); expected a prefix that some keys start with, e.g. 'h.0.attn.'",
  ],
  [
    'a prefix that is a whole key',
    () => create(mha, { weightsPrefix: 'in_proj_weight' }),
    Error,
    'cannot tell the weights format from the state_dict keys (saw in_proj_weight); expected in_proj_weight or q_proj_weight (torch-mha), c_attn.weight (gpt2) or W_query.weight (book)',
  ],
  [
    'gpt2 written under a prefix, read back without it',
    () => {
      const layer = ak.create('multihead', { dIn: 4, dOut: 4, numHeads: 2 });
      const sd = layer.stateDict({ format: 'gpt2', prefix: 'h.3.attn.' });
      layer.dispose();
      return create(sd);
    },
    Error,
    "cannot tell the weights format from the state_dict keys (saw h.3.attn.c_attn.weight, h.3.attn.c_attn.bias, h.3.attn.c_proj.weight, h.3.attn.c_proj.bias); expected in_proj_weight or q_proj_weight (torch-mha), c_attn.weight (gpt2) or W_query.weight (book); the keys look prefixed: expected the prefix 'h.3.attn.'",
  ],
  [
    'weightsFormat in another case',
    () => create(mha, { weightsFormat: 'Torch-MHA' }),
    Error,
    "unknown weights format 'Torch-MHA'; expected one of auto, book, torch-mha, gpt2",
  ],
  // was accepted: qkvBias: false loaded the biases anyway (the state_dict turned the option back on)
  [
    'qkvBias: false with torch-mha biases',
    () => create(mha, { qkvBias: false }),
    Error,
    'option qkvBias is false but the torch-mha state_dict has key in_proj_bias; expected qkvBias true or unset to load its biases, or a state_dict without them',
  ],
  [
    'qkvBias: false with GPT-2 under a prefix',
    () => create(gpt2.state_dict_prefixed, { qkvBias: false, weightsPrefix: 'h.0.attn.' }),
    Error,
    'option qkvBias is false but the gpt2 state_dict has key h.0.attn.c_attn.bias; expected qkvBias true or unset to load its biases, or a state_dict without them',
  ],
  [
    "qkvBias: false with the book's W_query.bias",
    () => {
      const layer = ak.create('multihead', { dIn: 4, dOut: 4, numHeads: 2, qkvBias: true });
      const book = layer.stateDict();
      layer.dispose();
      return create(book, { qkvBias: false });
    },
    Error,
    'option qkvBias is false but the book state_dict has key W_query.bias; expected qkvBias true or unset to load its biases, or a state_dict without them',
  ],
  [
    'kDim that disagrees with a packed in_proj_weight',
    () => create(mha, { kDim: 3 }),
    Error,
    'k_dim (3) does not match the torch-mha key in_proj_weight of shape [24, 8], whose keys and values have embed_dim 8 features; expected k_dim 8 or 0',
  ],
  [
    'dOut that disagrees with torch-mha',
    () => create(mha, { dOut: 4 }),
    Error,
    'd_out (4) does not match the torch-mha state_dict: out_proj.weight [8, 8] gives embed_dim 8; expected d_out 8',
  ],
  [
    "contextLength that disagrees with GPT-2's bias buffer",
    () => create(gpt2.state_dict, { contextLength: 4 }),
    Error,
    'context_length (4) does not match the gpt2 key bias of shape [1, 1, 8, 8]; expected context_length 8 (n_positions) or unset',
  ],
  [
    'gpt2 keys on multihead-wrapper',
    () => ak.create('multihead-wrapper', { dIn: 8, dOut: 4, numHeads: 2, stateDict: gpt2.state_dict }),
    Error,
    "gpt2 weights apply only to multihead; mechanism 'multihead-wrapper' loads the book's state_dict names (weights format book)",
  ],
  [
    'torch-mha keys on self (auto)',
    () => ak.create('self', { dIn: 8, dOut: 8, stateDict: mha }),
    Error,
    "torch-mha weights apply only to multihead; mechanism 'self' loads the book's state_dict names (weights format book)",
  ],
  [
    'an entry of another typed array',
    () => create(withKey(mha, 'out_proj.bias', { shape: [8], data: new Float64Array(8) })),
    Error,
    "stateDict['out_proj.bias'].data must be a Float32Array or an Array of numbers; got a Float64Array of length 8",
  ],
  [
    'an entry whose shape and data disagree',
    () => create(withKey(mha, 'out_proj.bias', { shape: [4], data: new Float32Array(8) })),
    Error,
    "stateDict['out_proj.bias'].data has 8 elements but shape [4] needs 4",
  ],
  [
    'an entry with a negative dimension',
    () => create(withKey(mha, 'out_proj.bias', { shape: [-8], data: new Float32Array(8) })),
    RangeError,
    "stateDict['out_proj.bias'].shape [-8] has a negative dimension",
  ],
  [
    'an entry that is null',
    () => create(withKey(mha, 'out_proj.bias', null)),
    Error,
    "stateDict['out_proj.bias'] must be nested Arrays of numbers, a number or { shape, data }; got null",
  ],
  [
    'an entry holding a numeric string',
    () => create(withKey(mha, 'out_proj.bias', ['1', ...zeros(7)])),
    Error,
    'stateDict[\'out_proj.bias\'] has a non-number at index [0]: the string "1"; expected numbers',
  ],
  [
    'a ragged entry',
    () => create(withKey(mha, 'in_proj_weight', [[1, 2], [3]])),
    Error,
    "stateDict['in_proj_weight'] is ragged at index [1]: an Array of length 1; expected an Array of length 2 (shape [2, 2])",
  ],
  [
    'a Map of torch-mha keys with a Symbol key',
    () => create(new Map([...Object.entries(mha), [Symbol('in_proj_weight'), [1]]]), { weightsFormat: 'torch-mha' }),
    Error,
    "stateDict has a key that is not a string: symbol Symbol(in_proj_weight); expected parameter names such as 'W_query.weight'",
  ],
  [
    'an object with an enumerable Symbol key',
    () => create({ ...mha, [Symbol('s')]: [1] }),
    Error,
    "stateDict has a key that is not a string: symbol Symbol(s); expected parameter names such as 'W_query.weight'",
  ],
  [
    'a Map with a number key',
    () => create(new Map([...Object.entries(mha), [0, [1]]])),
    Error,
    "stateDict has a key that is not a string: number 0; expected parameter names such as 'W_query.weight'",
  ],
  [
    'stateDict() options null',
    () => ak.create('multihead', { dIn: 4, dOut: 4, numHeads: 2 }).stateDict(null),
    Error,
    'stateDict options must be an object; got null',
  ],
  [
    "stateDict('gpt2') (a string, not { format })",
    () => ak.create('multihead', { dIn: 4, dOut: 4, numHeads: 2 }).stateDict('gpt2'),
    Error,
    'stateDict options must be an object; got the string "gpt2"',
  ],
  [
    'stateDict({ format }) a Symbol',
    () => ak.create('multihead', { dIn: 4, dOut: 4, numHeads: 2 }).stateDict({ format: Symbol('gpt2') }),
    Error,
    "option format must be a string, 'book', 'torch-mha' or 'gpt2'; got symbol Symbol(gpt2)",
  ],
  [
    'stateDict({ format }) a String object',
    () => ak.create('multihead', { dIn: 4, dOut: 4, numHeads: 2 }).stateDict({ format: new String('gpt2') }),
    Error,
    "option format must be a string, 'book', 'torch-mha' or 'gpt2'; got an object (String)",
  ],
  [
    'stateDict({ format }) of a disposed layer',
    () => {
      const layer = ak.create('multihead', { dIn: 4, dOut: 4, numHeads: 2 });
      layer.dispose();
      return layer.stateDict({ format: 'torch-mha' });
    },
    Error,
    'layer was disposed; create a new one with ak.create()',
  ],
];

test('weight formats in JS: each bad input gets one Error naming the problem and the expected value', () => {
  for (const [row, call, type, message] of ROWS) {
    const before = ak.memory().liveLayers;
    expectError(call, type, message, row);
    if (!row.startsWith('stateDict(')) assert.equal(ak.memory().liveLayers, before, `${row}: a layer was left behind`);
  }
});

// The hostile objects that must be *accepted*, each read once: the layer is the one the plain dict gives.
test('weight formats in JS: Proxies, subclasses and getters are read once and give the plain result', () => {
  const x = new Float32Array(2 * 3 * 8).map((_, i) => Math.sin(i));
  const reference = create(mha, { causal: false });
  const expected = reference.forward(x, [2, 3, 8]).context;
  reference.dispose();
  let reads = 0;
  const counted = { ...mha };
  Object.defineProperty(counted, 'out_proj.bias', {
    enumerable: true,
    get() {
      reads += 1;
      return reads === 1 ? mha['out_proj.bias'] : [1]; // a second read would see a wrong shape
    },
  });
  class SubMap extends Map {}
  class SubArray extends Array {}
  class SubFloat32Array extends Float32Array {}
  class Dict {
    constructor() {
      Object.assign(this, mha);
    }
  }
  const cases = [
    ['a Proxy with no traps', new Proxy(mha, {})],
    ['a Map', new Map(Object.entries(mha))],
    ['a Map subclass', new SubMap(Object.entries(mha))],
    ['an instance of a class', new Dict()],
    ['an Array subclass entry', withKey(mha, 'out_proj.bias', SubArray.from(mha['out_proj.bias']))],
    [
      'a Float32Array subclass as data',
      withKey(mha, 'out_proj.bias', { shape: [8], data: SubFloat32Array.from(mha['out_proj.bias']) }),
    ],
    ['a counting getter', counted],
  ];
  for (const [what, stateDict] of cases) {
    const layer = create(stateDict, { causal: false });
    assert.deepEqual(layer.forward(x, [2, 3, 8]).context, expected, what);
    layer.dispose();
  }
  assert.equal(reads, 1, 'the getter was read once');
  // a Proxy whose ownKeys trap throws: the caller's own error, unchanged, and nothing left behind
  const before = ak.memory().liveLayers;
  const trap = new Proxy(mha, {
    ownKeys() {
      throw new TypeError('ownKeys trap');
    },
  });
  expectError(() => create(trap), TypeError, 'ownKeys trap');
  assert.equal(ak.memory().liveLayers, before);
});
