// `node bench/compare/check-onnx-graph.mjs [C1]`: builds the model of web/src/onnx-graph.js, runs it in
// onnxruntime-node and checks it against the page's plain-JS reference of the seed's forward pass
// (web/src/reference.js: float32 tensors, float64 sums).
// (Kept apart from onnx-graph.js so that module stays free of Node-only code: the web page imports it.)
import ortNode from 'onnxruntime-node';
import { config, makeStateDict, makeInput, relativeError } from './configs.mjs';
import { buildMultiHeadAttentionModel } from '../../web/src/onnx-graph.js';
import { normaliseStateDict, referenceForward } from '../../web/src/reference.js';

const ort = ortNode.default ?? ortNode;
const c = config(process.argv[2] || 'C1');
const sd = makeStateDict(c), x = makeInput(c);
const bytes = buildMultiHeadAttentionModel(c, sd);
const session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'all', intraOpNumThreads: 1 });
const out = await session.run({ x: new ort.Tensor('float32', x, [c.batch, c.tokens, c.dIn]) });
const y = out.y.data;
console.log(`${c.name}: model ${bytes.length} bytes, output [${out.y.dims}]`);
if (c.tokens * c.tokens * c.batch * c.dOut <= 2 ** 28) {
  const cfg = { dOut: c.dOut, numHeads: c.heads, causal: true };
  const ref = referenceForward('multihead', cfg, normaliseStateDict(sd), x, [c.batch, c.tokens, c.dIn]).context;
  console.log(`  onnxruntime-node vs the plain-JS reference: rel. error ${relativeError(y, ref).toExponential(2)}`);
}
