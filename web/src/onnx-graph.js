// Builds, in code, the ONNX model of the book's causal MultiHeadAttention (no binary is checked in):
//
//   x (b, n, d_in) ─ MatMul W_queryᵀ ─┐
//                  ─ MatMul W_keyᵀ   ─┼─ com.microsoft.MultiHeadAttention(num_heads=h, unidirectional=1) ─ MatMul out_projᵀ ─ Add bias ─ y
//                  ─ MatMul W_valueᵀ ─┘
//
// The weights are the same state_dict attnkit is given (PyTorch layout), transposed to the
// (d_in × d_out) layout MatMul wants. MultiHeadAttention's default scale is 1/√head_dim, as in the book.
// `unidirectional=1` makes it causal (supported by onnxruntime's CPU kernel, which is also what
// onnxruntime-web's wasm backend runs).
//
// The page's performance panel builds it in its worker (ort-peer.js); bench/compare builds the same graph
// for onnxruntime-node and its Chromium page. Pure (no Node built-ins).
// `node bench/compare/check-onnx-graph.mjs [C1]` runs it in onnxruntime-node against the plain-JS reference.
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT32 = onnx.TensorProto.DataType.INT32;

// A (rows×cols) row-major matrix transposed to (cols×rows).
function transpose(data, rows, cols) {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let k = 0; k < cols; k++) out[k * rows + r] = data[r * cols + k];
  return out;
}

function initializer(name, dims, data) {
  return onnx.TensorProto.create({
    name,
    dims,
    dataType: FLOAT,
    rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  });
}

function valueInfo(name, dims, elemType = FLOAT) {
  return onnx.ValueInfoProto.create({
    name,
    type: onnx.TypeProto.create({
      tensorType: onnx.TypeProto.Tensor.create({
        elemType,
        shape: onnx.TensorShapeProto.create({
          dim: dims.map((d) =>
            typeof d === 'string'
              ? onnx.TensorShapeProto.Dimension.create({ dimParam: d })
              : onnx.TensorShapeProto.Dimension.create({ dimValue: d }),
          ),
        }),
      }),
    }),
  });
}

function intAttribute(name, i) {
  return onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INT, i });
}

function node(opType, inputs, outputs, extra = {}) {
  return onnx.NodeProto.create({ opType, input: inputs, output: outputs, name: outputs[0] + '_' + opType, ...extra });
}

/**
 * The serialised ONNX model (Uint8Array) for config c ({ batch, tokens, dIn, dOut, heads }) and state_dict sd.
 * Batch and token counts are symbolic, so one model serves any input of width d_in.
 * Options (both for bench/compare's decode and padded cells; the default graph is the page's):
 * - keyPaddingMask: an int32 input `key_padding_mask` (batch, tokens), 1 = attend, 0 = padding (onnxruntime's
 *   convention, the opposite of nn.MultiheadAttention's), fed to MultiHeadAttention's fifth input.
 * - decode: inputs `past_key` / `past_value` (batch, heads, past, head_dim) of the tokens already seen, outputs
 *   `present_key` / `present_value` (past + new); no `unidirectional`, so what the new tokens see is the whole
 *   past: exact for one new token, which is all the decode cell feeds.
 */
export function buildMultiHeadAttentionModel(c, sd, { keyPaddingMask = false, decode = false } = {}) {
  const { dIn, dOut: d, heads } = c;
  const headDim = d / heads;
  const inits = [
    initializer('Wq_t', [dIn, d], transpose(sd['W_query.weight'].data, d, dIn)),
    initializer('Wk_t', [dIn, d], transpose(sd['W_key.weight'].data, d, dIn)),
    initializer('Wv_t', [dIn, d], transpose(sd['W_value.weight'].data, d, dIn)),
    initializer('Wo_t', [d, d], transpose(sd['out_proj.weight'].data, d, d)),
    initializer('bo', [d], sd['out_proj.bias'].data),
  ];
  // MultiHeadAttention's inputs by position: query, key, value, bias, key_padding_mask, attention_bias, past_key,
  // past_value ('' = absent); its outputs: output, present_key, present_value.
  const attentionInputs = ['queries', 'keys', 'values', '', keyPaddingMask ? 'key_padding_mask' : ''];
  if (decode) attentionInputs.push('', 'past_key', 'past_value');
  while (attentionInputs[attentionInputs.length - 1] === '') attentionInputs.pop();
  const attributes = [intAttribute('num_heads', heads)];
  if (!decode) attributes.push(intAttribute('unidirectional', 1));
  const nodes = [
    node('MatMul', ['x', 'Wq_t'], ['queries']),
    node('MatMul', ['x', 'Wk_t'], ['keys']),
    node('MatMul', ['x', 'Wv_t'], ['values']),
    node(
      'MultiHeadAttention',
      attentionInputs,
      decode ? ['context_vec', 'present_key', 'present_value'] : ['context_vec'],
      {
        domain: 'com.microsoft',
        attribute: attributes,
      },
    ),
    node('MatMul', ['context_vec', 'Wo_t'], ['projected']),
    node('Add', ['projected', 'bo'], ['y']),
  ];
  const inputs = [valueInfo('x', ['batch', 'tokens', dIn])];
  const outputs = [valueInfo('y', ['batch', 'tokens', d])];
  if (keyPaddingMask) inputs.push(valueInfo('key_padding_mask', ['batch', 'tokens'], INT32));
  if (decode) {
    for (const name of ['past_key', 'past_value']) inputs.push(valueInfo(name, ['batch', heads, 'past', headDim]));
    for (const name of ['present_key', 'present_value'])
      outputs.push(valueInfo(name, ['batch', heads, 'total', headDim]));
  }
  const graph = onnx.GraphProto.create({
    name: 'attnkit_multihead_causal',
    node: nodes,
    initializer: inits,
    input: inputs,
    output: outputs,
  });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'attnkit bench/compare',
    opsetImport: [
      onnx.OperatorSetIdProto.create({ domain: '', version: 17 }),
      onnx.OperatorSetIdProto.create({ domain: 'com.microsoft', version: 1 }),
    ],
    graph,
  });
  return onnx.ModelProto.encode(model).finish();
}
