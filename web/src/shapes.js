// Multi-head attention's tensor shapes step by step (view, transpose and back), each with the line of the
// book's MultiHeadAttention.forward it comes from, for concrete sizes.
import { S } from './strings.js';
import { h } from './util.js';

/** [{code, shape: number[], note}] for x of (b, n, dIn), dOut, H heads (head_dim = dOut / H). */
export function mhaShapes({ b, n, dIn, dOut, heads }) {
  const hd = dOut / heads;
  const T = S.shapes.steps;
  return [
    { code: 'b, num_tokens, d_in = x.shape', shape: [b, n, dIn], note: T.input },
    { code: 'keys = self.W_key(x)  # and queries, values', shape: [b, n, dOut], note: T.project },
    { code: 'keys = keys.view(b, num_tokens, self.num_heads, self.head_dim)', shape: [b, n, heads, hd], note: T.view },
    { code: 'keys = keys.transpose(1, 2)', shape: [b, heads, n, hd], note: T.transpose },
    { code: 'attn_scores = queries @ keys.transpose(2, 3)', shape: [b, heads, n, n], note: T.scores },
    {
      code: 'attn_weights = torch.softmax(attn_scores / keys.shape[-1]**0.5, dim=-1)',
      shape: [b, heads, n, n],
      note: T.softmax,
    },
    { code: 'context_vec = (attn_weights @ values).transpose(1, 2)', shape: [b, n, heads, hd], note: T.back },
    {
      code: 'context_vec = context_vec.contiguous().view(b, num_tokens, self.d_out)',
      shape: [b, n, dOut],
      note: T.merge,
    },
    { code: 'context_vec = self.out_proj(context_vec)', shape: [b, n, dOut], note: T.outProj },
  ];
}

export function shapesTable(sizes, caption) {
  const rows = mhaShapes(sizes);
  return h(
    'div',
    { class: 'table-scroll', tabindex: '0' },
    h(
      'table',
      { class: 'shapes-table' },
      h('caption', null, caption),
      h(
        'thead',
        null,
        h(
          'tr',
          null,
          S.shapes.cols.map((c) => h('th', { scope: 'col' }, c)),
        ),
      ),
      h(
        'tbody',
        null,
        rows.map((r, k) =>
          h(
            'tr',
            { dataset: { shape: JSON.stringify(r.shape) } },
            h('th', { scope: 'row' }, String(k + 1)),
            h('td', null, h('code', null, r.code)),
            h('td', { class: 'shape' }, `(${r.shape.join(', ')})`),
            h('td', null, r.note),
          ),
        ),
      ),
    ),
  );
}
