// `node bench/compare/check-onnx-graph.mjs [C1|D1|P1]`: builds the model of web/src/onnx-graph.js, runs it in
// onnxruntime-node and checks it against the page's plain-JS reference of the seed's forward pass
// (web/src/reference.js: float32 tensors, float64 sums). Exits 1 when the relative error is above 1e-4.
//   C1–C4: the page's causal graph on the config's input (the reference only up to C3's size).
//   D1: the decode graph (past_key/past_value) at D1's width with 64 tokens: the past is the reference's own keys
//       and values of the first 63, the new token the 64th; its output must be the reference's last row.
//   P1: the padded graph (key_padding_mask) at P1's width, b3 n24, a different padding per row (row r pads
//       the last 2r + 1 keys and key r + 3) so that a mask read in the wrong order or convention shows.
// (Kept apart from onnx-graph.js so that module stays free of Node-only code: the web page imports it.)
import ortNode from 'onnxruntime-node';
import { config, makeStateDict, makeInput, relativeError } from './configs.mjs';
import { cell, ortKeyPaddingMask } from './cells.mjs';
import { buildMultiHeadAttentionModel } from '../../web/src/onnx-graph.js';
import { normaliseStateDict, referenceForward } from '../../web/src/reference.js';

const ort = ortNode.default ?? ortNode;
const name = process.argv[2] || 'C1';
const base = name === 'D1' || name === 'P1' ? cell(name) : config(name);
const c = name === 'D1' ? { ...base, tokens: 64 } : name === 'P1' ? { ...base, batch: 3, tokens: 24 } : base;
const sd = makeStateDict(c),
  x = makeInput(c);
const cfg = { dOut: c.dOut, numHeads: c.heads, causal: true };
const options = name === 'D1' ? { decode: true } : name === 'P1' ? { keyPaddingMask: true } : {};
const bytes = buildMultiHeadAttentionModel(c, sd, options);
const session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'all', intraOpNumThreads: 1 });
const tensor = (data, dims) => new ort.Tensor('float32', data, dims);
let y, ref;
if (name === 'D1') {
  const { batch: b, tokens: n, heads: h } = c,
    hd = c.dOut / h;
  const r = referenceForward('multihead', cfg, normaliseStateDict(sd), x, [b, n, c.dIn], { intermediates: true });
  const past = (t) => {
    // (b, h, n, hd) → its first n − 1 tokens
    const out = new Float32Array(b * h * (n - 1) * hd);
    for (let bh = 0; bh < b * h; bh++) out.set(t.data.subarray(bh * n * hd, (bh * n + n - 1) * hd), bh * (n - 1) * hd);
    return tensor(out, [b, h, n - 1, hd]);
  };
  const xNew = new Float32Array(b * c.dIn);
  for (let bi = 0; bi < b; bi++) xNew.set(x.subarray((bi * n + n - 1) * c.dIn, (bi * n + n) * c.dIn), bi * c.dIn);
  const out = await session.run({
    x: tensor(xNew, [b, 1, c.dIn]),
    past_key: past(r.intermediates.keys),
    past_value: past(r.intermediates.values),
  });
  y = out.y.data;
  ref = new Float32Array(b * c.dOut);
  for (let bi = 0; bi < b; bi++)
    ref.set(r.context.subarray((bi * n + n - 1) * c.dOut, (bi * n + n) * c.dOut), bi * c.dOut);
  const pk = out.present_key.dims;
  if (pk.join() !== [b, h, n, hd].join()) throw new Error(`present_key has dims [${pk}]; expected [${[b, h, n, hd]}]`);
} else if (name === 'P1') {
  const mask = new Uint8Array(c.batch * c.tokens);
  for (let r = 0; r < c.batch; r++) {
    mask.fill(1, r * c.tokens + c.tokens - (2 * r + 1), (r + 1) * c.tokens);
    mask[r * c.tokens + r + 3] = 1;
  }
  const out = await session.run({
    x: tensor(x, [c.batch, c.tokens, c.dIn]),
    key_padding_mask: new ort.Tensor('int32', ortKeyPaddingMask(mask), [c.batch, c.tokens]),
  });
  y = out.y.data;
  ref = referenceForward('multihead', cfg, normaliseStateDict(sd), x, [c.batch, c.tokens, c.dIn], {
    keyPaddingMask: mask,
  }).context;
  // The same input without the mask must differ: a mask the graph ignored would pass the check above.
  const unmasked = referenceForward('multihead', cfg, normaliseStateDict(sd), x, [c.batch, c.tokens, c.dIn]).context;
  if (relativeError(y, unmasked) < 1e-3)
    throw new Error('the padded graph gives the unmasked answer: key_padding_mask is ignored');
} else {
  const out = await session.run({ x: tensor(x, [c.batch, c.tokens, c.dIn]) });
  y = out.y.data;
  if (c.tokens * c.tokens * c.batch * c.dOut <= 2 ** 28) {
    ref = referenceForward('multihead', cfg, normaliseStateDict(sd), x, [c.batch, c.tokens, c.dIn]).context;
  }
}
console.log(`${name}: model ${bytes.length} bytes, output of ${y.length} floats`);
if (ref) {
  const e = relativeError(y, ref);
  console.log(`  onnxruntime-node vs the plain-JS reference: rel. error ${e.toExponential(2)}`);
  if (!(e <= 1e-4) || y.length !== ref.length) process.exit(1);
}
