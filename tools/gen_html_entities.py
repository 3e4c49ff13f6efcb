#!/usr/bin/env python3
"""Generates the Unicode/HTML data tables of the tokenizer (lib/text/*.inc).

Run from the repository root:  python3 tools/gen_html_entities.py
Outputs (committed, so the build needs no Python):

  lib/text/html_entities.inc
      vc_html5_entities[]: Python's html.entities.html5 dict (the HTML5 named
          character references, names with and without the ';'), sorted by name
          (byte order) for binary search. Used for html.unescape (spec §2.1 step 2)
          and, for the names ending in ';', by ftfy's unescape_html (step 1.1).
      vc_ftfy_upper_entities[]: the extra all-caps names ftfy 6.3 accepts
          (ftfy.chardata._build_html_entities: a lower-case name ending in ';',
          upper-cased, that html.unescape does not already decode, mapped to the
          upper-cased value), sorted likewise.

  lib/text/ftfy_tables.inc
      The data of ftfy 6.3's mojibake repair (fix_encoding): the decoding of bytes
      0x80..0xFF (and 0x1A) in each of its ten single-byte encodings, and one bit
      per character set used by its regular expressions (badness.BADNESS_RE and
      chardata.UTF8_DETECTOR_RE), each set expanded from the same format strings
      ftfy builds them from.

  lib/text/case_tables.inc
      Code point ranges of the two properties CPython's str.lower() consults for
      the Final_Sigma rule of U+03A3 (spec §2.1 step 4): "case-ignorable" and
      "cased and not case-ignorable" (a cased character that is also case-ignorable
      is always skipped, so only this combination matters). They are read off the
      behaviour of str.lower() itself, so they are exactly what the running Python
      uses.

The values are data (the HTML5 entity list, Unicode properties); the C code that
uses them is in lib/text/clean.c.
"""
import html
import html.entities
import os
import sys
import unicodedata


def c_string(s):
    out = []
    for b in s.encode("utf-8"):
        if 0x20 <= b < 0x7F and b not in (0x22, 0x5C, 0x3F):
            out.append(chr(b))
        else:
            out.append("\\%03o" % b)
    return '"' + "".join(out) + '"'


def entity_table(name, items):
    lines = ["static const vc_html_entity %s[] = {" % name]
    for k, v in sorted(items, key=lambda kv: kv[0].encode("ascii")):
        lines.append("    {%s, %s}," % (c_string(k), c_string(v)))
    lines.append("};")
    return "\n".join(lines)


def ranges(pred):
    out, start = [], None
    for c in range(0x110001):
        ok = c <= 0x10FFFF and not (0xD800 <= c <= 0xDFFF) and pred(c)
        if ok and start is None:
            start = c
        elif not ok and start is not None:
            out.append((start, c - 1))
            start = None
    return out


def range_table(name, rs):
    lines = ["static const vc_cp_range %s[] = {" % name]
    for a, b in rs:
        lines.append("    {0x%04X, 0x%04X}," % (a, b))
    lines.append("};")
    return "\n".join(lines)


# The character sets of ftfy's BADNESS_RE, position by position, written with the
# same format strings as ftfy.badness (expanded with its MOJIBAKE_CATEGORIES), and
# the sets of ftfy.chardata.UTF8_CLUES. Order = bit number.
FTFY_SETS = [
    ("C1", "{c1}"),
    ("G1", "{bad}{lower_accented}{upper_accented}{box}{start_punctuation}{end_punctuation}{currency}{numeric}{law}"),
    ("BAD", "{bad}"),
    ("LCUC", "{lower_common}{upper_common}"),
    ("G1B", "{lower_accented}{upper_accented}{box}{start_punctuation}{end_punctuation}{currency}{numeric}{law}"),
    ("S5A", "{lower_accented}{lower_common}{box}{end_punctuation}{currency}{numeric}"),
    ("UA", "{upper_accented}"),
    ("S6A", "{box}{end_punctuation}{currency}{numeric}"),
    ("LA", "{lower_accented}"),
    ("S7A", "{lower_accented}{box}{end_punctuation}"),
    ("CUR", "{currency}"),
    ("S9A", "{upper_accented}{box}"),
    ("S9B", "{numeric}{law}"),
    ("S10A", "{lower_accented}{upper_accented}{box}{currency}{end_punctuation}"),
    ("SP", "{start_punctuation}"),
    ("NUM", "{numeric}"),
    ("S11A", "{lower_accented}{upper_accented}{currency}{numeric}{box}{law}"),
    ("EP", "{end_punctuation}"),
    ("S12A", "{currency}{numeric}{box}"),
    ("S13B", "{start_punctuation}{currency}"),
    ("BOX", "{box}"),
    ("KAO", "{kaomoji}"),
    ("S15A", "{lower_accented}{upper_accented}{currency}{numeric}{start_punctuation}{end_punctuation}{law}"),
    ("S17A", "{lower_accented}{upper_accented}"),
    ("S17B", "{start_punctuation}{end_punctuation}"),
    ("OE", "Œœ"),
    ("S20A", "ÂÃÎÐ"),
    ("S20B", "€œŠš¢£Ÿž\xa0\xad®©°·»{start_punctuation}{end_punctuation}–—´"),
    ("S21B", "²³"),
    ("S22A", "ØÙ"),
    ("S22B", "{common}{currency}{bad}{numeric}{start_punctuation}ŸŠ®°µ»"),
    ("S23B", "²µ¹¼½¾"),
    ("S24B", "±∂†≠®™´≤≥¥µø"),
    ("S25B", "°¢"),
    ("S26C", "ìîïòôúùû†°¢π"),
    ("S27B", "âó"),
    ("S27C", "àä°ê"),
    ("S29A", "ВГРС"),
    ("S29B", "{c1}{bad}{start_punctuation}{end_punctuation}{currency}°µ"),
    ("S30E", "A-Za-z "),
    ("S31B", "\xa0¡"),
    ("S32B", "ÃÂ"),
    ("S34A", "a-z.,?!{end_punctuation}"),
    ("S34C", " {start_punctuation}{end_punctuation}"),
    ("S35C", "™\xa0Ά\xad®°"),
    ("S36A", "ΒΓΞΟ"),
    ("S36B", "{c1}{bad}{start_punctuation}{end_punctuation}{currency}°"),
    ("U8F2", "{utf8_first_of_2}"),
    ("U8F3", "{utf8_first_of_3}"),
    ("U8F4", "{utf8_first_of_4}"),
    ("U8C", "{utf8_continuation}"),
    ("U8CS", "{utf8_continuation_strict}"),
]

FTFY_ENCODINGS = ["latin-1", "sloppy-windows-1252", "sloppy-windows-1251", "sloppy-windows-1250",
                  "sloppy-windows-1253", "sloppy-windows-1254", "sloppy-windows-1257", "iso-8859-2",
                  "macroman", "cp437"]


def gen_ftfy(root):
    import re
    import ftfy  # noqa: F401  (registers the sloppy codecs)
    import ftfy.bad_codecs  # noqa: F401
    from ftfy.badness import MOJIBAKE_CATEGORIES
    from ftfy.chardata import CHARMAP_ENCODINGS, UTF8_CLUES
    assert CHARMAP_ENCODINGS == FTFY_ENCODINGS
    fmt = dict(MOJIBAKE_CATEGORIES)
    fmt.update(UTF8_CLUES)
    masks = {}
    for bit, (name, spec) in enumerate(FTFY_SETS):
        rx = re.compile("[" + spec.format(**fmt) + "]")
        for c in range(0x110000):
            if 0xD800 <= c <= 0xDFFF:
                continue
            if rx.match(chr(c)):
                masks[c] = masks.get(c, 0) | (1 << bit)
    lines = ["/* Generated by tools/gen_html_entities.py from ftfy %s. Do not edit. */" % ftfy.__version__]
    for bit, (name, _) in enumerate(FTFY_SETS):
        lines.append("#define FS_%s (1ull << %d)" % (name, bit))
    lines.append("static const struct { uint32_t cp; uint64_t mask; } vc_ftfy_sets[] = {")
    for c in sorted(masks):
        lines.append("    {0x%04X, 0x%xull}," % (c, masks[c]))
    lines.append("};")
    lines.append("/* decoding of bytes 0x80..0xFF, then of byte 0x1A, per encoding, in ftfy's order */")
    lines.append("static const uint16_t vc_ftfy_charmaps[%d][129] = {" % len(FTFY_ENCODINGS))
    for enc in FTFY_ENCODINGS:
        dec = (bytes(range(0x80, 0x100)) + b"\x1a").decode(enc)
        assert len(dec) == 129 and all(ord(ch) < 0x10000 for ch in dec)
        assert len(set(dec)) == 129, enc
        low = bytes(b for b in range(0x80) if b != 0x1A)
        assert low.decode(enc) == low.decode("ascii"), enc  # ASCII is itself everywhere
        for b, ch in zip(list(range(0x80, 0x100)) + [0x1A], dec):   # encode is the inverse
            assert ch.encode(enc) == bytes([b]), (enc, b)
        lines.append("    /* %s */ {%s}," % (enc, ", ".join("0x%04X" % ord(ch) for ch in dec)))
    lines.append("};")
    lines.append('static const char *const vc_ftfy_encoding_names[] = {%s};'
                 % ", ".join('"%s"' % e for e in FTFY_ENCODINGS))
    with open(os.path.join(root, "lib/text/ftfy_tables.inc"), "w") as f:
        f.write("\n".join(lines) + "\n")
    return len(masks)


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    h5 = html.entities.html5
    upper = {}
    for name, char in h5.items():  # the rule of ftfy 6.3 chardata._build_html_entities
        if name.endswith(";") and name == name.lower():
            nu = name.upper()
            if html.unescape("&" + nu) == "&" + nu:
                upper[nu] = char.upper()
    assert all(k.isascii() for k in h5) and max(len(k) for k in h5) <= 32
    head = ("/* Generated by tools/gen_html_entities.py from Python %s (html.entities.html5). "
            "Do not edit. */\n" % sys.version.split()[0])
    with open(os.path.join(root, "lib/text/html_entities.inc"), "w") as f:
        f.write(head)
        f.write("/* %d HTML5 names (with and without ';'), %d ftfy all-caps names */\n"
                % (len(h5), len(upper)))
        f.write(entity_table("vc_html5_entities", h5.items()) + "\n")
        f.write(entity_table("vc_ftfy_upper_entities", upper.items()) + "\n")

    def final(s):
        return s.lower().endswith("\u03c2")

    def ignorable(c):
        x = chr(c)
        return final("A" + x + "\u03a3") and not final(x + "\u03a3")

    def cased(c):
        return final(chr(c) + "\u03a3")

    ign, cas = ranges(ignorable), ranges(cased)
    with open(os.path.join(root, "lib/text/case_tables.inc"), "w") as f:
        f.write("/* Generated by tools/gen_html_entities.py from Python %s (unicodedata %s). "
                "Do not edit. */\n" % (sys.version.split()[0], unicodedata.unidata_version))
        f.write(range_table("vc_case_ignorable", ign) + "\n")
        f.write(range_table("vc_cased_not_ignorable", cas) + "\n")
    nf = gen_ftfy(root)
    print("html5 %d, ftfy upper %d, case-ignorable ranges %d, cased ranges %d, ftfy set characters %d"
          % (len(h5), len(upper), len(ign), len(cas), nf))


if __name__ == "__main__":
    main()
