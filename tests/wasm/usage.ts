// Type-checked (not run) against wasm/attnkit.d.ts by tests/wasm/types.test.mjs: `tsc --noEmit`.
import load, { load as namedLoad } from 'attnkit';
import type {
  Attnkit,
  Layer,
  ForwardResult,
  StateDict,
  Mechanism,
  MechanismName,
  MechanismTraits,
  BenchConfig,
  CreateOptions,
  AttentionOptions,
  AttentionResult,
  StateDictFormat,
  WeightsFormat,
  BackwardResult,
  Optimizer,
  Model,
  LossAccuracy,
  ProbeWeights,
} from 'attnkit';

async function main(): Promise<void> {
  const ak: Attnkit = await load();
  const ak2: Attnkit = await namedLoad({ threads: false });
  const traits: readonly MechanismTraits[] = ak.mechanisms;
  const names: MechanismName[] = traits.filter((t) => t.options.includes('numHeads')).map((t) => t.name);
  const first: Mechanism = names[0];
  const maxThreads: number = ak.maxThreads;
  const c1: BenchConfig = ak.benchConfigs[0];
  const flops: number = ak.forwardFlops('multihead', { dIn: c1.dIn, dOut: c1.dOut, numHeads: c1.numHeads }, [
    c1.batch,
    c1.tokens,
    c1.dIn,
  ]);
  const simd: string = ak.simd;
  const version: string = ak2.version;
  ak.threads = 2;

  const options: CreateOptions = {
    dIn: 3,
    dOut: 2,
    numHeads: 2,
    contextLength: 6,
    causal: true,
    qkvBias: false,
    dropout: 0.1,
    seed: 123,
  };
  const layer: Layer = ak.create('multihead', options);
  const x = new Float32Array(2 * 6 * 3);
  const out: ForwardResult = layer.forward(x, [2, 6, 3], {
    returnWeights: true,
    train: false,
    intermediates: true,
    threads: 1,
  });
  const context: Float32Array = out.context;
  const shape: number[] = out.contextShape;
  const into = new Float32Array(2 * 6 * 2); // the context written into the caller's array
  const written: Float32Array = layer.forward(x, [2, 6, 3], { out: into }).context;
  const weights: Float32Array | undefined = out.weights;
  const scores = out.intermediates?.scores?.data;
  const sd: StateDict = layer.stateDict();
  const w: Float32Array = sd['W_query.weight'].data;
  layer.dispose();

  // state_dict as PyTorch nested lists and as { shape, data }
  const v1 = ak.create('self-v1', {
    dIn: 2,
    dOut: 1,
    stateDict: {
      W_query: [[1], [2]],
      W_key: { shape: [2, 1], data: new Float32Array(2) },
      W_value: { shape: [2, 1], data: [0.5, 0.25] },
    },
  });
  const one = ak.run('simplified', undefined, [
    [1, 0],
    [0, 1],
  ]);
  const mem: number = ak.memory().inUseBytes;
  v1.dispose();
  console.log(
    names,
    first,
    maxThreads,
    flops,
    simd,
    version,
    context,
    written,
    shape,
    weights,
    scores,
    w,
    one.contextShape,
    mem,
  );

  // the attention op on your own tensors: a padding mask (b, 1, 1, n_k), grouped-query heads, lower-right causal
  const attnOptions: AttentionOptions = {
    queryShape: [1, 4, 3, 8],
    keyShape: [1, 2, 5, 8],
    valueShape: [1, 2, 5, 6],
    attnMask: new Uint8Array(5).fill(1),
    attnMaskShape: [1, 1, 1, 5],
    causal: 'lower-right',
    scale: 0.25,
    returnWeights: true,
    averageWeights: false,
  };
  const att: AttentionResult = ak.attention(
    new Float32Array(96),
    new Float32Array(80),
    new Float32Array(60),
    attnOptions,
  );
  const attnOutput: Float32Array = att.output;
  const attnWeights: number[] | undefined = att.weightsShape;
  ak.attention([[[[1, 0]]]], [[[[1, 0]]]], [[[[2]]]], {
    attnMask: [[true]],
    dropout: 0.1,
    train: true,
    seed: 1n,
    threads: 1,
  });
  ak.attention(new Float32Array(4), new Float32Array(4), new Float32Array(4), {
    attnMask: new Float32Array([0, -Infinity]),
    attnMaskShape: [2],
  });
  console.log(attnOutput, attnWeights);
  // @ts-expect-error: causal names an alignment, not true
  ak.attention([[[[1]]]], [[[[1]]]], [[[[1]]]], { causal: true });
  // @ts-expect-error: masks are boolean or Float32Array, not Int32Array
  ak.attention([[[[1]]]], [[[[1]]]], [[[[1]]]], { attnMask: new Int32Array(1) });

  const cross = ak.create('multihead', { dIn: 4, dOut: 4, numHeads: 2, kvHeads: 1, causal: false });
  const crossOut = cross.forward(new Float32Array(8), [1, 2, 4], {
    kv: new Float32Array(12),
    kvShape: [1, 3, 4],
    keyPaddingMask: [[false, false, true]],
    returnWeights: true,
    averageWeights: true,
  });
  const generator = layer.decoder({ maxTokens: 6, batch: 2 });
  const stepped: { context: Float32Array; contextShape: number[] } = generator.step(new Float32Array(6), [2, 1, 3]);
  const cached: number = generator.length;
  generator.reset();
  generator.dispose();
  console.log(crossOut.context, stepped.contextShape, cached);
  const crossDecoder = cross.decoder({
    maxTokens: 4,
    kv: new Float32Array(12),
    kvShape: [1, 3, 4],
    keyPaddingMask: [[false, false, true]],
  });
  const crossStep = crossDecoder.step(new Float32Array(4), [1, 1, 4], { returnWeights: true });
  crossDecoder.setMemory({ kv: new Float32Array(8), kvShape: [1, 2, 4] });
  console.log(crossStep.weightsShape);
  // @ts-expect-error: maxTokens is required
  layer.decoder({ batch: 1 });

  // state_dicts in other formats: GPT-2's block under a prefix, written back as nn.MultiheadAttention's
  const formats: readonly StateDictFormat[] = ak.mechanisms[5].weightsFormats;
  const gpt2 = ak.create('multihead', {
    numHeads: 2,
    weightsFormat: 'gpt2',
    weightsPrefix: 'h.0.attn.',
    stateDict: {
      'h.0.attn.masked_bias': -10000,
      'h.0.attn.bias': [
        [
          [
            [true, false],
            [true, true],
          ],
        ],
      ],
    },
  });
  const mhaDict: StateDict = gpt2.stateDict({ format: 'torch-mha', prefix: 'attn.' });
  const auto: WeightsFormat = 'auto';
  console.log(formats, mhaDict, auto);
  // @ts-expect-error: 'auto' reads a format, it does not write one
  gpt2.stateDict({ format: 'auto' });
  // @ts-expect-error: unknown weights format
  ak.create('multihead', { weightsFormat: 'hf' });

  // gradients, an optimizer and the tiny model
  const trainable = ak.create('multihead', { dIn: 4, dOut: 4, numHeads: 2 });
  trainable.forward(new Float32Array(8), [2, 4], { grad: true });
  const back: BackwardResult = trainable.backward(new Float32Array(8));
  const dx: Float32Array = back.input.data;
  const adamw: Optimizer = ak.optimizer('adamw', trainable, { lr: 1e-3, betas: [0.9, 0.99], weightDecay: 0 });
  adamw.step(back);
  adamw.step();
  adamw.zeroGrad();
  const sgd = ak.optimizer('sgd', trainable, { lr: 0.1, momentum: 0.9, nesterov: true });
  sgd.step(back.params);
  const model: Model = ak.createModel({ task: 'induction', heads: 2, optimizer: 'sgd', seed: 3 });
  const { loss, accuracy }: LossAccuracy = model.trainStep();
  const probe: ProbeWeights = model.weights();
  const goal: number = ak.tasks[0].goalAccuracy;
  console.log(dx, loss, accuracy, probe.shape, goal, trainable.grads(), model.config.dModel);
  // @ts-expect-error: SGD's lr is required
  ak.optimizer('sgd', trainable, {});
  // @ts-expect-error: unknown task
  ak.createModel({ task: 'copy' });

  // @ts-expect-error: unknown mechanism name
  ak.create('transformer', {});
  // @ts-expect-error: options are camelCase
  ak.create('self', { d_in: 3 });
  // @ts-expect-error: x must be a Float32Array or numbers
  layer.forward('0.1,0.2', [1, 2]);
  // @ts-expect-error: causalRoute is one of two names
  ak.create('causal', { causalRoute: 'mask' });
  // @ts-expect-error: the traits are read-only
  ak.mechanisms[0].name = 'self';
}

void main();
