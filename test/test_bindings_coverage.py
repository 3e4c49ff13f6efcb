"""Every vc_* function of include/videocrafter.h is declared AND called by both bindings.

A new C function that the bindings forget fails this test. A function counts as wrapped when
the Python package uses it as `_C.vc_name` (called, or handed to a helper; the declaration
table of _lib.py does not count) and the
Lua module both declares it in its ffi.cdef and uses it as `C.vc_name` outside the cdef.
"""
import os
import re
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "bindings", "layout"))
import header  # noqa: E402


def read(*p):
    with open(os.path.join(ROOT, *p), encoding="utf-8") as fh:
        return fh.read()


def main():
    funcs = header.functions(read("include", "videocrafter.h"))
    assert len(funcs) > 30, "header parse found too few functions"
    problems = []

    lib_py = read("bindings", "python", "videocrafter", "_lib.py")
    table = set(re.findall(r'^\s*"(vc_\w+)":\s*\(', lib_py, flags=re.M))
    py_src = read("bindings", "python", "videocrafter", "__init__.py")
    py_calls = set(re.findall(r"\b_C\.(vc_\w+)\b", py_src))

    lua = read("bindings", "lua", "videocrafter.lua")
    m = re.search(r"ffi\.cdef\s*\[\[(.*?)\]\]", lua, flags=re.S)
    cdef = m.group(1) if m else ""
    lua_decl = set(re.findall(r"\b(vc_\w+)\s*\(", cdef))
    lua_calls = set(re.findall(r"\bC\.(vc_\w+)\b", lua.replace(cdef, "")))

    for f in funcs:
        if f not in table:
            problems.append(f"python: {f} is not declared in videocrafter/_lib.py FUNCTIONS")
        if f not in py_calls:
            problems.append(f"python: {f} is never called by the videocrafter package")
        if f not in lua_decl:
            problems.append(f"lua: {f} is not in the ffi.cdef of videocrafter.lua")
        if f not in lua_calls:
            problems.append(f"lua: {f} is never called by videocrafter.lua")
    for extra in sorted((table | lua_decl) - set(funcs)):
        problems.append(f"{extra} is declared by a binding but not in include/videocrafter.h")

    if problems:
        print("binding coverage: FAILED\n  " + "\n  ".join(problems))
        return 1
    print(f"binding coverage: all {len(funcs)} vc_* functions of the header are wrapped by Python and Lua")
    return 0


if __name__ == "__main__":
    sys.exit(main())
