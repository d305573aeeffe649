// attnkit — TypeScript declarations for the npm package (hand-written; Emscripten 3.1.6 has no --emit-tsd).

/** The six mechanisms of the book's chapter 3, in the core's order (tests/wasm/catalog.test.mjs checks this list against `ak.mechanisms`). */
export type MechanismName = 'simplified' | 'self-v1' | 'self' | 'causal' | 'multihead-wrapper' | 'multihead';
/** Same as MechanismName. */
export type Mechanism = MechanismName;

/** The create() options that can apply to a mechanism (see MechanismTraits.options). */
export type MechanismOption =
  | 'dOut'
  | 'numHeads'
  | 'kvHeads'
  | 'kDim'
  | 'vDim'
  | 'contextLength'
  | 'causal'
  | 'qkvBias'
  | 'dropout'
  | 'causalRoute';

/** One row of the core's traits table (core/include/attnkit/traits.hpp), as `ak.mechanisms` gives it (frozen). */
export interface MechanismTraits {
  readonly name: MechanismName;
  /** The book's PyTorch class, e.g. "MultiHeadAttentionWrapper"; "" for `simplified` (plain code, no class). */
  readonly bookClass: string;
  /** One line: what it computes. */
  readonly description: string;
  /** Whether it is causal when `causal` is not given. */
  readonly defaultCausal: boolean;
  /** false for `simplified` only. */
  readonly hasParameters: boolean;
  /** The create() options that apply (besides dIn, seed and stateDict, which apply to every mechanism with parameters). */
  readonly options: readonly MechanismOption[];
  /** The stateDict formats `create({ weightsFormat })` loads and `stateDict({ format })` writes: `['book']`, and for `multihead` also `'torch-mha'` and `'gpt2'`. */
  readonly weightsFormats: readonly StateDictFormat[];
}

/**
 * Layouts of a stateDict (core/include/attnkit/weight_formats.hpp). `'book'`: the book's classes (`W_query.weight`, …,
 * `out_proj.*`). `'torch-mha'`: `torch.nn.MultiheadAttention`'s (`in_proj_weight`, `in_proj_bias`, or
 * `q_proj_weight`/`k_proj_weight`/`v_proj_weight`, `out_proj.*`). `'gpt2'`: GPT-2's attention block (`c_attn.weight (E, 3E)`
 * in Conv1D layout, `c_attn.bias`, `c_proj.*`, the buffers `bias` and `masked_bias`). `'auto'`: read from the key names.
 */
export type WeightsFormat = 'auto' | 'book' | 'torch-mha' | 'gpt2';
/** A format a stateDict is written in (every WeightsFormat but 'auto'). */
export type StateDictFormat = Exclude<WeightsFormat, 'auto'>;

export interface StateDictOptions {
  /** Default 'book'. 'torch-mha' and 'gpt2' apply to `multihead` only; 'gpt2' needs a causal layer with dIn = dOut. */
  format?: StateDictFormat;
  /** Put before every key, e.g. 'h.0.attn.' (one block of GPT2Model.state_dict()). Default ''. */
  prefix?: string;
}

/** The two routes to causal weights (same weights): −inf before softmax, or softmax then zero the future and renormalise. */
export type CausalRoute = 'neg-inf' | 'renormalise';

/** One parameter as returned by `stateDict()`: row-major float32 data with its shape. */
export interface TensorData {
  shape: number[];
  data: Float32Array;
}

/** Nested Arrays of numbers, as `tensor.tolist()` dumps them from PyTorch. */
export type NestedNumbers = number | NestedNumbers[];

/** Nested Arrays of numbers or booleans (a boolean buffer such as GPT-2's `bias`: true is 1). */
export type NestedValues = number | boolean | NestedValues[];

/**
 * A state_dict entry on input: nested lists (booleans read as 0/1), a bare number (a 0-d tensor such as GPT-2's
 * `masked_bias`), or `{ shape, data }` with a Float32Array or a flat Array.
 */
export type TensorInput = NestedValues[] | number | { shape: number[]; data: Float32Array | number[] };

/** Parameter names as in PyTorch: `W_query.weight`, `W_key.bias`, `out_proj.weight`, `heads.0.W_query.weight`, … */
export type StateDictInput = Record<string, TensorInput> | Map<string, TensorInput>;
export type StateDict = Record<string, TensorData>;

/** One of the standard benchmark configurations (core/include/attnkit/bench_configs.hpp), as `ak.benchConfigs` gives it. */
export interface BenchConfig {
  /** "C1" … "C4". */
  readonly name: string;
  readonly batch: number;
  readonly tokens: number;
  readonly dIn: number;
  readonly dOut: number;
  readonly numHeads: number;
  readonly causal: boolean;
  /** e.g. "b2 n6 d_in3 d_out2 h2: the book's multi-head example". */
  readonly description: string;
  /** Useful FLOPs of one forward pass of the `multihead` module it times (see `Attnkit.forwardFlops`). */
  readonly flops: number;
}

export interface CreateOptions {
  /** Input features. `simplified` may leave it 0 and take it from the input. */
  dIn?: number;
  /** Output features: per head for `multihead-wrapper`, total for `multihead`; ignored by `simplified`. */
  dOut?: number;
  /** Heads (`multihead`, `multihead-wrapper`). Default 1. */
  numHeads?: number;
  /** `multihead`: heads of W_key and W_value (grouped-query projections of kvHeads·headDim rows); must divide numHeads. Default numHeads. */
  kvHeads?: number;
  /** Features of the `kv` input for W_key (cross-attention). Default dIn. */
  kDim?: number;
  /** Features of the value input for W_value (cross-attention). Default dIn. */
  vDim?: number;
  /** Mask buffer size; more tokens than this is an error. 0 (default): no limit. */
  contextLength?: number;
  /** Default: true for causal, multihead-wrapper, multihead; false otherwise. */
  causal?: boolean;
  /** nn.Linear bias on W_query, W_key, W_value. Default false. */
  qkvBias?: boolean;
  /** Dropout on the attention weights, in [0, 1); applied only with `train: true`. Default 0. */
  dropout?: number;
  /** torch.manual_seed(seed) before construction: parameters are drawn as PyTorch draws them. Default 123. */
  seed?: number | bigint;
  /** Parameters to load instead of drawing them (names and shapes are checked), in the format `weightsFormat` says. */
  stateDict?: StateDictInput;
  /**
   * The stateDict's layout (with `stateDict` only). Default 'auto': from the key names. 'torch-mha' and 'gpt2' load
   * `multihead` and need `numHeads` (not in their state_dicts); 'gpt2' makes the layer causal, 'torch-mha' leaves it
   * non-causal unless `causal: true`. dIn, dOut, kDim, vDim and qkvBias are read from the shapes where not given.
   */
  weightsFormat?: WeightsFormat;
  /** Load only the keys that start with it, without it (e.g. 'h.0.attn.' for one block of GPT2Model.state_dict()). */
  weightsPrefix?: string;
  /** Default 'neg-inf'. */
  causalRoute?: CausalRoute;
}

export interface ForwardOptions {
  /** Keep what `layer.backward()` needs (the same numbers; no fast path). */
  grad?: boolean;
  /** Return the attention weights (before dropout), shape (b, h, n, n) or (h, n, n). */
  returnWeights?: boolean;
  /** Training mode: dropout is applied. */
  train?: boolean;
  /** Return every intermediate step by name. */
  intermediates?: boolean;
  /** Threads for this call (0: the default, `ak.threads`). Results are identical for any count. */
  threads?: number;
  /** With returnWeights: the weights averaged over heads, (b, n_q, n_k) (nn.MultiheadAttention's average_attn_weights). */
  averageWeights?: boolean;
  /** Keys and values from another sequence (cross-attention): (b, n_k, kDim), row-major. */
  kv?: Float32Array | number[] | NestedNumbers[];
  /** Required with a typed-array kv. */
  kvShape?: number[];
  /** Values from a third input when vDim ≠ kDim: (b, n_k, vDim). Default: kv. */
  value?: Float32Array | number[] | NestedNumbers[];
  /** Required with a typed-array value. */
  valueShape?: number[];
  /** (b, n_k), nn.MultiheadAttention's sense: true = padding, ignored (Uint8Array or booleans); or a Float32Array added to the scores. */
  keyPaddingMask?: Uint8Array | Float32Array | boolean[] | NestedBooleans[];
  /** (n_q, n_k) or (b·numHeads, n_q, n_k), nn.MultiheadAttention's sense: true = may not attend; or a Float32Array added. */
  attnMask?: Uint8Array | Float32Array | boolean[] | NestedBooleans[];
  /** Required with a typed-array attnMask. */
  attnMaskShape?: number[];
  /**
   * Write the context into this Float32Array (one element per element of the context, e.g. b·n·dOut for
   * multihead) and return it as `context`, instead of a new array per call: for many small calls. Its own
   * ArrayBuffer only: a view on attnkit's memory (`ak.memory`) or on a SharedArrayBuffer, a detached buffer or
   * another length is refused with an Error naming the expected length.
   */
  out?: Float32Array;
}

/** Names of the intermediate steps, in the order computed (present depending on mechanism and options). */
export type IntermediateName =
  | 'queries'
  | 'keys'
  | 'values'
  | 'scores'
  | 'scaled_scores'
  | 'masked_scores'
  | 'unmasked_weights'
  | 'weights'
  | 'weights_after_dropout'
  | 'context_before_out_proj'
  | 'context';

export interface ForwardResult {
  /** (b, n, dOutTotal), or (n, dOutTotal) for unbatched input. A copy: it stays valid. */
  context: Float32Array;
  contextShape: number[];
  /** Present with `returnWeights: true`. */
  weights?: Float32Array;
  weightsShape?: number[];
  /** Present with `intermediates: true`. */
  intermediates?: Partial<Record<IntermediateName, TensorData>> & Record<string, TensorData>;
}

export interface Layer {
  readonly mechanism: Mechanism;
  readonly causal: boolean;
  readonly numHeads: number;
  readonly headDim: number;
  /** Width of the context vectors. */
  readonly dOutTotal: number;
  readonly disposed: boolean;
  /**
   * x: row-major float32 (b, n, dIn) or (n, dIn). A plain Array of numbers (flat, or nested with `shape` omitted)
   * is accepted too; other typed arrays are refused.
   */
  forward(x: Float32Array | number[] | NestedNumbers[], shape?: number[], options?: ForwardOptions): ForwardResult;
  /** A KV-cache session for generation token by token (causal modules; the layer must outlive it). */
  decoder(options: DecoderOptions): Decoder;
  /** The parameters, in PyTorch's order and names: the book's, or written in `format` with each key prefixed. */
  stateDict(options?: StateDictOptions): StateDict;
  /** The shapes a loaded stateDict must have. */
  parameterShapes(): Record<string, number[]>;
  /**
   * Gradients of Σ gradContext ⊙ context for the last `forward(x, shape, { grad: true })`, once per such forward.
   * `gradContext` has the context's shape (a Float32Array of its length, or nested Arrays). `params` is also added
   * into the layer's gradients (`grads()`), as torch accumulates `param.grad`, until `zeroGrad()`.
   */
  backward(gradContext: Float32Array | NestedNumbers[]): BackwardResult;
  /** The gradients added up by `backward()` since `zeroGrad()` (or creation), by parameter name; `{}` when none. */
  grads(): StateDict;
  /** Forgets the accumulated gradients (torch's `zero_grad(set_to_none=True)`). */
  zeroGrad(): void;
  /** Frees the layer's wasm memory now. Any later call throws "layer was disposed". Safe to call twice. */
  dispose(): void;
}

export interface BackwardResult {
  /** The gradient of x, x's shape. */
  input: TensorData;
  /** The gradient of forward's `kv` (cross-attention), when one was given. */
  kv?: TensorData;
  /** The gradient of forward's `value`, when one was given. */
  value?: TensorData;
  /** Every parameter's gradient under its state_dict name, in state_dict order. */
  params: StateDict;
}

export type OptimizerName = 'adamw' | 'sgd';

/** torch.optim.SGD's hyper-parameters and defaults (lr has none: it is required). */
export interface SGDOptions {
  lr: number;
  /** Default 0. */
  momentum?: number;
  /** Default 0. */
  dampening?: number;
  /** Default 0. */
  weightDecay?: number;
  /** Needs momentum > 0 and dampening 0. Default false. */
  nesterov?: boolean;
  /** Only false is supported. */
  maximize?: boolean;
}

/** torch.optim.AdamW's hyper-parameters and defaults. */
export interface AdamWOptions {
  /** Default 1e-3. */
  lr?: number;
  /** Default [0.9, 0.999]. */
  betas?: [number, number];
  /** Default 1e-8. */
  eps?: number;
  /** Default 1e-2. */
  weightDecay?: number;
  /** Only false is supported. */
  amsgrad?: boolean;
  /** Only false is supported. */
  maximize?: boolean;
}

/** Gradients for `Optimizer.step`: what `layer.backward()` returns, or its `params` (some or all parameters). */
export type Gradients = BackwardResult | StateDictInput;

export interface Optimizer {
  readonly name: OptimizerName;
  readonly lr: number;
  /** Successful step() calls. */
  readonly steps: number;
  /**
   * One update of the layer's parameters (torch.optim's formulas, float32): from `grads`, or without it from the
   * layer's accumulated gradients (every backward() since zeroGrad()). A parameter without a gradient is skipped.
   */
  step(grads?: Gradients): void;
  /** Forgets the layer's accumulated gradients (torch's optimizer.zero_grad()). */
  zeroGrad(): void;
  dispose(): void;
}

/** The tiny model's built-in toy tasks (core/include/attnkit/model.hpp). */
export type TaskName = 'copy-previous' | 'reverse' | 'sort' | 'induction';

/** One row of `ak.tasks`: a task with its defaults and its documented goal. */
export interface TaskSpec {
  readonly name: TaskName;
  /** One line: what is predicted and which positions are scored. */
  readonly what: string;
  readonly causal: boolean;
  readonly tokens: number;
  readonly vocab: number;
  /** From the default seed with the defaults, the evaluation accuracy reaches this … */
  readonly goalAccuracy: number;
  /** … within this many trainStep() calls. */
  readonly goalSteps: number;
}

export interface ModelOptions {
  task: TaskName;
  /** Sequence length. Default: the task's. */
  tokens?: number;
  /** Default: the task's. */
  vocab?: number;
  /** Width of the embeddings and the attention layer. Default 64. */
  dModel?: number;
  /** Attention heads, dividing dModel. Default 4. */
  heads?: number;
  /** Default: the task's. */
  causal?: boolean;
  /** Training sequences per step. Default 32. */
  batch?: number;
  /** Sequences in the evaluation set. Default 256. */
  evalBatch?: number;
  /** torch.manual_seed for the parameters; seed + 1 draws the batches, seed + 2 the evaluation set. Default 123. */
  seed?: number | bigint;
  /** Default 'adamw' (lr 0.01); 'sgd' has lr 0.1 and momentum 0.9. */
  optimizer?: OptimizerName;
  lr?: number;
}

export interface LossAccuracy {
  /** Mean cross-entropy over the scored positions. */
  loss: number;
  /** Fraction of scored positions whose largest logit is the target. */
  accuracy: number;
}

export interface ProbeWeights {
  /** (heads, tokens, tokens): each head's attention weights on the probe sequence. */
  data: Float32Array;
  shape: [number, number, number];
  /** The probe's tokens, targets (−1: not scored) and, per position, the key holding its target (−1: none). */
  inputs: number[];
  targets: number[];
  expectedKey: number[];
}

export interface Model {
  /** The options with the defaults resolved. */
  readonly config: Readonly<Required<Omit<ModelOptions, 'seed'>>>;
  /** trainStep() calls so far. */
  readonly steps: number;
  readonly disposed: boolean;
  /** One optimizer step on the next training batch → its loss and accuracy, before the update. */
  trainStep(): LossAccuracy;
  /** Loss and accuracy on the evaluation set. */
  evaluate(): LossAccuracy;
  /** Each head's weights on the probe (the evaluation set's first sequence). */
  weights(): ProbeWeights;
  /** token_embedding.weight, position_embedding.weight, attention.*, readout.weight, readout.bias. */
  stateDict(): StateDict;
  dispose(): void;
}

export interface DecoderOptions {
  /** The most tokens the cache holds per sequence (self-attention) or decodes (cross-attention); past it, a RangeError. */
  maxTokens: number;
  /** Sequences decoded side by side (self-attention). Default 1; with kv the batch is kv's. */
  batch?: number;
  /**
   * Cross-attention (a layer with causal: false): the encoder's output, (b, n_k, kDim), projected once; each step's
   * tokens attend to all of it. A causal layer decodes self-attention with a KV cache (kvHeads heads of it).
   */
  kv?: Float32Array | number[] | NestedNumbers[];
  kvShape?: number[];
  /** W_value's input when vDim ≠ kDim: (b, n_k, vDim). */
  value?: Float32Array | number[] | NestedNumbers[];
  valueShape?: number[];
  /** (b, n_k), true = padding (ignored), as forward's keyPaddingMask. */
  keyPaddingMask?: Uint8Array | Float32Array | boolean[] | NestedBooleans[];
}

export interface DecoderStepResult {
  context: Float32Array;
  contextShape: number[];
  /** With returnWeights: (batch, heads, t, keys), keys = length after the step (self) or the memory's keys (cross). */
  weights?: Float32Array;
  weightsShape?: number[];
}

export interface Decoder {
  /**
   * Appends the keys and values of x's tokens, (batch, t, dIn) or (t, dIn) with batch 1, and returns their context:
   * the same rows a causal forward over every token since the start (or reset()) gives (cross-attention: the rows of
   * forward(x, { kv })).
   */
  step(
    x: Float32Array | number[] | NestedNumbers[],
    shape?: number[],
    options?: { threads?: number; returnWeights?: boolean },
  ): DecoderStepResult;
  /** Cross-attention: a new encoder output (same batch, any number of keys); forgets the decoded tokens. */
  setMemory(memory: Pick<DecoderOptions, 'kv' | 'kvShape' | 'value' | 'valueShape' | 'keyPaddingMask'>): void;
  /** Tokens in the cache. */
  readonly length: number;
  readonly disposed: boolean;
  /** Forget every token; the cache's memory is kept. */
  reset(): void;
  /** Frees the cache now. Safe to call twice, and after the layer's dispose(). */
  dispose(): void;
}

/** Nested Arrays of booleans (true = may attend). */
export type NestedBooleans = boolean | NestedBooleans[];

/** Causal alignment of ak.attention: 'upper-left' is PyTorch's is_causal=True (key j ≤ query i); 'lower-right' lets the last query see every key (j ≤ i + n_k − n_q), what decoding with a cache needs. */
export type CausalAlign = 'upper-left' | 'lower-right';

export interface AttentionOptions {
  /** Required when query is a Float32Array: (b, h_q, n_q, d). Nested Arrays give their own shape. */
  queryShape?: number[];
  /** (b, h_kv, n_k, d); h_q must be a multiple of h_kv (grouped-query; 1 is multi-query). */
  keyShape?: number[];
  /** (b, h_kv, n_k, d_v). */
  valueShape?: number[];
  /**
   * Broadcastable to (b, h_q, n_q, n_k), rank 1 to 4 (dimensions aligned from the right, each 1 or the full size).
   * Boolean (a Uint8Array of 0/1 or nested Arrays of booleans): true = may attend. Float32Array: added to the
   * scores, -Infinity allowed. Combined with `causal`: a key must be allowed by both.
   */
  attnMask?: Uint8Array | Float32Array | boolean[] | NestedBooleans[];
  /** Required with a typed-array attnMask. */
  attnMaskShape?: number[];
  /** Default false (every key). */
  causal?: CausalAlign | false;
  /** Multiplies query·keyᵀ. Default 1/√d. */
  scale?: number;
  /** Dropout on the weights, in [0, 1), applied only with `train: true`. Default 0. */
  dropout?: number;
  train?: boolean;
  /** Dropout's generator: torch.manual_seed(seed). Default 123. */
  seed?: number | bigint;
  /** Return the weights (before dropout), (b, h_q, n_q, n_k). Default false: the fused path, which never holds them. */
  returnWeights?: boolean;
  /** With returnWeights: the weights averaged over query heads, (b, n_q, n_k) (average_attn_weights). */
  averageWeights?: boolean;
  /** Threads for this call (0: the default, `ak.threads`). Results are identical for any count. */
  threads?: number;
}

export interface AttentionResult {
  /** (b, h_q, n_q, d_v). A query row with nothing to attend to gives zeros. */
  output: Float32Array;
  outputShape: number[];
  /** Present with `returnWeights: true`: (b, h_q, n_q, n_k), or (b, n_q, n_k) with `averageWeights: true`. */
  weights?: Float32Array;
  weightsShape?: number[];
}

export interface MemoryInfo {
  /** Size of the wasm linear memory (it only grows), read from wasm itself (current in both builds). */
  wasmBytes: number;
  /** Bytes malloc has taken from the linear memory. */
  heapBytes: number;
  /** Bytes allocated right now. */
  inUseBytes: number;
  /** Layers created and not yet disposed. */
  liveLayers: number;
}

export interface Attnkit {
  /** The mechanisms and what applies to each, from the core's traits table (the CLI's names). */
  readonly mechanisms: readonly MechanismTraits[];
  /** SIMD instruction set of the kernels: "wasm-simd128". */
  readonly simd: string;
  readonly version: string;
  /** true when the pthreads build was loaded. */
  readonly multithreaded: boolean;
  /**
   * Default threads per forward(). Setting it caps the value at `maxThreads` and the hardware's threads, so it
   * reads back as the number a call uses (always 1 in the single-thread build). 0: as many as allowed.
   */
  threads: number;
  /** The most threads a call can use: the pthreads build's worker pool (1 in the single-thread build). */
  readonly maxThreads: number;
  readonly hardwareThreads: number;
  /** C1–C4: what `attnkit bench` and bench/compare time (causal multihead), with their FLOP counts. Frozen. */
  readonly benchConfigs: readonly BenchConfig[];
  /**
   * Useful FLOPs of one forward pass of `create(mechanism, options)` on x of `shape` ([b, n, dIn] or [n, dIn]), from
   * the core: projections 3·2·b·n·dIn·(heads·headDim), out_proj 2·b·n·dOut² (multihead), q·kᵀ and weights·v
   * 2·2·b·heads·pairs·headDim with pairs = n(n+1)/2 when causal, n² otherwise. `stateDict` is not read.
   */
  forwardFlops(mechanism: Mechanism, options: CreateOptions | undefined, shape: number[]): number;
  create(mechanism: Mechanism, options?: CreateOptions): Layer;
  /** create + forward + dispose. */
  run(
    mechanism: Mechanism,
    options: CreateOptions | undefined,
    x: Float32Array | number[] | NestedNumbers[],
    shape?: number[],
    forwardOptions?: ForwardOptions,
  ): ForwardResult;
  /**
   * Scaled dot-product attention on your own query (b, h_q, n_q, d), key (b, h_kv, n_k, d) and value (b, h_kv, n_k, d_v),
   * as torch.nn.functional.scaled_dot_product_attention computes it, with grouped-query heads: softmax(query·keyᵀ·scale + mask)·value.
   * Each argument is a Float32Array (with its shape in options) or nested Arrays of numbers.
   */
  attention(
    query: Float32Array | NestedNumbers[],
    key: Float32Array | NestedNumbers[],
    value: Float32Array | NestedNumbers[],
    options?: AttentionOptions,
  ): AttentionResult;
  /** torch.optim's AdamW or SGD over `layer`'s parameters. */
  optimizer(name: 'adamw', layer: Layer, options?: AdamWOptions): Optimizer;
  optimizer(name: 'sgd', layer: Layer, options: SGDOptions): Optimizer;
  /** The tiny trainable model (embeddings, one multihead layer, a read-out) on a built-in task. */
  createModel(options: ModelOptions): Model;
  /** The tasks createModel trains, with their documented goals, from the core. Frozen. */
  readonly tasks: readonly TaskSpec[];
  memory(): MemoryInfo;
  /**
   * Frees every live layer and stops the worker threads of the pthreads build. The instance is unusable
   * afterwards: create(), run() and setting threads throw Error "this attnkit instance was terminated …".
   */
  terminate(): void;
}

export interface LoadOptions {
  /** 'auto' (default): pthreads build when SharedArrayBuffer is usable (Node, cross-origin-isolated pages). */
  threads?: 'auto' | boolean;
  /** The .wasm bytes, if you load them yourself. */
  wasmBinary?: ArrayBuffer | Uint8Array;
  /** Emscripten's locateFile hook: where to fetch the .wasm (and worker) from. */
  locateFile?: (path: string, prefix: string) => string;
}

export function load(options?: LoadOptions): Promise<Attnkit>;
export default load;
