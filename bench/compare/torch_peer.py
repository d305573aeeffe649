"""One PyTorch cell of the comparison (used only when `python3 -c "import torch"` works, e.g. Debian's
python3-torch, run with /usr/bin/python3 and without OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE). run.mjs writes the state_dict, the input and attnkit's output as raw float32 files into
DIR; this script builds the seed's MultiHeadAttention forward from them, checks its output against
attnkit's (relative error <= 1e-4) and times it. Prints one JSON line.

    python3 bench/compare/torch_peer.py DIR CONFIG THREADS B N D_IN D_OUT HEADS WARMUP BUDGET_MS MIN_RUNS MAX_RUNS
"""
import json
import math
import os
import resource
import sys
import time

import torch


def read(path):
    with open(path, "rb") as f:
        return torch.frombuffer(bytearray(f.read()), dtype=torch.float32)


def blas_library():
    """The BLAS this process runs its matmuls on (Debian's torch links libblas.so.3, which is OpenBLAS only when
    libopenblas0-pthread provides it, else the slow reference BLAS)."""
    with open("/proc/self/maps") as f:
        paths = sorted({line.split()[-1] for line in f if "blas" in line.split()[-1]})
    return next((p for p in paths if "openblas" in p), paths[0] if paths else "unknown")


def main():
    d, name = sys.argv[1], sys.argv[2]
    threads, b, n, d_in, d_out, h, warmup, budget_ms, min_runs, max_runs = map(int, sys.argv[3:13])
    torch.set_num_threads(threads)
    load = lambda f, shape: read(os.path.join(d, f)).reshape(shape)
    wq, wk, wv = (load(f, (d_out, d_in)) for f in ("W_query.weight", "W_key.weight", "W_value.weight"))
    wo, bo = load("out_proj.weight", (d_out, d_out)), load("out_proj.bias", (d_out,))
    x = load("x", (b, n, d_in))
    hd = d_out // h
    sdpa = getattr(torch.nn.functional, "scaled_dot_product_attention", None)
    mask = torch.triu(torch.ones(n, n, dtype=torch.bool), diagonal=1)

    def forward():
        q = torch.nn.functional.linear(x, wq).view(b, n, h, hd).transpose(1, 2)
        k = torch.nn.functional.linear(x, wk).view(b, n, h, hd).transpose(1, 2)
        v = torch.nn.functional.linear(x, wv).view(b, n, h, hd).transpose(1, 2)
        if sdpa is not None:  # PyTorch >= 2.0: the fused CPU kernel
            ctx = sdpa(q, k, v, is_causal=True)
        else:  # the seed's MultiHeadAttention.forward
            scores = (q @ k.transpose(2, 3)).masked_fill_(mask, -math.inf)
            ctx = torch.softmax(scores / hd ** 0.5, dim=-1) @ v
        return torch.nn.functional.linear(ctx.transpose(1, 2).reshape(b, n, d_out), wo, bo)

    result = {"peer": "pytorch", "config": name, "threads": threads, "version": torch.__version__,
              "path": "scaled_dot_product_attention" if sdpa is not None else "matmul+masked_fill+softmax"}
    with torch.inference_mode():
        y = forward().reshape(-1)
        ref_file = os.path.join(d, "ref.bin")
        if os.path.exists(ref_file):
            ref = read(ref_file)
            err = float((y - ref).abs().max() / max(float(ref.abs().max()), 1e-30)) if ref.numel() == y.numel() else math.inf
            result["rel_error"] = err
            if not err <= 1e-4:
                result["error"] = "output differs from attnkit's (relative error %g); not timed" % err
        if "error" not in result:
            for _ in range(warmup):
                forward()
            t0 = time.perf_counter(); forward(); est = max((time.perf_counter() - t0) * 1e3, 1e-4)
            inner = 1 if est >= 2 else min(20000, math.ceil(2 / est))
            samples, start = [], time.perf_counter()
            while len(samples) < max_runs and (len(samples) < min_runs or (time.perf_counter() - start) * 1e3 < budget_ms):
                t0 = time.perf_counter()
                for _ in range(inner):
                    forward()
                samples.append((time.perf_counter() - t0) * 1e3 / inner)
            samples.sort()
            k = len(samples)
            result.update(median_ms=samples[k // 2] if k % 2 else 0.5 * (samples[k // 2 - 1] + samples[k // 2]),
                          min_ms=samples[0], runs=k, inner=inner)
    result["blas"] = blas_library()
    result["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


if __name__ == "__main__":
    main()
