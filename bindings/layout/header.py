"""Reads include/videocrafter.h for the binding tests: functions, structs and their fields, enums.

    python3 header.py functions HEADER        one vc_* function name a line
    python3 header.py layout-c HEADER         a C program printing every struct's layout:
                                              STRUCT name sizeof / FIELD struct.field offset size /
                                              ENUM type.NAME value / MACRO NAME value
A tiny parser for this one header's style, not for C in general.
"""
import re
import sys


def _clean(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


def functions(text):
    """Names of the VC_API functions, in header order."""
    names = []
    for decl in re.findall(r"VC_API\s+[^;]*?;", _clean(text), flags=re.S):
        m = re.search(r"\b(vc_\w+)\s*\(", decl)
        if m:
            names.append(m.group(1))
    return names


def structs(text):
    """{struct name: [field, ...]} of every `typedef struct vc_x { ... } vc_x;`."""
    out = {}
    for name, body in re.findall(r"typedef\s+struct\s+(vc_\w+)\s*\{(.*?)\}\s*\1\s*;", _clean(text), flags=re.S):
        fields = []
        for decl in body.split(";"):
            decl = re.sub(r"\[[^\]]*\]", "", decl).strip()
            if not decl:
                continue
            for part in decl.split(","):
                m = re.search(r"(\w+)\s*$", part.strip())
                if m:
                    fields.append(m.group(1))
        out[name] = fields
    return out


def enums(text):
    """{enum type: {NAME: value}} of every `typedef enum vc_x { ... } vc_x;`."""
    out = {}
    for name, body in re.findall(r"typedef\s+enum\s+(vc_\w+)\s*\{(.*?)\}\s*\1\s*;", _clean(text), flags=re.S):
        out[name] = {k: int(v) for k, v in re.findall(r"(VC_\w+)\s*=\s*(-?\d+)", body)}
    return out


def macros(text):
    """{NAME: value} of the integer / string #defines."""
    out = {}
    for k, v in re.findall(r"#define\s+(VC_\w+)\s+(\S+)", text):
        v = v.strip()
        if re.fullmatch(r"\d+u?", v):
            out[k] = int(v.rstrip("u"))
        elif v.startswith('"'):
            out[k] = v.strip('"')
    return out


def layout_c(text):
    lines = ['#include <stddef.h>', '#include <stdio.h>', '#include "videocrafter.h"', "int main(void)", "{"]
    for s, fields in structs(text).items():
        lines.append(f'    printf("STRUCT {s} %zu\\n", sizeof({s}));')
        for f in fields:
            lines.append(f'    printf("FIELD {s}.{f} %zu %zu\\n", offsetof({s}, {f}), sizeof((({s} *)0)->{f}));')
    for e, values in enums(text).items():
        for k in values:
            lines.append(f'    printf("ENUM {e}.{k} %d\\n", (int){k});')
    for k, v in macros(text).items():
        fmt = "%s" if isinstance(v, str) else "%d"
        lines.append(f'    printf("MACRO {k} {fmt}\\n", {k});')
    lines += ["    return 0;", "}"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    what, path = sys.argv[1], sys.argv[2]
    with open(path, encoding="utf-8") as fh:
        src = fh.read()
    if what == "functions":
        print("\n".join(functions(src)))
    elif what == "layout-c":
        sys.stdout.write(layout_c(src))
    else:
        sys.exit(f"unknown mode {what}")
