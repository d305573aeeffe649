"""Gradients by autograd for torch.nn.MultiheadAttention (batch_first=True, dropout off) with key_padding_mask,
attn_mask bool and float, cross-attention with kdim/vdim, and key = value from a second input: with a fixed
grad_output, loss = sum(output * grad_output), in float64 on the float32 parameters. Kind "grad" like
cases_grad.py: inputs.x is the query; inputs.kv the key (and the value when inputs.value is absent); the
outputs hold grad_input (of x; with x as query, key and value it sums the three paths), grad_kv, grad_value
and every parameter's gradient under its state_dict name."""
import torch
import torch.nn as nn

from .golden import Golden, inputs_generator, randn

E, HEADS, B = 8, 2, 2


def mha_gradients(case, description, construction, seed, make, x, kv=None, value=None, **masks):
    torch.manual_seed(seed)
    module = make()
    g = Golden('grad', f'mha_{case}', description, construction, seed, 'float64', '')
    g.put_state_dict(module)
    g.put('inputs', 'x', x)
    if kv is not None:
        g.put('inputs', 'kv', kv)
    if value is not None:
        g.put('inputs', 'value', value)
    for name, t in masks.items():
        g.put('inputs', name, t)
    module = module.double()
    leaves = {'x': x.double().requires_grad_(True)}
    if kv is not None:
        leaves['kv'] = kv.double().requires_grad_(True)
    if value is not None:
        leaves['value'] = value.double().requires_grad_(True)
    key = leaves.get('kv', leaves['x'])
    val = leaves.get('value', key)
    kw = {n: (t.double() if t.is_floating_point() else t) for n, t in masks.items()}
    output, _ = module(leaves['x'], key, val, need_weights=False, **kw)
    grad_output = randn(inputs_generator(seed + 1000), *output.shape)
    g.put('inputs', 'grad_output', grad_output)
    (output * grad_output.double()).sum().backward()
    g.put('outputs', 'context', output)
    g.put('outputs', 'grad_input', leaves['x'].grad)
    if kv is not None:
        g.put('outputs', 'grad_kv', leaves['kv'].grad)
    if value is not None:
        g.put('outputs', 'grad_value', leaves['value'].grad)
    for pname, p in module.named_parameters():
        g.put('outputs', pname, p.grad, group='grads')
    args = 'x, kv, value' if value is not None else 'x, kv, kv' if kv is not None else 'x, x, x'
    mask_args = ''.join(f', {n}={n}' for n in masks)
    g.doc['call'] = {'code': f'output, _ = module({args}{mask_args}, need_weights=False); '
                             '(output * grad_output).sum().backward()',
                     'train': False,
                     'grad_output': f'torch.randn(output.shape, generator=torch.Generator().manual_seed({seed + 1000}))'}
    g.doc['notes'] = ('Masks in nn.MultiheadAttention\'s sense: key_padding_mask True = padding (ignored); a bool '
                      'attn_mask True = not allowed; a float attn_mask is added to the scores. No row is fully masked '
                      '(torch gives NaN there).')
    return f'grad_mha_{case}.json', g


def files():
    gx = inputs_generator(11)
    n = 5
    x = randn(gx, B, n, E)
    build = f'torch.nn.MultiheadAttention({E}, {HEADS}, batch_first=True)'

    def mha(**kw):
        return lambda: nn.MultiheadAttention(E, HEADS, batch_first=True, **kw)

    padding = torch.zeros(B, n, dtype=torch.bool)
    padding[0, 3:] = True
    padding[1, 4] = True
    bool_mask = torch.zeros(n, n, dtype=torch.bool)
    bool_mask[0, 1] = bool_mask[2, 4] = bool_mask[3, 0] = bool_mask[4, 2] = True
    bool_3d = torch.rand(B * HEADS, n, n, generator=gx) < 0.4
    bool_3d[:, :, 0] = False  # every row keeps key 0
    float_mask = randn(gx, n, n) * 0.5
    float_mask[torch.triu(torch.ones(n, n, dtype=torch.bool), diagonal=1)] = float('-inf')
    kdim, vdim, n_q, n_k = 5, 3, 4, 6
    query = randn(gx, B, n_q, E)
    key = randn(gx, B, n_k, kdim)
    value = randn(gx, B, n_k, vdim)
    kv = randn(gx, B, n_k, E)
    cross_padding = torch.zeros(B, n_k, dtype=torch.bool)
    cross_padding[1, 5] = cross_padding[0, 0] = True
    return [
        mha_gradients('key_padding_mask', 'self-attention with key_padding_mask (b, n_k), True = padding', build, 123,
                      mha(), x, key_padding_mask=padding),
        mha_gradients('attn_mask_bool', 'self-attention, bool attn_mask (n_q, n_k) True = not allowed, and '
                      'key_padding_mask', build, 123, mha(), x, attn_mask=bool_mask, key_padding_mask=padding),
        mha_gradients('attn_mask_bool_3d', 'self-attention, bool attn_mask (b*h, n_q, n_k)', build, 123, mha(), x,
                      attn_mask=bool_3d),
        mha_gradients('attn_mask_float', 'self-attention, float attn_mask (n_q, n_k) added, -inf above the diagonal',
                      build, 123, mha(), x, attn_mask=float_mask),
        mha_gradients('kdim_vdim', f'cross-attention, kdim {kdim} and vdim {vdim}, {n_q} queries, {n_k} keys, '
                      'key_padding_mask', f'torch.nn.MultiheadAttention({E}, {HEADS}, kdim={kdim}, vdim={vdim}, '
                      'batch_first=True)', 123, mha(kdim=kdim, vdim=vdim), query, key, value,
                      key_padding_mask=cross_padding),
        mha_gradients('cross_attention', f'cross-attention, key = value = kv (b, {n_k}, {E}), {n_q} queries',
                      build, 7, mha(), query, kv),
        mha_gradients('no_bias', 'self-attention with bias=False', f'torch.nn.MultiheadAttention({E}, {HEADS}, '
                      'bias=False, batch_first=True)', 7, mha(bias=False), x),
    ]
