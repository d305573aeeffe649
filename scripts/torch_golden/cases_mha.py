"""torch.nn.MultiheadAttention (batch_first=True): self-attention, padding and attention masks, kdim/vdim
cross-attention, weights averaged or per head. Its conventions: a bool attn_mask is True where attending
is NOT allowed, a float attn_mask is added to the scores, key_padding_mask True marks padding (ignored)."""
import torch
import torch.nn as nn

from .golden import Golden, inputs_generator, randn

E, HEADS, B, N = 8, 2, 2, 5


def run(case, description, construction, call_code, seed, make, call, notes=''):
    """make() builds the module under torch.manual_seed(seed); call() returns the inputs and keyword
    arguments, which then run through the same module in float64."""
    torch.manual_seed(seed)
    module = make()
    inputs, kwargs = call()
    g = Golden('nn.MultiheadAttention', case, description, construction, seed, 'float64', notes)
    g.doc['call']['code'] = call_code
    for name, t in inputs.items():
        g.put('inputs', name, t)
    for name, t in kwargs.items():
        if isinstance(t, torch.Tensor):
            g.put('inputs', name, t)
        else:
            g.doc['call'][name] = t
    g.put_state_dict(module)
    module64 = module.double()
    args = [inputs[n].double() for n in ('query', 'key', 'value')]
    kw = {n: (t.double() if isinstance(t, torch.Tensor) and t.is_floating_point() else t) for n, t in kwargs.items()}
    with torch.no_grad():
        output, weights = module64(*args, **kw)
    g.put('outputs', 'output', output)
    if weights is not None:
        g.put('outputs', 'weights', weights)
    return f'mha_{case}.json', g


def self_inputs(g, n=N):
    x = randn(g, B, n, E)
    return {'query': x, 'key': x, 'value': x}


def files():
    out = []
    build = f'torch.nn.MultiheadAttention({E}, {HEADS}, batch_first=True)'

    def mha(**kw):
        return lambda: nn.MultiheadAttention(E, HEADS, batch_first=True, **kw)

    g = inputs_generator(1)
    x = self_inputs(g)
    out.append(run('self_attention', 'self-attention without masks; weights averaged over heads', build,
                   'module(x, x, x, need_weights=True)', 123, mha(), lambda: (x, {'need_weights': True})))
    out.append(run('self_attention_per_head', 'self-attention without masks; weights per head (b, h, n, n)', build,
                   'module(x, x, x, average_attn_weights=False)', 123, mha(),
                   lambda: (x, {'need_weights': True, 'average_attn_weights': False})))

    padding = torch.zeros(B, N, dtype=torch.bool)
    padding[0, 3:] = True  # batch 0: two padded keys
    padding[1, 4:] = True  # batch 1: one
    out.append(run('key_padding_mask', 'self-attention with key_padding_mask (b, n_k), True = padding (ignored)',
                   build, 'module(x, x, x, key_padding_mask=key_padding_mask)', 123, mha(),
                   lambda: (x, {'key_padding_mask': padding, 'need_weights': True})))

    bool_2d = torch.zeros(N, N, dtype=torch.bool)
    bool_2d[0, 1] = bool_2d[2, 4] = bool_2d[3, 0] = bool_2d[4, 2] = True
    out.append(run('attn_mask_bool_2d', 'attn_mask bool (n_q, n_k), True = not allowed, same for every batch and head',
                   build, 'module(x, x, x, attn_mask=attn_mask, average_attn_weights=False)', 123, mha(),
                   lambda: (x, {'attn_mask': bool_2d, 'need_weights': True, 'average_attn_weights': False})))

    gm = inputs_generator(2)
    bool_3d = torch.rand(B * HEADS, N, N, generator=gm) < 0.4
    bool_3d[:, :, 0] = False  # every row keeps key 0, so no row is fully masked (torch would give NaN)
    out.append(run('attn_mask_bool_3d', 'attn_mask bool (b*h, n_q, n_k): row batch*num_heads + head, True = not allowed',
                   build, 'module(x, x, x, attn_mask=attn_mask, average_attn_weights=False)', 123, mha(),
                   lambda: (x, {'attn_mask': bool_3d, 'need_weights': True, 'average_attn_weights': False})))

    float_mask = randn(gm, N, N) * 0.5
    float_mask[torch.triu(torch.ones(N, N, dtype=torch.bool), diagonal=1)] = float('-inf')  # causal, plus noise
    out.append(run('attn_mask_float', 'attn_mask float (n_q, n_k) added to the scores, -inf above the diagonal',
                   build, 'module(x, x, x, attn_mask=attn_mask)', 123, mha(),
                   lambda: (x, {'attn_mask': float_mask, 'need_weights': True})))

    gc = inputs_generator(3)
    kdim, vdim, n_k = 5, 6, 6
    cross = {'query': randn(gc, B, 4, E), 'key': randn(gc, B, n_k, kdim), 'value': randn(gc, B, n_k, vdim)}
    cross_padding = torch.zeros(B, n_k, dtype=torch.bool)
    cross_padding[1, 5] = True
    out.append(run('cross_attention_kdim_vdim',
                   'cross-attention, kdim 5 and vdim 6 (q_proj_weight, k_proj_weight, v_proj_weight), 4 queries, 6 keys',
                   f'torch.nn.MultiheadAttention({E}, {HEADS}, kdim={kdim}, vdim={vdim}, batch_first=True)',
                   'module(query, key, value, key_padding_mask=key_padding_mask, average_attn_weights=False)', 123, mha(kdim=kdim, vdim=vdim),
                   lambda: (cross, {'key_padding_mask': cross_padding, 'need_weights': True, 'average_attn_weights': False})))
    out.append(run('no_bias', 'self-attention with bias=False (no in_proj_bias, no out_proj.bias), no weights returned',
                   f'torch.nn.MultiheadAttention({E}, {HEADS}, bias=False, batch_first=True)', 'module(x, x, x, need_weights=False)', 7,
                   mha(bias=False), lambda: (x, {'need_weights': False})))
    return out
