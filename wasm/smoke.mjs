// ctest smoke check for the wasm build (run with node): node smoke.mjs path/to/attnkit.mjs
import { pathToFileURL } from 'node:url';

const file = process.argv[2];
const { default: factory } = await import(pathToFileURL(file).href);
const m = await factory();
const layer = new m.Layer();
const opts = {
  d_in: 3,
  d_out: 2,
  num_heads: 2,
  context_length: 6,
  causal: null,
  qkv_bias: false,
  dropout: 0,
  seed_lo: 123,
  seed_hi: 0,
  causal_route: 'neg-inf',
};
const info = layer.init('multihead', opts, undefined);
if (info.error) throw new Error(info.error);
const x = new Float32Array(36).map((_, i) => (i % 7) / 7);
const r = layer.forward(x, [2, 6, 3], { return_weights: true, train: false, intermediates: false, threads: 1 });
if (r.error) throw new Error(r.error);
if (r.context.data.length !== 24 || !r.context.data.every(Number.isFinite)) throw new Error('bad context');
layer.release();
layer.delete();
console.log(`wasm smoke ok: ${m.simdInstructionSet()} ${m.version()} context[0]=${r.context.data[0]}`);
if (m.PThread) m.PThread.terminateAllThreads();
