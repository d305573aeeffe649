"""attnkit's tiny model (core/include/attnkit/model.hpp) written in torch: token and position embeddings, the book's
MultiHeadAttention, a residual and a linear read-out, mean cross-entropy over the scored positions (target -1 is
not scored). From torch.manual_seed(seed) the parameters are drawn in construction order, as attnkit draws them.
The file holds that state_dict, a fixed batch, the loss and every parameter's gradient (float64 on the float32
parameters), and the losses of 20 AdamW(lr=0.01) steps on that batch in float32."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from .book import MultiHeadAttention
from .golden import Golden, inputs_generator

VOCAB, TOKENS, D_MODEL, HEADS, BATCH, SEED, STEPS = 11, 6, 8, 2, 3, 123, 20


class TinyModel(nn.Module):
    def __init__(self, vocab, tokens, d_model, heads):
        super().__init__()
        self.token_embedding = nn.Embedding(vocab, d_model)
        self.position_embedding = nn.Embedding(tokens, d_model)
        self.attention = MultiHeadAttention(d_model, d_model, tokens, 0.0, num_heads=heads)
        self.readout = nn.Linear(d_model, vocab)

    def forward(self, inputs):
        positions = torch.arange(inputs.shape[1])
        embedded = self.token_embedding(inputs) + self.position_embedding(positions)
        return self.readout(embedded + self.attention(embedded))


def loss_of(model, inputs, targets):
    logits = model(inputs)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-1)


def files():
    construction = (f'torch.manual_seed({SEED}); model = TinyModel(vocab={VOCAB}, tokens={TOKENS}, '
                    f'd_model={D_MODEL}, heads={HEADS})  # scripts/torch_golden/cases_model.py')
    g = Golden('model', 'tiny_model', 'attnkit\'s tiny model: embeddings, MultiHeadAttention, residual, read-out, '
               'mean cross-entropy (ignore_index=-1)', construction, SEED, 'float64',
               'outputs.loss and outputs.grads in float64 on the float32 parameters; outputs.losses: losses[i] '
               f'before AdamW step i (float32), losses[{STEPS}] after the last.')
    torch.manual_seed(SEED)
    model = TinyModel(VOCAB, TOKENS, D_MODEL, HEADS)
    g.put_state_dict(model)
    gen = inputs_generator(5)
    inputs = torch.randint(0, VOCAB, (BATCH, TOKENS), generator=gen)
    targets = torch.randint(0, VOCAB, (BATCH, TOKENS), generator=gen)
    targets[:, 0] = -1
    targets[1, 3] = -1
    g.put('inputs', 'inputs', inputs)
    g.put('inputs', 'targets', targets)
    wide = TinyModel(VOCAB, TOKENS, D_MODEL, HEADS)
    wide.load_state_dict(model.state_dict())
    wide = wide.to(torch.float64)
    loss = loss_of(wide, inputs, targets)
    loss.backward()
    g.put('outputs', 'loss', loss.detach().reshape(1))
    for name, p in wide.named_parameters():
        g.put('outputs', name, p.grad, group='grads')
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.01)
    losses = []
    for _ in range(STEPS):
        optimizer.zero_grad()
        loss = loss_of(model, inputs, targets)
        losses.append(loss.item())
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        losses.append(loss_of(model, inputs, targets).item())
    g.put('outputs', 'losses', torch.tensor(losses, dtype=torch.float64))
    g.doc['call'] = {'code': 'loss = F.cross_entropy(model(inputs).reshape(-1, vocab), targets.reshape(-1), '
                             'ignore_index=-1); loss.backward()',
                     'optimizer': 'torch.optim.AdamW(model.parameters(), lr=0.01)', 'steps': STEPS,
                     'config': {'vocab': VOCAB, 'tokens': TOKENS, 'd_model': D_MODEL, 'heads': HEADS,
                                'batch': BATCH}}
    return [('model_tiny.json', g)]
