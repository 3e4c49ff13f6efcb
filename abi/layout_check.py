"""Compares the public header's layout with the baseline abi/videocrafter.layout (docs/abi.md).

    python3 abi/layout_check.py BASELINE CURRENT

Both files are the output of the layout program that bindings/layout/header.py generates
(STRUCT / FIELD / ENUM / MACRO lines). Allowed: new structs, new fields at the end of a params
struct (one whose first field is struct_size), new enum values, new macros. Everything else —
a field moved, resized or removed, a non-params struct resized, an enum value renumbered or
removed, a pinned macro changed — is an ABI break.
"""
import sys

# Macros that may change without an ABI break.
FREE_MACROS = {"VC_VERSION_MINOR", "VC_VERSION_PATCH", "VC_VERSION_STRING"}


def read(path):
    out = {"STRUCT": {}, "FIELD": {}, "ENUM": {}, "MACRO": {}}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            parts = line.rstrip("\n").split(" ", 2)
            if len(parts) >= 2 and parts[0] in out:
                out[parts[0]][parts[1]] = parts[2] if len(parts) > 2 else ""
    return out


def main(base_path, cur_path):
    base, cur = read(base_path), read(cur_path)
    errors = []
    params = {s for s in base["STRUCT"] if f"{s}.struct_size" in base["FIELD"]}
    for s, size in base["STRUCT"].items():
        if s not in cur["STRUCT"]:
            errors.append(f"struct {s} removed")
        elif s not in params and cur["STRUCT"][s] != size:
            errors.append(f"struct {s} changed size {size} -> {cur['STRUCT'][s]} (only params structs may grow)")
        elif int(cur["STRUCT"][s]) < int(size):
            errors.append(f"struct {s} shrank {size} -> {cur['STRUCT'][s]}")
    for f, v in base["FIELD"].items():
        if f not in cur["FIELD"]:
            errors.append(f"field {f} removed or renamed")
        elif cur["FIELD"][f] != v:
            errors.append(f"field {f} moved or resized: offset/size {v} -> {cur['FIELD'][f]}")
    for f, v in cur["FIELD"].items():
        if f in base["FIELD"]:
            continue
        s = f.split(".", 1)[0]
        if s in base["STRUCT"]:
            off = int(v.split()[0])
            if s not in params:
                errors.append(f"field {f} added to {s}, which has no struct_size")
            elif off < int(base["STRUCT"][s]):
                errors.append(f"field {f} inserted at offset {off}, inside the old struct (size {base['STRUCT'][s]})")
    for e, v in base["ENUM"].items():
        if e not in cur["ENUM"]:
            errors.append(f"enum value {e} removed")
        elif cur["ENUM"][e] != v:
            errors.append(f"enum value {e} renumbered {v} -> {cur['ENUM'][e]}")
    for m, v in base["MACRO"].items():
        if m in FREE_MACROS:
            continue
        if m not in cur["MACRO"]:
            errors.append(f"macro {m} removed")
        elif cur["MACRO"][m] != v:
            errors.append(f"macro {m} changed {v} -> {cur['MACRO'][m]}")
    if errors:
        print("abi layout check: INCOMPATIBLE\n  " + "\n  ".join(errors))
        return 1
    added = len(cur["FIELD"]) - len(base["FIELD"])
    print(f"abi layout check: ok ({len(base['STRUCT'])} structs, {len(base['FIELD'])} fields, "
          f"{len(base['ENUM'])} enum values unchanged; {added} fields added)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
