#!/usr/bin/env python3
"""compare.py - libvideocrafter vs PyTorch, side by side (issue #10 item 2).

    python3 bench/compare.py out/*.json [--out out/compare.json]

Reads every bench JSON given (the C programs' and torch_bench.py's, all in the
bench_util.c format; a directory stands for its *.json), pairs each
torch_bench row with the row of the same name from a C program and prints

    name | libvideocrafter s | PyTorch s | speed ratio | vc GFLOP/s | vc % of sgemm peak

speed ratio = PyTorch seconds / libvideocrafter seconds: > 1 means
libvideocrafter is faster. "% of sgemm peak" is the C row's frac_peak (the
best OpenBLAS sgemm rate at the UNet's sizes, same run, same threads). Rows
found on one side only are listed as such. Writes the pairs as JSON (default:
compare.json beside the first input). Standard library only.
"""
import glob
import json
import os
import sys

TORCH = "torch_bench"


def load(paths):
    files = []
    for p in paths:
        files += sorted(glob.glob(os.path.join(p, "*.json"))) if os.path.isdir(p) else [p]
    docs = []
    for f in files:
        try:
            with open(f) as fh:
                d = json.load(fh)
        except (OSError, ValueError) as e:
            print(f"compare: skipping {f}: {e}", file=sys.stderr)
            continue
        if isinstance(d, dict) and "program" in d and isinstance(d.get("results"), list):
            d["_file"] = f
            docs.append(d)  # anything else (e.g. an earlier compare.json) is not a bench run
    return docs


def main(argv):
    out = None
    if "--out" in argv:
        i = argv.index("--out")
        if i + 1 >= len(argv):
            print(__doc__)
            return 2
        out = argv[i + 1]
        del argv[i:i + 2]
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    docs = load(argv)
    torch_docs = [d for d in docs if d["program"] == TORCH]
    c_docs = [d for d in docs if d["program"] != TORCH]
    if not torch_docs:
        print("compare: no torch_bench JSON among the inputs; nothing to compare")
        return 1
    tdoc = torch_docs[-1]
    if len(torch_docs) > 1:
        print(f"compare: several torch_bench files; using {tdoc['_file']}")
    crow = {}  # name -> (row, doc), first program wins
    for d in c_docs:
        for r in d["results"]:
            crow.setdefault(r["name"], (r, d))
    pairs, torch_only = [], []
    for r in tdoc["results"]:
        if r["name"] in crow:
            c, d = crow[r["name"]]
            pairs.append({
                "name": r["name"],
                "vc_program": d["program"],
                "vc_seconds": c["seconds"],
                "torch_seconds": r["seconds"],
                "speed_ratio": r["seconds"] / c["seconds"] if c["seconds"] > 0 else None,
                "vc_gflop": c["gflop"],
                "torch_gflop": r["gflop"],
                "vc_gflops": c["gflops"],
                "torch_gflops": r["gflops"],
                "vc_frac_peak": c.get("frac_peak", 0.0),
                "vc_threads": d["threads"],
                "torch_threads": tdoc["threads"],
            })
        else:
            torch_only.append(r["name"])
    tnames = {r["name"] for r in tdoc["results"]}
    vc_only = [(n, d["program"]) for n, (r, d) in crow.items() if n not in tnames]

    print(f"\nlibvideocrafter vs PyTorch {tdoc.get('version', '?')} (ratio = PyTorch s / libvideocrafter s; "
          f"> 1: libvideocrafter faster)")
    hdr = f"{'benchmark':<34s} {'vc s':>10s} {'PyTorch s':>10s} {'ratio':>7s} {'vc GFLOP/s':>10s} {'vc %peak':>8s} {'PT GFLOP/s':>10s}"
    print(hdr)
    print("-" * len(hdr))
    for p in pairs:
        ratio = f"{p['speed_ratio']:6.2f}x" if p["speed_ratio"] else "    -"
        pk = f"{100 * p['vc_frac_peak']:7.1f}%" if p["vc_frac_peak"] > 0 else f"{'-':>8s}"
        print(f"{p['name']:<34s} {p['vc_seconds']:10.3f} {p['torch_seconds']:10.3f} {ratio:>7s} "
              f"{p['vc_gflops']:10.1f} {pk} {p['torch_gflops']:10.1f}")
        if p["vc_gflop"] > 0 and abs(p["torch_gflop"] / p["vc_gflop"] - 1) > 0.02:
            print(f"  (FLOPs counted differ: libvideocrafter {p['vc_gflop']:.1f}, PyTorch {p['torch_gflop']:.1f} GFLOP)")
        if p["vc_threads"] != p["torch_threads"]:
            print(f"  (threads differ: libvideocrafter {p['vc_threads']}, PyTorch {p['torch_threads']})")
    if not pairs:
        print("(no row name in common)")
    for n in torch_only:
        print(f"only in PyTorch: {n}")
    # the kernel rows and every program's sgemm-peak rows have no PyTorch counterpart by design
    kernel_only = [n for n, prog in vc_only if prog == "bench_kernels" or n.startswith("sgemm ")]
    for n, prog in vc_only:
        if prog != "bench_kernels" and not n.startswith("sgemm "):
            print(f"only in libvideocrafter ({prog}): {n}")
    if kernel_only:
        print(f"only in libvideocrafter: {len(kernel_only)} kernel and sgemm-peak rows (no PyTorch counterpart)")
    print(f"peak RSS: PyTorch {tdoc.get('peak_rss_mib', 0):.0f} MiB"
          + "".join(f", {d['program']} {d.get('peak_rss_mib', 0):.0f} MiB" for d in c_docs))
    clocks = {bool(d.get("cpu_time")) for d in [tdoc] + c_docs}
    if len(clocks) > 1:
        print("WARNING: some files timed CPU time / threads (--cpu-time) and others wall time; ratios mix the two")

    if out is None:
        out = os.path.join(os.path.dirname(tdoc["_file"]) or ".", "compare.json")
    with open(out, "w") as fh:
        json.dump({
            "torch_file": tdoc["_file"],
            "torch_version": tdoc.get("version"),
            "vc_files": [d["_file"] for d in c_docs],
            "pairs": pairs,
            "only_torch": torch_only,
            "only_vc": [{"name": n, "program": prog} for n, prog in vc_only],
        }, fh, indent=2)
        fh.write("\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
