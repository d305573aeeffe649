"""attnkit against its peers from n = 256 to 16384 tokens (C5's shape: b1 d768 h12, causal; issue 14 §3): time and
peak memory per n, written to bench/results/scaling.json, and a log-log chart of both, bench/results/scaling.svg.

    /usr/bin/python3 bench/scaling.py [--tokens 256,1024,4096,16384] [--threads 1] [--peers attnkit,ort-node,pytorch]
    /usr/bin/python3 bench/scaling.py --chart-only     # redraws the chart and the README table from the JSON

`npm run bench:scaling` installs what it needs first (scripts/setup-bench.sh: python3-matplotlib, python3-torch,
libopenblas0-pthread) and builds the native CLI and the npm package (onnxruntime-node's cell reads the shapes through
it, bench/compare/configs.mjs). Each cell is its own process, timed by itself (attnkit bench's median; the peers'
medians from bench/compare's timing), its peak memory from /usr/bin/time; the peers run under bench/compare's data
limit (8 GB), so one that needs n² memory fails with its own allocation error instead of taking the machine's, and
the JSON, the table and the chart say so. The table goes into bench/README.md between its `<!-- scaling:begin -->`
and `<!-- scaling:end -->` markers. Not part of any test.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
NATIVE = os.path.join(ROOT, "build", "native", "attnkit")
OUT_JSON = os.path.join(HERE, "results", "scaling.json")
OUT_SVG = os.path.join(HERE, "results", "scaling.svg")
README = os.path.join(HERE, "README.md")
PACKAGE = os.path.join(ROOT, "dist", "attnkit.mjs")  # the npm package's build: bench/compare/configs.mjs loads it
LIMIT_KB = 8 * 1024 * 1024  # bench/compare/run.mjs's PEER_DATA_LIMIT_GB
D, HEADS = 768, 12


def timed(cmd, env=None, timeout=900):
    """Runs cmd under the data limit and /usr/bin/time; returns (last JSON line or None, peak MB, stderr tail)."""
    shell = ["bash", "-c", 'ulimit -d %d && exec /usr/bin/time -f maxrss_kb=%%M "$@"' % LIMIT_KB, "bash"] + cmd
    try:
        r = subprocess.run(shell, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return None, None, "timed out after %d s" % timeout
    rss = [l for l in r.stderr.splitlines() if l.startswith("maxrss_kb=")]
    lines = [l for l in r.stdout.splitlines() if l.startswith("{")]
    doc = json.loads(lines[-1]) if lines else None
    lines_err = [l.strip() for l in r.stderr.splitlines() if l.strip() and not l.startswith(("maxrss_kb=", "Command "))]
    errors = [l for l in lines_err if "Error" in l or "error" in l]
    tail = (errors or lines_err or ["exit %d" % r.returncode])[0]
    return doc, int(rss[-1].split("=")[1]) / 1024 if rss else None, tail


def attnkit_cell(n, threads):
    repeats = "3" if n <= 4096 else "1"
    doc, mb, err = timed([NATIVE, "bench", "--config", "C5", "--tokens", str(n), "--threads", str(threads),
                          "--repeats", repeats, "--format", "json"])
    if not doc or "median_ms" not in doc:
        return {"error": err}
    return {"median_ms": doc["median_ms"], "peak_mb": mb, "efficiency": doc.get("efficiency"),
            "efficiency_cpu": doc.get("efficiency_cpu"), "cpu_median_ms": doc.get("cpu_median_ms")}


def ort_cell(n, threads):
    if not os.path.exists(PACKAGE):
        return {"error": "the npm package is not built (%s missing): run `bash scripts/build-wasm.sh`" %
                os.path.relpath(PACKAGE, ROOT)}
    doc, mb, err = timed(["node", os.path.join(HERE, "compare", "node-peer.mjs"), "--peer", "ort-node", "--config", "C5",
                          "--tokens", str(n), "--threads", str(threads)])
    if not doc or doc.get("error") or "median_ms" not in doc:
        return {"error": (doc or {}).get("error", err)[:600], "peak_mb": mb}
    return {"median_ms": doc["median_ms"], "peak_mb": mb}


def torch_cell(n, threads, work):
    import torch  # Debian's python3-torch: this script runs on /usr/bin/python3

    d = os.path.join(work, "torch-%d" % n)
    os.makedirs(d, exist_ok=True)
    g = torch.Generator().manual_seed(7)
    for name, shape in [("W_query.weight", (D, D)), ("W_key.weight", (D, D)), ("W_value.weight", (D, D)),
                        ("out_proj.weight", (D, D)), ("out_proj.bias", (D,)), ("x", (1, n, D))]:
        (torch.rand(shape, generator=g) - 0.5).numpy().tofile(os.path.join(d, name))
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    runs = ["0", "0", "1", "1"] if n > 4096 else ["1", "2000", "3", "5"]
    doc, mb, err = timed(["/usr/bin/python3", os.path.join(HERE, "compare", "torch_peer.py"), d, "C5@%d" % n,
                          str(threads), "1", str(n), str(D), str(D), str(HEADS)] + runs, env=env)
    if not doc or doc.get("error") or "median_ms" not in doc:
        return {"error": (doc or {}).get("error", err)[:600], "peak_mb": mb}
    return {"median_ms": doc["median_ms"], "peak_mb": mb, "blas": doc.get("blas")}


LABELS = {"attnkit": "attnkit", "ort-node": "onnxruntime-node", "pytorch": "PyTorch (OpenBLAS)"}


def failed(cell):
    """A short reason for a cell that did not run (as bench/compare/goals.mjs's failureText): the allocation the data
    limit refused and its size, or the error's start."""
    e = cell.get("error", "")
    size = re.search(r"requested buffer of size (\d+)|tried to allocate (\d+) bytes", e)
    if size:
        return "fails: %.1f GB allocation refused (%d GB limit)" % (int(size.group(1) or size.group(2)) / 1e9,
                                                                    LIMIT_KB // (1024 * 1024))
    if "alloc" in e.lower() or "memory" in e.lower():
        return "fails: out of memory (%d GB limit)" % (LIMIT_KB // (1024 * 1024))
    return "fails: " + (e[:80] or "no output")


def chart(doc):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(11, 4.2))
    fails = []
    for peer, cells in doc["results"].items():
        ok = sorted((int(n), c) for n, c in cells.items() if "median_ms" in c)
        label = LABELS.get(peer, peer)
        if ok:
            line, = ax_t.plot([n for n, _ in ok], [c["median_ms"] / 1e3 for _, c in ok], "o-", label=label)
            ax_m.plot([n for n, _ in ok if _.get("peak_mb")], [c["peak_mb"] for _, c in ok if c.get("peak_mb")], "o-",
                      label=label, color=line.get_color())
            fails += [(int(n), label, line.get_color()) for n, c in cells.items() if "error" in c]
    top = ax_t.get_ylim()[1]
    labels = [LABELS.get(p, p) for p in doc["results"]]
    for n, label, color in fails:  # a peer that could not run at this n: a cross at the top, one row per peer
        ax_t.plot([n], [top / 1.6 ** labels.index(label)], "x", color=color, markersize=9, markeredgewidth=2)
    if fails:
        ax_t.annotate("×: could not run (see the table)", (0.98, 0.03), xycoords="axes fraction", ha="right",
                      fontsize=7, color="gray")
    ax_m.axhline(400, color="gray", linestyle=":", linewidth=1)
    ax_m.annotate("goal for attnkit at n = 16384: 400 MB", (256, 400), textcoords="offset points", xytext=(0, 4),
                  fontsize=7, color="gray")
    for ax, title, unit in ((ax_t, "time per forward", "seconds"), (ax_m, "peak memory (max RSS)", "MB")):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("tokens n (b1 d768 h12, causal)")
        ax.set_ylabel(unit)
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("%s, %s thread(s), load average %s → %s" % (doc["machine"], doc["threads"], doc["load_average"],
                                                              doc.get("load_average_after", "?")), fontsize=9)
    fig.tight_layout()
    fig.savefig(OUT_SVG, metadata={"Date": None})


def fmt_ms(x):
    return "%.0f ms" % x if x < 1000 else "%.2f s" % (x / 1e3) if x < 10000 else "%.1f s" % (x / 1e3)


def table(doc):
    """The scaling table of bench/README.md, in markdown."""
    peers = list(doc["results"])
    head = ["n"]
    for p in peers:
        head += [LABELS.get(p, p), "peak memory"] + (["efficiency (CPU time)"] if p == "attnkit" else [])
    ns = sorted({int(n) for cells in doc["results"].values() for n in cells})
    rows = []
    for n in ns:
        row = [str(n)]
        for p in peers:
            c = doc["results"][p].get(str(n))
            if c is None:
                row += ["–", "–"]
            elif "median_ms" in c:
                row += [fmt_ms(c["median_ms"]), "%.0f MB" % c["peak_mb"] if c.get("peak_mb") else "–"]
            else:
                row += [failed(c), "–"]
            if p == "attnkit":
                e = c and (c.get("efficiency_cpu") or c.get("efficiency"))
                row.append("%.1f %%" % (100 * e) if e else "–")
        rows.append(row)
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---:" for _ in head) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    caption = ("Scaling run of %s (`%s`): %s, %s thread(s), load average %s before and %s after. Raw numbers, with "
               "every error message: [results/scaling.json](results/scaling.json); efficiency: FLOPs per CPU-second against the %s." %
               (doc["date"].replace("T", " ").replace("Z", " UTC"), doc.get("command", "bench/scaling.py"),
                doc["machine"], doc["threads"], doc["load_average"], doc.get("load_average_after", "?"),
                "dispatched table's peak measured in the same process"))
    return caption + "\n\n" + "\n".join(lines)


def write_readme(doc):
    with open(README) as f:
        text = f.read()
    begin, end = "<!-- scaling:begin -->", "<!-- scaling:end -->"
    i, j = text.find(begin), text.find(end)
    if i < 0 or j < i:
        sys.exit("bench/scaling.py: %s has no %s … %s block" % (README, begin, end))
    with open(README, "w") as f:
        f.write(text[:i + len(begin)] + "\n\n" + table(doc) + "\n\n" + text[j:])


def save(doc):
    os.makedirs(os.path.dirname(OUT_JSON), exist_ok=True)
    with open(OUT_JSON, "w") as f:
        json.dump(doc, f, indent=2)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tokens", default="256,512,1024,2048,4096,8192,16384")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--peers", default="attnkit,ort-node,pytorch")
    p.add_argument("--chart-only", action="store_true")
    a = p.parse_args()
    if a.chart_only:
        with open(OUT_JSON) as f:
            doc = json.load(f)
        chart(doc)
        write_readme(doc)
        return
    if not os.path.exists(NATIVE):
        sys.exit("bench/scaling.py: %s not built; run `bash scripts/build-native.sh`" % NATIVE)
    info = json.loads(subprocess.run([NATIVE, "bench", "--config", "C1", "--repeats", "1", "--format", "json"],
                                     capture_output=True, text=True).stdout)["machine"]
    machine = "%s family %s model %s, %s MHz, %d vCPUs, table %s (peak %s GFLOP/s per core)" % (
        info["cpu"], info["family"], info["model"], info["mhz"], os.cpu_count(), info["table"],
        info["peak_gflops_per_core"])
    doc = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "machine": machine, "threads": a.threads,
           "command": "bench/scaling.py " + " ".join(sys.argv[1:]), "load_average": "%.1f" % os.getloadavg()[0],
           "results": {}}
    started = time.time()
    peers = a.peers.split(",")
    with tempfile.TemporaryDirectory() as work:
        for n in map(int, a.tokens.split(",")):
            for peer in peers:
                cell = (attnkit_cell(n, a.threads) if peer == "attnkit" else ort_cell(n, a.threads)
                        if peer == "ort-node" else torch_cell(n, a.threads, work))
                doc["results"].setdefault(peer, {})[str(n)] = cell
                print("n %5d  %-8s %s" % (n, peer, json.dumps(cell)), flush=True)
                save(dict(doc, partial=True))  # a run stopped early keeps its cells
    doc["load_average_after"] = "%.1f" % os.getloadavg()[0]
    doc["seconds"] = round(time.time() - started)
    save(doc)
    chart(doc)
    write_readme(doc)
    print(table(doc))
    print("wrote %s, %s and the table in %s (%d s)" % (os.path.relpath(OUT_JSON), os.path.relpath(OUT_SVG),
                                                       os.path.relpath(README), doc["seconds"]))


if __name__ == "__main__":
    main()
