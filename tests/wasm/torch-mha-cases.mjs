// PyTorch's nn.MultiheadAttention golden files (tests/golden/torch/mha_*) as the package's create() and forward()
// options: shared by module-inputs.test.mjs (the book's names, converted here) and weight-formats.test.mjs
// (the torch state_dict as it is, loaded with weightsFormat).
import { f32, flat } from './helpers.mjs';

// nn.MultiheadAttention's state_dict in the book's names: in_proj_weight (3E, E) = W_query; W_key; W_value, or
// q/k/v_proj_weight when kdim/vdim differ; in_proj_bias (3E); out_proj.* as they are.
export function bookStateDict(sd) {
  const out = {};
  const rows = (m, from, to) => m.slice(from, to);
  if (sd.in_proj_weight) {
    const e = sd.in_proj_weight.length / 3;
    ['W_query', 'W_key', 'W_value'].forEach((name, i) => {
      out[`${name}.weight`] = rows(sd.in_proj_weight, i * e, (i + 1) * e);
    });
  } else {
    out['W_query.weight'] = sd.q_proj_weight;
    out['W_key.weight'] = sd.k_proj_weight;
    out['W_value.weight'] = sd.v_proj_weight;
  }
  if (sd.in_proj_bias) {
    const e = sd.in_proj_bias.length / 3;
    ['W_query', 'W_key', 'W_value'].forEach((name, i) => {
      out[`${name}.bias`] = rows(sd.in_proj_bias, i * e, (i + 1) * e);
    });
  }
  out['out_proj.weight'] = sd['out_proj.weight'];
  out['out_proj.bias'] = sd['out_proj.bias'] ?? new Array(sd['out_proj.weight'].length).fill(0);
  return out;
}

// A golden file of nn.MultiheadAttention(E, heads, batch_first=True) → create options, forward options, expected.
export function mhaCase(g, stateDict) {
  const [, nq, e] = g.shapes['inputs.query'];
  const heads = Number(/MultiheadAttention\(\d+, (\d+)/.exec(g.construction)[1]);
  const kd = g.shapes['inputs.key'][2],
    vd = g.shapes['inputs.value'][2];
  const create = { dIn: e, dOut: e, numHeads: heads, causal: false, qkvBias: !!g.state_dict.in_proj_bias, stateDict };
  if (kd !== e) create.kDim = kd;
  if (vd !== e) create.vDim = vd;
  const forward = {
    returnWeights: g.call.need_weights,
    averageWeights: g.call.need_weights && g.call.average_attn_weights !== false,
  };
  const self = g.call.code.startsWith('module(x, x, x');
  if (!self) {
    forward.kv = f32(g.inputs.key);
    forward.kvShape = g.shapes['inputs.key'];
    if (vd !== kd || JSON.stringify(g.inputs.value) !== JSON.stringify(g.inputs.key)) {
      forward.value = f32(g.inputs.value);
      forward.valueShape = g.shapes['inputs.value'];
    }
  }
  if (g.inputs.key_padding_mask) forward.keyPaddingMask = flat(g.inputs.key_padding_mask);
  if (g.inputs.attn_mask) {
    const values = flat(g.inputs.attn_mask);
    forward.attnMaskShape = g.shapes['inputs.attn_mask'];
    forward.attnMask = typeof values[0] === 'boolean' ? values : Float32Array.from(values);
  }
  if (forward.keyPaddingMask) forward.keyPaddingMask = Uint8Array.from(forward.keyPaddingMask, Number);
  return { create, forward, x: f32(g.inputs.query), shape: g.shapes['inputs.query'], nq };
}

export const MHA = [
  'self_attention',
  'self_attention_per_head',
  'no_bias',
  'key_padding_mask',
  'attn_mask_bool_2d',
  'attn_mask_bool_3d',
  'attn_mask_float',
  'cross_attention_kdim_vdim',
];
