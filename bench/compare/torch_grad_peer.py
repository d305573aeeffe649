"""PyTorch's side of the forward + backward cell (grad-run.mjs). attnkit_grad_cell wrote the op's inputs (query, key,
value, grad_output: (b, h, n, head_dim) float32) and its results into DIR; this script computes causal attention
and its gradients with autograd, checks them against attnkit's (max |a - b| / max |b| <= 1e-4 for the output and
each gradient), then times forward and backward. Prints one JSON line: medians (wall clock and this process's CPU
time), the path used and memory (the process's peak RSS and its growth over the RSS held before the first run).

Path: torch >= 2.0 has the fused F.scaled_dot_product_attention(is_causal=True) and its backward; 1.13 (Debian's)
has neither in public, so the seed's formulation runs: q @ k^T / sqrt(d), masked_fill(-inf), softmax, @ v.

    /usr/bin/python3 bench/compare/torch_grad_peer.py DIR CONFIG THREADS B H N HEAD_DIM WARMUP BUDGET_MS MIN_RUNS MAX_RUNS
"""
import json
import math
import os
import resource
import sys
import time

import torch


def read(path, shape):
    with open(path, "rb") as f:
        return torch.frombuffer(bytearray(f.read()), dtype=torch.float32).reshape(shape)


def resident_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def median(xs):
    s = sorted(xs)
    k = len(s)
    return s[k // 2] if k % 2 else 0.5 * (s[k // 2 - 1] + s[k // 2])


def main():
    d, name = sys.argv[1], sys.argv[2]
    threads, b, h, n, hd, warmup, budget_ms, min_runs, max_runs = map(int, sys.argv[3:12])
    torch.set_num_threads(threads)
    shape = (b, h, n, hd)
    load = lambda f: read(os.path.join(d, f + ".bin"), shape)
    q, k, v, grad_output = (load(f).clone().requires_grad_(f != "grad_output") for f in
                            ("query", "key", "value", "grad_output"))
    sdpa = getattr(torch.nn.functional, "scaled_dot_product_attention", None)
    mask = torch.triu(torch.ones(n, n, dtype=torch.bool), diagonal=1)

    def forward():
        if sdpa is not None:  # PyTorch >= 2.0: the fused CPU kernel and its backward
            return sdpa(q, k, v, is_causal=True)
        scores = (q @ k.transpose(2, 3)).masked_fill(mask, -math.inf)
        return torch.softmax(scores / hd ** 0.5, dim=-1) @ v

    def backward(out):
        q.grad = k.grad = v.grad = None
        out.backward(grad_output)

    result = {"peer": "pytorch", "config": name, "threads": threads, "version": torch.__version__,
              "path": "scaled_dot_product_attention" if sdpa is not None else "matmul+masked_fill+softmax (autograd)"}
    before = resident_mb()
    out = forward()
    backward(out)
    errors = {}
    for label, got in (("output", out.detach()), ("grad_query", q.grad), ("grad_key", k.grad), ("grad_value", v.grad)):
        want = load(label)
        errors[label] = float((got - want).abs().max() / max(float(want.abs().max()), 1e-30))
    result["rel_error"] = max(errors.values())
    if not result["rel_error"] <= 1e-4:
        result["error"] = "results differ from attnkit's (%s); not timed" % ", ".join(
            "%s %.2g" % kv for kv in errors.items())
    else:
        for _ in range(warmup):
            backward(forward())
        fwd, bwd, total, cpu_fwd, cpu_bwd = [], [], [], [], []
        start = time.perf_counter()
        while len(total) < max_runs and (len(total) < min_runs or (time.perf_counter() - start) * 1e3 < budget_ms):
            c0, t0 = time.process_time(), time.perf_counter()
            out = forward()
            t1, c1 = time.perf_counter(), time.process_time()
            backward(out)
            t2, c2 = time.perf_counter(), time.process_time()
            fwd.append((t1 - t0) * 1e3)
            bwd.append((t2 - t1) * 1e3)
            total.append((t2 - t0) * 1e3)
            cpu_fwd.append((c1 - c0) * 1e3)
            cpu_bwd.append((c2 - c1) * 1e3)
        result.update(forward_ms=median(fwd), backward_ms=median(bwd), median_ms=median(total), min_ms=min(total),
                      cpu_forward_ms=median(cpu_fwd), cpu_backward_ms=median(cpu_bwd), runs=len(total))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result.update(rss_before_mb=before, max_rss_mb=peak, working_mb=peak - before)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
