"""The scaled-dot-product op on raw tensors, written directly in torch:
    weights = softmax(query @ key.transpose(-2, -1) * scale + mask), output = weights @ value
with query (b, h_q, n_q, d), key (b, h_kv, n_k, d), value (b, h_kv, n_k, d_v). Masks follow
scaled_dot_product_attention: bool True = may attend (False becomes -inf), float is added. Grouped-query
heads: query head i uses key/value head i // (h_q // h_kv) (repeat_interleave). A row with nothing to
attend to is NaN in torch and zeros in attnkit: such files hold both (torch_output, and output = zeros)."""
import torch

from .golden import Golden, inputs_generator, randn

CODE = ('key = key.repeat_interleave(h_q // h_kv, dim=1); value = value.repeat_interleave(h_q // h_kv, dim=1); '
        'scores = query @ key.transpose(-2, -1) * scale; '
        'scores = scores.masked_fill(~mask, -inf) if mask is bool else scores + mask; '
        'weights = torch.softmax(scores, dim=-1); output = weights @ value')


def causal_mask(n_q, n_k, align):
    """True = may attend. upper-left: query i sees keys j <= i (is_causal=True); lower-right: the last
    query sees every key, query i sees j <= i + n_k - n_q."""
    i = torch.arange(n_q).unsqueeze(1)
    j = torch.arange(n_k).unsqueeze(0)
    return j <= i if align == 'upper-left' else j <= i + (n_k - n_q)


def attend(query, key, value, mask, scale):
    groups = query.shape[1] // key.shape[1]
    key = key.repeat_interleave(groups, dim=1).double()
    value = value.repeat_interleave(groups, dim=1).double()
    scores = query.double() @ key.transpose(-2, -1) * scale
    if mask is not None:
        scores = scores.masked_fill(~mask, float('-inf')) if mask.dtype == torch.bool else scores + mask.double()
    weights = torch.softmax(scores, dim=-1)
    return weights @ value, weights


def case(name, description, seed, b, h_q, h_kv, n_q, n_k, d, d_v, mask=None, causal=None, scale=None, notes='',
         grad=False):
    """grad: also autograd's grad_query, grad_key, grad_value of sum(output * grad_output), grad_output drawn by
    torch.randn from a generator seeded seed + 1000."""
    g = inputs_generator(seed)
    query, key, value = randn(g, b, h_q, n_q, d), randn(g, b, h_kv, n_k, d), randn(g, b, h_kv, n_k, d_v)
    if callable(mask):
        mask = mask(g)
    scale_used = scale if scale is not None else 1.0 / d ** 0.5
    full_mask = mask
    if causal is not None:
        full_mask = causal_mask(n_q, n_k, causal) if mask is None else mask & causal_mask(n_q, n_k, causal)
    leaves = [t.double().requires_grad_(grad) for t in (query, key, value)]
    output, weights = attend(*leaves, full_mask, scale_used)
    golden = Golden('sdpa', name, description, 'inputs drawn by torch.randn(..., generator=torch.Generator().manual_seed('
                    f'{seed})) in the order query, key, value' + (', then the mask' if mask is not None else ''),
                    seed, 'float64', notes)
    golden.doc['call'] = {'code': CODE, 'scale': scale, 'scale_used': scale_used, 'causal': causal,
                          'kv_head_of_query_head': [i // (h_q // h_kv) for i in range(h_q)]}
    for n, t in (('query', query), ('key', key), ('value', value)):
        golden.put('inputs', n, t)
    if mask is not None:
        golden.put('inputs', 'attn_mask', mask)
    empty = ~torch.isfinite(weights).all(dim=-1, keepdim=True)  # rows torch leaves NaN: nothing to attend to
    if empty.any():
        golden.put('outputs', 'torch_output', output)
        golden.put('outputs', 'torch_weights', weights)
        golden.put('outputs', 'fully_masked_rows', empty.squeeze(-1))
        output = output.masked_fill(empty, 0.0)
        weights = weights.masked_fill(empty, 0.0)
    golden.put('outputs', 'output', output)
    golden.put('outputs', 'weights', weights)
    golden.put('outputs', 'weights_averaged_over_heads', weights.mean(dim=1))
    if grad:
        grad_output = randn(inputs_generator(seed + 1000), *output.shape)
        golden.put('inputs', 'grad_output', grad_output)
        (output * grad_output.double()).sum().backward()
        for n, t in zip(('grad_query', 'grad_key', 'grad_value'), leaves):
            golden.put('outputs', n, t.grad)
        golden.doc['call']['grad'] = 'loss = (output * grad_output).sum(); loss.backward()'
    return f'sdpa_{name}.json', golden


def bool_mask(shape, keep_first=True):
    def draw(g):
        m = torch.rand(*shape, generator=g) < 0.6
        if keep_first:
            m[..., 0] = True  # every row attends to something
        return m
    return draw


def float_mask(shape):
    def draw(g):
        m = randn(g, *shape)
        m[torch.rand(*shape, generator=g) < 0.3] = float('-inf')
        m[..., -1] = 0.5  # every row keeps its last key
        return m
    return draw


def files():
    return [
        case('no_mask', 'plain attention, b 2, 2 heads, 5 queries, 7 keys, d 4', 11, 2, 2, 2, 5, 7, 4, 4),
        case('bool_mask', 'bool attn_mask (b, 1, n_q, n_k), broadcast over heads, True = may attend', 12, 2, 3, 3, 4, 6, 4, 4,
             mask=bool_mask((2, 1, 4, 6))),
        case('float_mask', 'float attn_mask (n_q, n_k) added to the scores, with -inf entries', 13, 2, 2, 2, 5, 5, 4, 4,
             mask=float_mask((5, 5))),
        case('causal_upper_left', 'causal upper-left (is_causal=True), n_q 3 < n_k 6', 14, 1, 2, 2, 3, 6, 4, 4,
             causal='upper-left'),
        case('causal_lower_right', 'causal lower-right (the last query sees every key), n_q 3 < n_k 6', 14, 1, 2, 2, 3, 6,
             4, 4, causal='lower-right'),
        case('causal_lower_right_more_queries', 'causal lower-right with n_q 5 > n_k 3: queries 0 and 1 see no key', 15, 1,
             2, 2, 5, 3, 4, 4, causal='lower-right'),
        case('grouped_query', 'grouped-query attention: h_q 4, h_kv 2 (query heads 0,1 use kv head 0; 2,3 use 1), causal '
             'upper-left', 16, 2, 4, 2, 5, 5, 4, 4, causal='upper-left'),
        case('multi_query', 'multi-query attention: h_q 3, h_kv 1, bool mask (n_q, n_k)', 17, 1, 3, 1, 4, 5, 4, 4,
             mask=bool_mask((4, 5))),
        case('d_ne_dv_scale', 'd 4, d_v 3, scale 0.3 (not 1/sqrt(d)), float mask (b, h, n_q, n_k)', 18, 2, 2, 2, 3, 5, 4, 3,
             mask=float_mask((2, 2, 3, 5)), scale=0.3),
        case('fully_masked_row', 'bool mask with rows that attend to nothing: torch gives NaN, attnkit zeros', 19, 1, 2, 2,
             4, 5, 4, 4, mask=lambda g: torch.tensor([[True, False, True, False, True], [False] * 5,
                                                      [True, True, True, True, True], [False] * 5]),
             notes='outputs.output and outputs.weights hold attnkit\'s answer (zeros on the fully masked rows); '
                   'outputs.torch_output and outputs.torch_weights what torch gives (NaN there).'),
        case('grad_grouped_query_lower_right', 'gradients: h_q 4, h_kv 2, n_q 4 < n_k 6, d 4, d_v 3, bool mask (b, 1, '
             'n_q, n_k), causal lower-right', 20, 2, 4, 2, 4, 6, 4, 3, mask=bool_mask((2, 1, 4, 6)), causal='lower-right',
             grad=True),
        case('grad_multi_query_float_mask', 'gradients: h_q 3, h_kv 1, float mask (n_q, n_k) with -inf, scale 0.3', 21,
             1, 3, 1, 5, 5, 4, 4, mask=float_mask((5, 5)), scale=0.3, grad=True),
    ]
