// The core's facts through the package: ak.mechanisms is the core's traits table (core/include/attnkit/traits.hpp),
// frozen, and the .d.ts unions are checked against it (they are the one place the names are written in JS).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from '../../wasm/index.mjs';
import { ROOT, randomArray, rng } from './helpers.mjs';

const ak = await load({ threads: false });
const dts = readFileSync(join(ROOT, 'wasm', 'attnkit.d.ts'), 'utf8');
const union = (name) => {
  const m = dts.match(new RegExp(`export type ${name} =([^;]+);`));
  assert.ok(m, `no type ${name} in attnkit.d.ts`);
  return [...m[1].matchAll(/'([^']+)'/g)].map((x) => x[1]);
};

test('ak.mechanisms: the six mechanisms with their traits, frozen', () => {
  assert.ok(Object.isFrozen(ak.mechanisms));
  assert.deepEqual(
    ak.mechanisms.map((t) => t.name),
    ['simplified', 'self-v1', 'self', 'causal', 'multihead-wrapper', 'multihead'],
  );
  for (const t of ak.mechanisms) {
    assert.ok(Object.isFrozen(t) && Object.isFrozen(t.options) && Object.isFrozen(t.weightsFormats), t.name);
    assert.deepEqual(Object.keys(t), [
      'name',
      'bookClass',
      'description',
      'defaultCausal',
      'hasParameters',
      'options',
      'weightsFormats',
    ]);
    // the .d.ts WeightsFormat union (without 'auto', which reads the format from the keys) holds each
    for (const f of t.weightsFormats) assert.ok(union('WeightsFormat').includes(f), `${t.name}: ${f}`);
    assert.equal(typeof t.description, 'string');
    assert.ok(t.description.length > 10, t.name);
  }
  const byName = Object.fromEntries(ak.mechanisms.map((t) => [t.name, t]));
  // the book's classes (ch. 3) and which register a causal mask
  assert.equal(byName.simplified.bookClass, '');
  assert.equal(byName['self-v1'].bookClass, 'SelfAttention_v1');
  assert.equal(byName.self.bookClass, 'SelfAttention_v2');
  assert.equal(byName.causal.bookClass, 'CausalAttention');
  assert.equal(byName['multihead-wrapper'].bookClass, 'MultiHeadAttentionWrapper');
  assert.equal(byName.multihead.bookClass, 'MultiHeadAttention');
  assert.deepEqual(
    ak.mechanisms.filter((t) => t.defaultCausal).map((t) => t.name),
    ['causal', 'multihead-wrapper', 'multihead'],
  );
  assert.deepEqual(
    ak.mechanisms.filter((t) => !t.hasParameters).map((t) => t.name),
    ['simplified'],
  );
  // the formats a state_dict loads from (core/include/attnkit/weight_formats.hpp): multihead's three, the book's elsewhere
  for (const t of ak.mechanisms)
    assert.deepEqual(t.weightsFormats, t.name === 'multihead' ? ['book', 'torch-mha', 'gpt2'] : ['book'], t.name);
  assert.ok(byName.multihead.options.includes('numHeads') && !byName.self.options.includes('numHeads'));
  assert.ok(byName.causal.options.includes('dropout') && !byName['self-v1'].options.includes('qkvBias'));
});

test("the .d.ts MechanismName union is the core's list, and MechanismOption holds every option the core names", () => {
  assert.deepEqual(
    union('MechanismName'),
    ak.mechanisms.map((t) => t.name),
  );
  const options = union('MechanismOption');
  const used = new Set(ak.mechanisms.flatMap((t) => t.options));
  for (const o of used) assert.ok(options.includes(o), `MechanismOption lacks '${o}'`);
  for (const o of options) assert.ok(used.has(o), `MechanismOption has '${o}', which no mechanism takes`);
});

test("each mechanism's traits match what a layer does: default causality, parameters, options that apply", () => {
  const next = rng(5);
  const x = randomArray(2 * 4 * 3, next);
  for (const t of ak.mechanisms) {
    const layer = ak.create(t.name, t.hasParameters ? { dIn: 3, dOut: 2 } : {});
    assert.equal(layer.causal, t.defaultCausal, `${t.name}: causal by default`);
    assert.equal(Object.keys(layer.stateDict()).length > 0, t.hasParameters, `${t.name}: parameters`);
    const out = layer.forward(x, [2, 4, 3], { returnWeights: true });
    if (t.defaultCausal) assert.equal(out.weights[1], 0, `${t.name}: first query sees only the first key`);
    else assert.ok(out.weights[1] > 0, `${t.name}: not masked`);
    layer.dispose();
    // an option the core says does not apply is refused with a message that names it (where the core refuses it)
    if (!t.options.includes('numHeads'))
      assert.throws(() => ak.create(t.name, { dIn: 3, dOut: 2, numHeads: 2 }), /num_heads|numHeads/);
    if (!t.options.includes('dropout'))
      assert.throws(() => ak.create(t.name, { dIn: 3, dOut: 2, dropout: 0.5 }), /dropout/);
  }
});

test('create() names the mechanisms from the core in its type error', () => {
  assert.throws(() => ak.create(3, {}), {
    constructor: Error,
    message: `mechanism must be a string, one of ${ak.mechanisms.map((t) => t.name).join(', ')}; got number 3`,
  });
});

// The FLOP count written out independently (core/include/attnkit/bench_configs.hpp states the rule):
// projections 3·2·b·n·d_in·D, out_proj 2·b·n·d_out² (multihead), attention 2·2·b·h·pairs·head_dim with
// pairs = n(n+1)/2 when causal, n² otherwise.
function flopsReference(mechanism, { dIn, dOut, numHeads = 1, causal }, shape) {
  const [b, n, d] = shape.length === 3 ? shape : [1, ...shape];
  const t = ak.mechanisms.find((m) => m.name === mechanism);
  const isCausal = causal ?? t.defaultCausal;
  const heads = mechanism.startsWith('multihead') ? numHeads : 1;
  const headDim = mechanism === 'simplified' ? d : mechanism === 'multihead' ? dOut / heads : dOut;
  const width = heads * headDim;
  const pairs = isCausal ? (n * (n + 1)) / 2 : n * n;
  let flops = 2 * 2 * b * heads * pairs * headDim;
  if (mechanism !== 'simplified') flops += 3 * 2 * b * n * d * width;
  if (mechanism === 'multihead') flops += 2 * b * n * dOut * dOut;
  return flops;
}

test('ak.benchConfigs: C1–C5 as the core defines them, frozen, each with its FLOP count', () => {
  assert.ok(Object.isFrozen(ak.benchConfigs));
  assert.deepEqual(
    ak.benchConfigs.map((c) => c.name),
    ['C1', 'C2', 'C3', 'C4', 'C5'],
  );
  const shapes = ak.benchConfigs.map((c) => [c.batch, c.tokens, c.dIn, c.dOut, c.numHeads, c.causal]);
  // the public contract's configurations (all causal multihead)
  assert.deepEqual(shapes, [
    [2, 6, 3, 2, 2, true],
    [1, 1024, 768, 768, 12, true],
    [8, 256, 512, 512, 8, true],
    [1, 4096, 768, 768, 12, true],
    [1, 16384, 768, 768, 12, true],
  ]);
  for (const c of ak.benchConfigs) {
    assert.ok(Object.isFrozen(c));
    assert.deepEqual(Object.keys(c), [
      'name',
      'batch',
      'tokens',
      'dIn',
      'dOut',
      'numHeads',
      'causal',
      'description',
      'flops',
    ]);
    assert.match(c.description, new RegExp(`^b${c.batch} n${c.tokens} `));
    assert.equal(c.flops, flopsReference('multihead', c, [c.batch, c.tokens, c.dIn]), c.name);
    assert.equal(
      ak.forwardFlops('multihead', { dIn: c.dIn, dOut: c.dOut, numHeads: c.numHeads, causal: c.causal }, [
        c.batch,
        c.tokens,
        c.dIn,
      ]),
      c.flops,
    );
  }
  assert.equal(ak.benchConfigs[0].flops, 864); // the book's example, counted by hand: 432 + 96 + 336
});

test('ak.forwardFlops for every mechanism, batched and not, causal or not; bad arguments are refused like create()', () => {
  for (const t of ak.mechanisms) {
    for (const causal of [undefined, true, false]) {
      for (const shape of [
        [5, 4],
        [3, 7, 4],
      ]) {
        const o = t.hasParameters ? { dIn: 4, dOut: 6, causal } : { causal };
        if (t.options.includes('numHeads')) o.numHeads = 3;
        assert.equal(
          ak.forwardFlops(t.name, o, shape),
          flopsReference(t.name, o, shape),
          `${t.name} ${JSON.stringify(o)} ${shape}`,
        );
      }
    }
  }
  assert.throws(() => ak.forwardFlops('transformer', {}, [2, 3]), {
    constructor: Error,
    message: /^unknown mechanism 'transformer'; expected one of simplified, /,
  });
  assert.throws(() => ak.forwardFlops('multihead', { dIn: 3, dOut: 5, numHeads: 2 }, [6, 3]), {
    constructor: RangeError,
    message: 'd_out (5) must be divisible by num_heads (2)',
  });
  assert.throws(() => ak.forwardFlops('self', { dIn: 3, dOut: 2 }, [6, 4]), {
    constructor: Error,
    message: 'x has d_in 4 (shape [6, 4]); expected d_in 3',
  });
  assert.throws(() => ak.forwardFlops('self', { dIn: 3, dOut: 2 }, '6,3'), {
    constructor: Error,
    message: 'shape must be an Array of integers; got the string "6,3"',
  });
  assert.throws(() => ak.forwardFlops('self', new Map(), [6, 3]), {
    constructor: Error,
    message: /^options must be a plain object; got a Map/,
  });
  // the sizes are what counts: a stateDict is not read (create() would refuse this one)
  assert.throws(() => ak.create('self', { dIn: 3, dOut: 2, stateDict: { W_query: 'weights' } }), Error);
  assert.equal(
    ak.forwardFlops('self', { dIn: 3, dOut: 2, stateDict: { W_query: 'weights' } }, [6, 3]),
    flopsReference('self', { dIn: 3, dOut: 2 }, [6, 3]),
  );
});
