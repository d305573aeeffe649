"""50 optimizer steps of the book's MultiHeadAttention on a fixed batch: loss = mean((context - target)^2),
with torch.optim.AdamW (defaults, and one non-default set) and torch.optim.SGD (momentum with dampening,
and nesterov; both with weight decay). Each step: zero_grad, forward, loss, backward, step. The files
hold the loss before each step and after the last (51 values), in float32 (what attnkit trains in) and
in float64 (the same start, for the size of float32's drift), and the initial and final state_dicts."""
import torch

from .book import BOOK_INPUTS, MultiHeadAttention
from .golden import Golden, inputs_generator, randn

STEPS = 50
D_IN, D_OUT, CONTEXT, HEADS, SEED = 3, 4, 6, 2, 123


def train(optimizer_class, options, dtype):
    torch.manual_seed(SEED)
    model = MultiHeadAttention(D_IN, D_OUT, CONTEXT, 0.0, num_heads=HEADS).to(dtype)
    x = torch.stack((BOOK_INPUTS, BOOK_INPUTS * 0.5 + 0.1), dim=0).to(dtype)  # (2, 6, 3)
    target = randn(inputs_generator(8), 2, CONTEXT, D_OUT).to(dtype)
    optimizer = optimizer_class(model.parameters(), **options)
    losses = []
    for _ in range(STEPS):
        optimizer.zero_grad()
        loss = ((model(x) - target) ** 2).mean()
        losses.append(loss.item())
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        losses.append(((model(x) - target) ** 2).mean().item())
    return model, x, target, losses


def case(name, optimizer_class, options, code):
    g = Golden('train', name, f'{STEPS} steps of {code} on MultiHeadAttention({D_IN}, {D_OUT}, {CONTEXT}, 0.0, '
               f'num_heads={HEADS}), loss = mean((context - target)^2)',
               f'torch.manual_seed({SEED}); model = MultiHeadAttention(d_in={D_IN}, d_out={D_OUT}, '
               f'context_length={CONTEXT}, dropout=0.0, num_heads={HEADS}); optimizer = {code}', SEED, 'float32',
               'losses[i] is the loss before step i; losses[50] after the last step. losses_float64: the same run in '
               'float64 from the same float32 start.')
    torch.manual_seed(SEED)
    g.put_state_dict(MultiHeadAttention(D_IN, D_OUT, CONTEXT, 0.0, num_heads=HEADS))
    model, x, target, losses = train(optimizer_class, options, torch.float32)
    _, _, _, losses64 = train(optimizer_class, options, torch.float64)
    g.doc['call'] = {'code': 'for step in range(50): optimizer.zero_grad(); loss = ((model(x) - target) ** 2).mean(); '
                             'loss.backward(); optimizer.step()', 'optimizer': optimizer_class.__name__,
                     'options': options, 'steps': STEPS,
                     'module': {'d_in': D_IN, 'd_out': D_OUT, 'context_length': CONTEXT, 'num_heads': HEADS}}
    g.put('inputs', 'x', x)
    g.put('inputs', 'target', target)
    g.put('outputs', 'losses', torch.tensor(losses, dtype=torch.float64))
    g.put('outputs', 'losses_float64', torch.tensor(losses64, dtype=torch.float64))
    for pname, t in model.state_dict().items():
        g.put('outputs', pname, t, group='state_dict_final')
    return f'train_{name}.json', g


def files():
    adamw = torch.optim.AdamW
    sgd = torch.optim.SGD
    return [
        case('adamw_defaults', adamw, {}, 'torch.optim.AdamW(model.parameters())'),
        case('adamw_custom', adamw, {'lr': 0.01, 'betas': [0.8, 0.99], 'eps': 1e-6, 'weight_decay': 0.1},
             'torch.optim.AdamW(model.parameters(), lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)'),
        case('sgd_momentum_dampening', sgd, {'lr': 0.1, 'momentum': 0.9, 'dampening': 0.1, 'weight_decay': 0.01},
             'torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01)'),
        case('sgd_nesterov', sgd, {'lr': 0.1, 'momentum': 0.9, 'nesterov': True, 'weight_decay': 0.01},
             'torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)'),
        case('sgd_plain', sgd, {'lr': 0.2}, 'torch.optim.SGD(model.parameters(), lr=0.2)'),
    ]
