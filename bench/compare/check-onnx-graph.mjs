// `node bench/compare/check-onnx-graph.mjs [C1]`: builds the model of onnx-graph.mjs, runs it in
// onnxruntime-node and checks it against a float64 reference of the seed's forward pass.
// (Kept apart from onnx-graph.mjs so that module stays free of Node-only code: the web page imports it.)
import ortNode from 'onnxruntime-node';
import { config, makeStateDict, makeInput, referenceForward, relativeError } from './configs.mjs';
import { buildMultiHeadAttentionModel } from './onnx-graph.mjs';

const ort = ortNode.default ?? ortNode;
const c = config(process.argv[2] || 'C1');
const sd = makeStateDict(c), x = makeInput(c);
const bytes = buildMultiHeadAttentionModel(c, sd);
const session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'all', intraOpNumThreads: 1 });
const out = await session.run({ x: new ort.Tensor('float32', x, [c.batch, c.tokens, c.dIn]) });
const y = out.y.data;
console.log(`${c.name}: model ${bytes.length} bytes, output [${out.y.dims}]`);
if (c.tokens * c.tokens * c.batch * c.dOut <= 2 ** 28) {
  console.log(`  onnxruntime-node vs float64 reference: rel. error ${relativeError(y, referenceForward(c, sd, x)).toExponential(2)}`);
}
