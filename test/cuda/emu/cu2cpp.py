#!/usr/bin/env python3
"""cu2cpp.py IN.cu OUT.cc - rewrites the two CUDA-only syntaxes of kernels/*.cu for
the CPU emulation (test/cuda/emu/): kernel<<<grid, block, smem, stream>>>(args)
becomes vcemu::launch(grid, block, smem, stream)(kernel, args), a dynamic
`extern __shared__ T name[];` becomes a pointer to the emulated block's buffer,
and static __shared__ arrays are registered so that each block starts with
them poisoned.
Everything else compiles as C++ against test/cuda/emu/include."""
import re
import sys

src = open(sys.argv[1]).read()
src = re.sub(r"extern\s+__shared__\s+(?:__align__\(\d+\)\s+)?([A-Za-z_][\w ]*?)\s+(\w+)\s*\[\s*\]\s*;",
             r"\1 *\2 = (\1 *)vcemu::dyn_smem();", src)
# a static `__shared__ T a[N], b[M];` is registered with the emulator, which
# fills it with NaN bytes at the start of every block, as a GPU's shared memory
# holds whatever the last block left (`static const bool` runs once)
def register_shared(m):
    names = re.findall(r"(\w+)\s*(?:\[[^\]]*\])+", m.group(2))
    regs = " ".join(f"static const bool {n}_vcemu_ = vcemu::register_shared({n}, sizeof {n}); (void){n}_vcemu_;"
                    for n in names)
    return f"{m.group(0)} {regs}"
src = re.sub(r"(?<!extern )\b__shared__\s+(?:__align__\(\d+\)\s+)?([A-Za-z_][\w ]*?)\s+((?:\w+\s*(?:\[[^\]]*\])+\s*,?\s*)+);",
             register_shared, src)
launch = re.compile(r"([A-Za-z_]\w*(?:<[^<>;()]*>)?)\s*<<<(.*?)>>>\s*\(")
src, n = launch.subn(lambda m: f"vcemu::launch({m.group(2)})({m.group(1)}, ", src)
if "<<<" in src:
    sys.exit(f"cu2cpp: {sys.argv[1]}: a kernel launch was not rewritten")
with open(sys.argv[2], "w") as f:
    f.write(f'#line 1 "{sys.argv[1]}"\n' + src)
