"""PyTorch's side of the forward + backward cell (grad-run.mjs). attnkit_grad_cell wrote its inputs and results into
DIR as raw float32 files; this script computes the same with autograd, checks it against attnkit's (max |a - b| /
max |b| <= 1e-4 for the output and each gradient), then times forward and backward. MODE op: causal attention of
query, key, value (b, h, n, head_dim) with grad_output. MODE module: the seed's causal MultiHeadAttention (no qkv
bias, out_proj with bias) of x (b, n, d_in) from attnkit's state_dict, with grad_context; gradients of x and of
every parameter. Prints one JSON line: medians (wall clock and this process's CPU
time), the path used and memory (the process's peak RSS and its growth over the RSS held before the first run).

Path: torch >= 2.0 has the fused F.scaled_dot_product_attention(is_causal=True) and its backward; 1.13 (Debian's)
has neither in public, so the seed's formulation runs: q @ k^T / sqrt(d), masked_fill(-inf), softmax, @ v.

    /usr/bin/python3 bench/compare/torch_grad_peer.py DIR CONFIG op|module THREADS B H N HEAD_DIM D_IN WARMUP BUDGET_MS
                     MIN_RUNS MAX_RUNS
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
    d, name, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    threads, b, h, n, hd, d_in, warmup, budget_ms, min_runs, max_runs = map(int, sys.argv[4:14])
    torch.set_num_threads(threads)
    load = lambda f, shape: read(os.path.join(d, f + ".bin"), shape)
    sdpa = getattr(torch.nn.functional, "scaled_dot_product_attention", None)
    mask = torch.triu(torch.ones(n, n, dtype=torch.bool), diagonal=1)

    def attend(q, k, v):
        if sdpa is not None:  # PyTorch >= 2.0: the fused CPU kernel and its backward
            return sdpa(q, k, v, is_causal=True)
        scores = (q @ k.transpose(2, 3)).masked_fill(mask, -math.inf)
        return torch.softmax(scores / hd ** 0.5, dim=-1) @ v

    d_out = h * hd
    if mode == "op":
        shape = (b, h, n, hd)
        leaves = {f: load(f, shape).requires_grad_() for f in ("query", "key", "value")}
        grad_out = load("grad_output", shape)
        forward = lambda: attend(leaves["query"], leaves["key"], leaves["value"])
        checks = [("output", None), ("grad_query", "query"), ("grad_key", "key"), ("grad_value", "value")]
    else:
        names = {"W_query.weight": (d_out, d_in), "W_key.weight": (d_out, d_in), "W_value.weight": (d_out, d_in),
                 "out_proj.weight": (d_out, d_out), "out_proj.bias": (d_out,)}
        leaves = {f: load(f, s).requires_grad_() for f, s in names.items()}
        leaves["x"] = load("x", (b, n, d_in)).requires_grad_()
        grad_out = load("grad_context", (b, n, d_out))

        def forward():  # the seed's MultiHeadAttention.forward
            x, p = leaves["x"], leaves
            split = lambda w: torch.nn.functional.linear(x, w).view(b, n, h, hd).transpose(1, 2)
            ctx = attend(split(p["W_query.weight"]), split(p["W_key.weight"]), split(p["W_value.weight"]))
            return torch.nn.functional.linear(ctx.transpose(1, 2).reshape(b, n, d_out), p["out_proj.weight"],
                                              p["out_proj.bias"])
        checks = [("context", None), ("grad_input", "x")] + [("grad." + f, f) for f in names]

    def backward(out):
        for t in leaves.values():
            t.grad = None
        out.backward(grad_out)

    result = {"peer": "pytorch", "what": mode, "config": name, "threads": threads, "version": torch.__version__,
              "path": "scaled_dot_product_attention" if sdpa is not None else "matmul+masked_fill+softmax (autograd)"}
    before = resident_mb()
    out = forward()
    backward(out)
    errors = {}
    for label, leaf in checks:
        got = out.detach() if leaf is None else leaves[leaf].grad
        want = load(label, got.shape)
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
