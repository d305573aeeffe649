"""Gradients by autograd for the book's classes and nn.MultiheadAttention: with a fixed grad_output,
loss = sum(context * grad_output); the files hold grad_input and the gradient of every parameter under
its state_dict name. Without dropout they run in float64 on the float32 parameters; the dropout cases run
in float32, in training mode, because the dropout mask is drawn from the seed's generator right after
the parameters (what attnkit reproduces)."""
import torch
import torch.nn as nn

from .book import (BOOK_INPUTS, CausalAttention, MultiHeadAttention, MultiHeadAttentionWrapper, SelfAttention_v1,
                   SelfAttention_v2)
from .golden import Golden, inputs_generator, randn


def gradients(name, description, construction, seed, make, x, dtype=torch.float64, train=False, call=None, notes=''):
    torch.manual_seed(seed)
    module = make()
    g = Golden('grad', name, description, construction, seed, 'float64' if dtype == torch.float64 else 'float32', notes)
    g.put_state_dict(module)
    g.put('inputs', 'x', x)
    module = module.to(dtype)
    module.train(train)
    # A fresh leaf: x.to(float32) of a float32 tensor is x itself, whose .grad would add up across cases.
    x = x.detach().clone().to(dtype).requires_grad_(True)
    dropped = {}
    if hasattr(module, 'dropout') and train:
        # The weights after dropout, to show which entries the generator dropped.
        def keep(m, inputs, output):  # returns None: a hook that returns a value replaces the output
            dropped['weights_after_dropout'] = output.detach()
        module.dropout.register_forward_hook(keep)
    context = call(module, x) if call else module(x)
    grad_output = randn(inputs_generator(seed + 1000), *context.shape)
    g.put('inputs', 'grad_output', grad_output)
    (context * grad_output.to(dtype)).sum().backward()
    g.put('outputs', 'context', context)
    g.put('outputs', 'grad_input', x.grad)
    for pname, p in module.named_parameters():
        g.put('outputs', pname, p.grad, group='grads')
    for k, t in dropped.items():
        g.put('outputs', k, t)
    g.doc['call'] = {'code': 'context = module(x); (context * grad_output).sum().backward()', 'train': train,
                     'grad_output': f'torch.randn(context.shape, generator=torch.Generator().manual_seed({seed + 1000}))'}
    return f'grad_{name}.json', g


def files():
    gx = inputs_generator(5)
    batch = randn(gx, 2, 5, 4)
    x_embed = randn(gx, 2, 5, 8)
    book_batch = torch.stack((BOOK_INPUTS, BOOK_INPUTS), dim=0)
    dropout_order = ('torch.manual_seed(seed), then the parameters in state_dict order as the module is built, then '
                     'the forward in training mode draws the dropout mask of attn_weights (b, h, n, n) from the same '
                     'generator, one element after another in memory order')
    return [
        gradients('self_attention_v1', 'SelfAttention_v1(3, 2) on the book\'s 6 tokens', 'SelfAttention_v1(d_in=3, d_out=2)',
                  123, lambda: SelfAttention_v1(3, 2), BOOK_INPUTS),
        gradients('self_attention_v2', 'SelfAttention_v2(4, 6, qkv_bias=True) on 5 tokens',
                  'SelfAttention_v2(d_in=4, d_out=6, qkv_bias=True)', 789, lambda: SelfAttention_v2(4, 6, qkv_bias=True),
                  batch[0]),
        gradients('causal_attention', 'CausalAttention(4, 6, context_length 7, dropout 0), batch 2 x 5 tokens',
                  'CausalAttention(d_in=4, d_out=6, context_length=7, dropout=0.0)', 123,
                  lambda: CausalAttention(4, 6, 7, 0.0), batch),
        gradients('multihead_wrapper', 'MultiHeadAttentionWrapper(4, 2, 5, 0.0, num_heads=3, qkv_bias=True)',
                  'MultiHeadAttentionWrapper(d_in=4, d_out=2, context_length=5, dropout=0.0, num_heads=3, qkv_bias=True)',
                  123, lambda: MultiHeadAttentionWrapper(4, 2, 5, 0.0, num_heads=3, qkv_bias=True), batch),
        gradients('multihead_attention', 'MultiHeadAttention(4, 6, 5, 0.0, num_heads=3, qkv_bias=True)',
                  'MultiHeadAttention(d_in=4, d_out=6, context_length=5, dropout=0.0, num_heads=3, qkv_bias=True)', 123,
                  lambda: MultiHeadAttention(4, 6, 5, 0.0, num_heads=3, qkv_bias=True), batch),
        gradients('torch_mha', 'nn.MultiheadAttention(8, 2, batch_first=True) self-attention, x as query, key and value',
                  'torch.nn.MultiheadAttention(8, 2, batch_first=True)', 123,
                  lambda: nn.MultiheadAttention(8, 2, batch_first=True), x_embed,
                  call=lambda m, x: m(x, x, x, need_weights=False)[0],
                  notes='grad_input sums the paths through query, key and value (all three are x).'),
        gradients('causal_attention_dropout_train', 'CausalAttention(3, 2, 6, dropout 0.5) in training mode on the '
                  'book\'s batch (2, 6, 3), float32', 'CausalAttention(d_in=3, d_out=2, context_length=6, dropout=0.5)', 123,
                  lambda: CausalAttention(3, 2, 6, 0.5), book_batch, dtype=torch.float32, train=True,
                  notes='Draw order: ' + dropout_order + '.'),
        gradients('multihead_attention_dropout_train', 'MultiHeadAttention(3, 4, 6, dropout 0.5, num_heads=2) in '
                  'training mode on the book\'s batch (2, 6, 3), float32',
                  'MultiHeadAttention(d_in=3, d_out=4, context_length=6, dropout=0.5, num_heads=2)', 123,
                  lambda: MultiHeadAttention(3, 4, 6, 0.5, num_heads=2), book_batch, dtype=torch.float32, train=True,
                  notes='Draw order: ' + dropout_order + '.'),
    ]
