"""A GPT-2 attention block written in torch as Hugging Face's GPT2Attention computes it (no cache, no
cross-attention): Conv1D layers (y = x @ W + b, W of shape (in, out)), c_attn.weight (E, 3E) producing
query | key | value, heads split from the last axis, scores scaled by 1/sqrt(head_dim), the causal
`bias` buffer (1, 1, n_positions, n_positions) lower-triangular, masked scores set to finfo.min,
softmax, weights @ value, heads merged, c_proj. Saved state_dicts hold the legacy buffers `bias` and
`masked_bias` (-1e4), once without a prefix and once under `h.0.attn.` as in a whole model's dump."""
import torch
import torch.nn as nn

from .golden import Golden, inputs_generator, randn

E, HEADS, N_POSITIONS, B, N = 8, 2, 8, 2, 5


class Conv1D(nn.Module):
    def __init__(self, nf, nx):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(nx, nf).normal_(std=0.2))  # GPT-2 uses std 0.02; larger to spread weights
        self.bias = nn.Parameter(torch.empty(nf).normal_(std=0.2))

    def forward(self, x):
        return torch.addmm(self.bias, x.view(-1, x.size(-1)), self.weight).view(x.size()[:-1] + (self.weight.size(-1),))


class GPT2Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer('bias', torch.tril(torch.ones(N_POSITIONS, N_POSITIONS, dtype=torch.bool)).view(
            1, 1, N_POSITIONS, N_POSITIONS))
        self.register_buffer('masked_bias', torch.tensor(-1e4))
        self.c_attn = Conv1D(3 * E, E)
        self.c_proj = Conv1D(E, E)
        self.head_dim = E // HEADS

    def split_heads(self, t):  # (b, n, E) -> (b, h, n, head_dim)
        return t.view(t.size()[:-1] + (HEADS, self.head_dim)).permute(0, 2, 1, 3)

    def forward(self, x):
        query, key, value = self.c_attn(x).split(E, dim=2)
        query, key, value = self.split_heads(query), self.split_heads(key), self.split_heads(value)
        weights = query @ key.transpose(-1, -2) / torch.full([], value.size(-1) ** 0.5, dtype=x.dtype)
        n_q, n_k = query.size(-2), key.size(-2)
        causal = self.bias[:, :, n_k - n_q:n_k, :n_k]
        weights = torch.where(causal, weights, torch.tensor(torch.finfo(weights.dtype).min, dtype=weights.dtype))
        weights = nn.functional.softmax(weights, dim=-1)
        context = (weights @ value).permute(0, 2, 1, 3).contiguous()  # (b, n, h, head_dim)
        context = context.view(context.size()[:-2] + (E,))
        return self.c_proj(context), weights, key, value


def files():
    torch.manual_seed(321)
    block = GPT2Attention()
    x = randn(inputs_generator(4), B, N, E)
    g = Golden('gpt2_attention', 'block', f'GPT-2 attention block, n_embd {E}, n_head {HEADS}, n_positions {N_POSITIONS}, '
               f'on x ({B}, {N}, {E}); causal', 'torch.manual_seed(321); GPT2Attention() (this file\'s class in '
               'scripts/torch_golden/cases_gpt2.py: c_attn = Conv1D(3E, E), c_proj = Conv1D(E, E), weights and biases '
               '~ normal(0, 0.2))', 321, 'float64',
               'state_dict holds the block\'s own dump (bias, masked_bias, c_attn.*, c_proj.*); '
               'state_dict_prefixed the same under "h.0.attn." as GPT2Model.state_dict() writes it. bias is bool; '
               'Hugging Face saves it as bool (recent) or uint8 (old), both mean True = may attend.')
    g.doc['call'] = {'code': 'output, weights, present_key, present_value = block(x)'}
    g.put('inputs', 'x', x)
    g.put_state_dict(block)
    g.doc['state_dict_prefixed'] = {'h.0.attn.' + k: v for k, v in g.doc['state_dict'].items()}
    with torch.no_grad():
        output, weights, key, value = block.double()(x.double())
    g.put('outputs', 'output', output)
    g.put('outputs', 'weights', weights)
    g.put('outputs', 'present_key', key)
    g.put('outputs', 'present_value', value)
    return [('gpt2_attention_block.json', g)]
