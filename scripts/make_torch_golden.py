#!/usr/bin/python3
"""Golden files from PyTorch for attention on your own tensors, masks, cross-attention, GPT-2 weights,
gradients and optimizers: the suites compare against these files and never need torch themselves.

Run with Debian's torch 1.13 (its python is /usr/bin/python3, which may not be the first python on PATH):

    apt-get update && apt-get install -y --no-install-recommends python3-torch libopenblas0-pthread
    /usr/bin/python3 scripts/make_torch_golden.py            # writes tests/golden/torch/*.json
    /usr/bin/python3 scripts/make_torch_golden.py --check    # regenerates in memory, fails if a file differs

Every file is one JSON object (layout in tests/golden/README.md, "torch/"):
  torch_version, generator, kind, case, description, construction (the exact Python that built the module
  or computed the result), seed, computed_in ("float64" or "float32"), inputs, state_dict (when a module
  has one), outputs, shapes (of every tensor above, by "inputs.x", "state_dict.W_query.weight", ...), and
  notes. Tensors are nested lists; values are written at float32 precision (the shortest decimal that
  reads back to the same float32); booleans stay JSON booleans; NaN and ±inf are the strings "nan",
  "inf", "-inf". Module parameters are drawn in float32 from the seed (as PyTorch draws them) and, where
  computed_in is float64, the forward and backward run on those same values in float64, so the outputs are
  a float64 reference for float32 inputs. Inputs never come from the global generator (a separate
  torch.Generator draws them), so the seed alone fixes the parameters and dropout masks.
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_golden import cases_gpt2, cases_grad, cases_grad_mha, cases_mha, cases_model, cases_sdpa, cases_train  # noqa: E402

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tests', 'golden', 'torch')
MAX_BYTES = 200 * 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--check', action='store_true', help='compare with the committed files instead of writing')
    parser.add_argument('--out', default=OUT_DIR)
    args = parser.parse_args()
    torch.set_num_threads(1)  # the same sums in the same order on every machine
    files = []
    for cases in (cases_mha, cases_sdpa, cases_gpt2, cases_grad, cases_grad_mha, cases_train, cases_model):
        files += cases.files()
    os.makedirs(args.out, exist_ok=True)
    stale = []
    for name, golden in files:
        text = golden.text()
        if len(text) > MAX_BYTES:
            raise SystemExit(f'{name} is {len(text)} bytes; keep each golden file under {MAX_BYTES}')
        path = os.path.join(args.out, name)
        if args.check:
            with open(path) as f:
                if f.read() != text:
                    stale.append(name)
        else:
            with open(path, 'w') as f:
                f.write(text)
        print(f'{name}: {len(text)} bytes')
    if stale:
        raise SystemExit('differ from a fresh run: ' + ', '.join(stale))


if __name__ == '__main__':
    main()
