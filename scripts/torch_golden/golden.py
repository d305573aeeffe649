"""Writing golden files: tensors as nested lists at float32 precision, one JSON object per file."""
import json
import math

import numpy as np
import torch


def value(v):
    if isinstance(v, bool):
        return v
    if math.isnan(v):
        return 'nan'
    if math.isinf(v):
        return 'inf' if v > 0 else '-inf'
    return float(str(np.float32(v)))  # shortest decimal that reads back to this float32


def nested(t):
    t = t.detach().cpu()
    if t.dtype == torch.bool:
        return t.tolist()
    def walk(x):
        return [walk(e) for e in x] if isinstance(x, list) else value(x)
    return walk(t.to(torch.float64).tolist())


class Golden:
    def __init__(self, kind, case, description, construction, seed, computed_in, notes=''):
        self.doc = {'torch_version': torch.__version__, 'generator': 'scripts/make_torch_golden.py', 'kind': kind,
                    'case': case, 'description': description, 'construction': construction, 'call': {}, 'seed': seed,
                    'computed_in': computed_in, 'inputs': {}, 'state_dict': {}, 'outputs': {}, 'shapes': {},
                    'notes': notes}

    def put(self, section, name, t, group=None):
        """doc[section][name] = t, or doc[section][group][name] = t; tensors as nested lists, with their shape."""
        where = self.doc[section] if group is None else self.doc[section].setdefault(group, {})
        if isinstance(t, torch.Tensor):
            where[name] = nested(t)
            self.doc['shapes']['.'.join(p for p in (section, group, name) if p)] = list(t.shape)
        else:
            where[name] = t

    def put_state_dict(self, module):
        for name, t in module.state_dict().items():
            self.put('state_dict', name, t.to(torch.float32) if t.is_floating_point() else t)

    def text(self):
        lines = [json.dumps(k) + ': ' + json.dumps(v, separators=(',', ':'), allow_nan=False) for k, v in self.doc.items()]
        return '{\n' + ',\n'.join(lines) + '\n}\n'


def inputs_generator(seed):
    return torch.Generator().manual_seed(seed)


def randn(g, *shape):
    return torch.randn(*shape, generator=g, dtype=torch.float32)
