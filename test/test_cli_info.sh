#!/bin/bash
# test_cli_info.sh (make check-more) - `videocrafter info MODEL --config YAML [--json]` on
# the four reference models: the variant, the tensor count and the element count against the
# case's tensors.json, and parameters (without the registered schedule buffers) against the
# "parameters: N in M tensors" line of the case README. Then the exit codes of the contract
# (§3): a missing model or config -> 1 with a message naming the file, bad usage -> 2.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
case "${BUILD:-build}" in /*) build=$BUILD ;; *) build=$root/${BUILD:-build} ;; esac
cli=$build/videocrafter
data=${VC_TEST_DATA:-$root/../shared/reference}
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

[ -x "$cli" ] || { echo "test_cli_info: no CLI at $cli (run make first)"; exit 1; }
command -v python3 >/dev/null || { echo "test_cli_info: skipped (python3 not found)"; exit 0; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for c in t2v_512_v1 t2v_1024_v1 t2v_512_v2 i2v_512_v1; do
    dir=$data/$c
    if [ ! -f "$dir/model.ckpt" ]; then echo "test_cli_info: skipped ($dir/model.ckpt missing)"; exit 0; fi
    want_variant=$(echo "$c" | tr _ -)
    "$cli" info "$dir/model.ckpt" --config "$dir/config.yaml" >"$tmp/$c.txt" 2>"$tmp/$c.err"
    rc=$?
    [ $rc -eq 0 ] || { fail "$c: info exit $rc: $(cat "$tmp/$c.err")"; continue; }
    grep -q "^variant     $want_variant " "$tmp/$c.txt" || fail "$c: text output lacks 'variant $want_variant'"
    "$cli" info "$dir/model.ckpt" --config "$dir/config.yaml" --json >"$tmp/$c.json" 2>"$tmp/$c.err" ||
        { fail "$c: info --json failed: $(cat "$tmp/$c.err")"; continue; }
    python3 - "$c" "$want_variant" "$dir" "$tmp/$c.json" "$tmp/$c.txt" <<'EOF' || fail "$c: counts differ (above)"
import json, math, re, sys
case, variant, d, jpath, tpath = sys.argv[1:]
info = json.load(open(jpath))
ref = json.load(open(d + "/tensors.json"))["tensors"]
readme = open(d + "/README.md").read()
m = re.search(r"parameters: ([\d,]+) in (\d+) tensors", readme)
want_params, want_tensors = int(m.group(1).replace(",", "")), int(m.group(2))
strip = lambda n: n[len("_forward_module."):] if n.startswith("_forward_module.") else n
buffers = [n for n in ref if "." not in strip(n)]        # betas, alphas_cumprod, ..., scale_arr
buf_elems = sum(math.prod(ref[n]["shape"]) for n in buffers)
elems = sum(math.prod(t["shape"]) for t in ref.values())
p = info["params"]
total = p["total"]
bad = []
if info["variant"] != variant: bad.append("variant %s, want %s" % (info["variant"], variant))
if info["n_tensors"] != len(ref): bad.append("n_tensors %d, tensors.json %d" % (info["n_tensors"], len(ref)))
if total != elems: bad.append("total %d, tensors.json elements %d" % (total, elems))
if sum(v for k, v in p.items() if k != "total") != total: bad.append("components do not add up to the total")
if total - buf_elems != want_params: bad.append("parameters %d, README %d" % (total - buf_elems, want_params))
if info["n_tensors"] - len(buffers) != want_tensors:
    bad.append("parameter tensors %d, README %d" % (info["n_tensors"] - len(buffers), want_tensors))
if info["image_conditioned"] != case.startswith("i2v"): bad.append("image_conditioned")
if (p["vision"] > 0) != case.startswith("i2v") or (p["resampler"] > 0) != case.startswith("i2v"):
    bad.append("vision/resampler counts %d/%d" % (p["vision"], p["resampler"]))
if "{:,}".format(total) not in open(tpath).read(): bad.append("text output lacks the total {:,}".format(total))
for b in bad: print("  %s: %s" % (case, b))
print("  %-11s variant %s, %d tensors (%d parameters + %d buffers), %s elements = %s parameters (README) + %d buffer values"
      % (case, info["variant"], info["n_tensors"], want_tensors, len(buffers), "{:,}".format(total),
         "{:,}".format(want_params), buf_elems))
sys.exit(1 if bad else 0)
EOF
done

# exit codes and messages
ref=$data/t2v_512_v1
expect() { # expect RC NEEDLE -- ARGS...
    local want=$1 needle=$2; shift 3
    "$cli" "$@" >"$tmp/out" 2>"$tmp/err"
    local rc=$?
    if [ $rc -ne "$want" ]; then fail "videocrafter $* -> exit $rc, want $want"; return; fi
    if [ -n "$needle" ] && ! grep -qF -- "$needle" "$tmp/err"; then
        fail "videocrafter $* -> stderr lacks '$needle': $(cat "$tmp/err")"; return
    fi
    echo "  exit $rc: videocrafter $* : $(head -1 "$tmp/err")"
}
expect 1 "$tmp/missing.ckpt" -- info "$tmp/missing.ckpt"
expect 1 "$tmp/missing.yaml" -- info "$ref/model.ckpt" --config "$tmp/missing.yaml"
expect 1 "--config" -- info "$ref/model.ckpt"                 # tiny model without YAML: heads unknown
expect 1 "not a PyTorch zip checkpoint" -- info "$ref/config.yaml"
expect 2 "unknown option" -- info "$ref/model.ckpt" --bogus
expect 2 "expected one MODEL" -- info
expect 2 "expected one MODEL" -- info "$ref/model.ckpt" "$ref/model.ckpt"
expect 0 "" -- info --help

if [ $fails -ne 0 ]; then echo "test_cli_info: $fails failures"; exit 1; fi
echo "test_cli_info: all passed"
