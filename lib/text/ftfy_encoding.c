/* ftfy_encoding.c - ftfy 6.3's fix_encoding, the mojibake repair of spec §2.1
 * step 1.2: UTF-8 text that was decoded with a single-byte encoding is
 * re-encoded and decoded as UTF-8 when ftfy's "badness" heuristic says the text
 * looks broken. This reproduces ftfy's own decisions (the spec's simplified
 * rule is the special case of its first two encodings without the heuristic;
 * docs/tokenizer.md). The character sets and code pages are data generated
 * from ftfy by tools/gen_html_entities.py. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "tokenizer.h"
#include "ftfy_tables.inc"

#define N_ENC (sizeof vc_ftfy_charmaps / sizeof vc_ftfy_charmaps[0])
#define ENC_LATIN1 0
#define ENC_MACROMAN 8

typedef struct u32v {
    uint32_t *v;
    size_t n, cap;
    bool oom;
} u32v;

static void v_push(u32v *b, uint32_t c)
{
    if (b->oom) return;
    if (b->n == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 64;
        uint32_t *nv = realloc(b->v, cap * sizeof *nv);
        if (!nv) {
            b->oom = true;
            return;
        }
        b->v = nv;
        b->cap = cap;
    }
    b->v[b->n++] = c;
}

static void v_append(u32v *b, const uint32_t *s, size_t n)
{
    for (size_t i = 0; i < n; i++) v_push(b, s[i]);
}

/* ------------------------------------------------------------- char sets */

static uint64_t set_mask(uint32_t c)
{
    size_t lo = 0, hi = sizeof vc_ftfy_sets / sizeof vc_ftfy_sets[0];
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (c < vc_ftfy_sets[mid].cp) hi = mid;
        else if (c > vc_ftfy_sets[mid].cp) lo = mid + 1;
        else return vc_ftfy_sets[mid].mask;
    }
    return 0;
}

/* Python's str.isspace(), which re's \s uses */
static bool py_space(int64_t c)
{
    if (c < 0) return false;
    return c == 0x20 || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F) || c == 0x85 || c == 0xA0 ||
           c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
           c == 0x205F || c == 0x3000;
}

/* re's \w on str: alphanumeric (letters, numbers) or '_' */
static bool py_word(int64_t c)
{
    if (c < 0) return false;
    if (c == '_') return true;
    switch (utf8proc_category((utf8proc_int32_t)c)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT: case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO:
        return true;
    default:
        return false;
    }
}

static bool az(int64_t c) { return c >= 'a' && c <= 'z'; }
static bool az_any(int64_t c) { return az(c) || (c >= 'A' && c <= 'Z'); }

/* ftfy.badness.is_bad: does BADNESS_RE match anywhere? The alternatives below
 * follow the regular expression's order; FS_* are its character classes. */
bool vc_ftfy_is_bad(const uint32_t *s, size_t n)
{
    uint64_t m[8];
    int64_t c[8];
    /* a sliding window of masks and characters, -1 / 0 past the end */
    for (int k = 0; k < 8; k++) {
        c[k] = (size_t)k < n ? (int64_t)s[k] : -1;
        m[k] = (size_t)k < n ? set_mask(s[k]) : 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (i) {
            memmove(m, m + 1, 7 * sizeof *m);
            memmove(c, c + 1, 7 * sizeof *c);
            c[7] = i + 7 < n ? (int64_t)s[i + 7] : -1;
            m[7] = i + 7 < n ? set_mask(s[i + 7]) : 0;
        }
        if (m[0] & FS_C1) return true;
        if ((m[0] & FS_G1) && (m[1] & FS_BAD)) return true;
        if (az_any(c[0]) && (m[1] & FS_LCUC) && (m[2] & FS_BAD)) return true;
        if ((m[0] & FS_BAD) && (m[1] & FS_G1B)) return true;
        if ((m[0] & FS_S5A) && (m[1] & FS_UA)) return true;
        if ((m[0] & FS_S6A) && (m[1] & FS_LA)) return true;
        if ((m[0] & FS_S7A) && (m[1] & FS_CUR)) return true;
        if (py_space(c[0]) && (m[1] & FS_UA) && (m[2] & FS_CUR)) return true;
        if ((m[0] & FS_S9A) && (m[1] & FS_S9B)) return true;
        if ((m[0] & FS_S10A) && (m[1] & FS_SP) && (m[2] & FS_NUM)) return true;
        if ((m[0] & FS_S11A) && (m[1] & FS_EP) && (m[2] & FS_SP)) return true;
        if ((m[0] & FS_S12A) && (m[1] & FS_SP)) return true;
        if (az(c[0]) && (m[1] & FS_UA) && (m[2] & FS_S13B)) return true;
        if ((m[0] & FS_BOX) && (m[1] & FS_KAO)) return true;
        if ((m[0] & FS_S15A) && (m[1] & FS_BOX)) return true;
        if ((m[0] & FS_BOX) && (m[1] & FS_EP)) return true;
        if ((m[0] & FS_S17A) && (m[1] & FS_S17B) && py_word(c[2])) return true;
        if ((m[0] & FS_OE) && c[1] >= 0 && !az_any(c[1])) return true;             /* [Œœ][^A-Za-z] */
        if ((m[0] & FS_UA) && c[1] == 0xB0) return true;                              /* capital + ° */
        if ((m[0] & FS_S20A) && (m[1] & FS_S20B)) return true;
        if (c[0] == 0xD7 && (m[1] & FS_S21B)) return true;                            /* × [²³] */
        if ((m[0] & FS_S22A) && (m[1] & FS_S22B) && (m[2] & FS_S22A) && (m[3] & FS_S22B)) return true;
        if (c[0] == 0xE0 && (m[1] & FS_S23B)) return true;                            /* à[²µ¹¼½¾] */
        if (c[0] == 0x221A && (m[1] & FS_S24B)) return true;                          /* √ */
        if (c[0] == 0x2248 && (m[1] & FS_S25B)) return true;                          /* ≈ */
        if (c[0] == 0x201A && c[1] == 0xC4 && (m[2] & FS_S26C)) return true;          /* ‚Ä */
        if (c[0] == 0x201A && (m[1] & FS_S27B) && (m[2] & FS_S27C)) return true;
        if (c[0] == 0x432 && c[1] == 0x402) return true;                              /* вЂ */
        if ((m[0] & FS_S29A) && (m[1] & FS_S29B) && (m[2] & FS_S29A)) return true;
        if (c[0] == 0x413 && c[1] == 0x45E && c[2] == 0x412 && c[3] == 0x402 && c[4] == 0x412 && c[5] >= 0 &&
            c[5] != '\n' && (m[6] & FS_S30E))
            return true;                                                              /* ГўВЂВ.[A-Za-z ] */
        if (c[0] == 0xC3 && (m[1] & FS_S31B)) return true;                            /* Ã[\xa0¡] */
        if (az(c[0]) && ((py_space(c[1]) && (m[2] & FS_S32B) && c[3] == ' ') || ((m[1] & FS_S32B) && c[2] == ' ')))
            return true;                                                              /* [a-z]\s?[ÃÂ][ ] */
        if (i == 0 && (m[0] & FS_S32B) && c[1] == ' ') return true;                   /* ^[ÃÂ][ ] */
        if ((m[0] & FS_S34A) && c[1] == 0xC2 && (m[2] & FS_S34C)) return true;
        if (c[0] == 0x3B2 && c[1] == 0x20AC && (m[2] & FS_S35C)) return true;         /* β€ */
        if ((m[0] & FS_S36A) && (m[1] & FS_S36B) && (m[2] & FS_S36A)) return true;
        if (c[0] == 0x101 && c[1] == 0x20AC) return true;                             /* ā€ */
    }
    return false;
}

/* ------------------------------------------------------------ code pages */

typedef struct inv_entry {
    uint16_t cp;
    uint8_t byte;
} inv_entry;

static inv_entry inverse[N_ENC][129];
static pthread_once_t inverse_once = PTHREAD_ONCE_INIT;

static int inv_cmp(const void *a, const void *b)
{
    return (int)((const inv_entry *)a)->cp - (int)((const inv_entry *)b)->cp;
}

static void build_inverse(void)
{
    for (size_t e = 0; e < N_ENC; e++) {
        for (int k = 0; k < 129; k++)
            inverse[e][k] = (inv_entry){vc_ftfy_charmaps[e][k], (uint8_t)(k < 128 ? 0x80 + k : 0x1A)};
        qsort(inverse[e], 129, sizeof inverse[e][0], inv_cmp);
    }
}

/* Byte of c in encoding e, -1 if none (ftfy's possible_encoding + encode). */
static int enc_byte(size_t e, uint32_t c)
{
    if (c < 0x80 && c != 0x1A) return (int)c;
    if (c > 0xFFFF) return -1;
    size_t lo = 0, hi = 129;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (c < inverse[e][mid].cp) hi = mid;
        else if (c > inverse[e][mid].cp) lo = mid + 1;
        else return inverse[e][mid].byte;
    }
    return -1;
}

static bool is_sloppy(size_t e) { return strncmp(vc_ftfy_encoding_names[e], "sloppy", 6) == 0; }

/* ------------------------------------------------------ byte transforms */

/* ftfy's LOSSY_UTF8_RE at b[i..]: length of the match (first matching
 * alternative, as Python's re tries them), 0 if none. */
static size_t lossy_match(const unsigned char *b, size_t n, size_t i)
{
#define AT(k) (i + (k) < n ? b[i + (k)] : -1)
#define IN(x, lo, hi) ((x) >= (lo) && (x) <= (hi))
#define SUB(x) ((x) == 0x1A)
#define Q(x) ((x) == 0x1A || (x) == '?')
#define CONT(x) (IN(x, 0x80, 0xBF))
    int c0 = AT(0), c1 = AT(1), c2 = AT(2), c3 = AT(3), c4 = AT(4), c5 = AT(5);
    if (IN(c0, 0xC2, 0xDF) && SUB(c1)) return 2;
    if (IN(c0, 0xC2, 0xC3) && c1 == '?') return 2;
    if (c0 == 0xED && IN(c1, 0xA0, 0xAF) && Q(c2) && c3 == 0xED && IN(c4, 0xB0, 0xBF) && (Q(c5) || CONT(c5)))
        return 6;
    if (c0 == 0xED && IN(c1, 0xA0, 0xAF) && (Q(c2) || CONT(c2)) && c3 == 0xED && IN(c4, 0xB0, 0xBF) && Q(c5))
        return 6;
    if (IN(c0, 0xE0, 0xEF) && Q(c1) && (SUB(c2) || CONT(c2))) return 3;
    if (IN(c0, 0xE0, 0xEF) && (SUB(c1) || CONT(c1)) && Q(c2)) return 3;
    if (IN(c0, 0xF0, 0xF4)) {
        bool a1 = SUB(c1) || CONT(c1), a2 = SUB(c2) || CONT(c2), a3 = SUB(c3) || CONT(c3);
        if (Q(c1) && a2 && a3) return 4;
        if (a1 && Q(c2) && a3) return 4;
        if (a1 && a2 && Q(c3)) return 4;
    }
    if (SUB(c0)) return 1;
    return 0;
}

/* ftfy's ALTERED_UTF8_RE at b[i..]: match length, 0 if none. */
static size_t altered_match(const unsigned char *b, size_t n, size_t i)
{
    int c0 = AT(0), c1 = AT(1), c2 = AT(2), c3 = AT(3);
#define A0SET(x) (IN(x, 0x80, 0x84) || IN(x, 0x86, 0x9F) || IN(x, 0xA1, 0xBF))
    if ((c0 == 0xC2 || c0 == 0xC3 || c0 == 0xC5 || c0 == 0xCE || c0 == 0xD0 || c0 == 0xD9) && c1 == ' ') return 2;
    if ((c0 == 0xE2 || c0 == 0xE3) && c1 == ' ' && A0SET(c2)) return 3;
    if (IN(c0, 0xE0, 0xE3) && A0SET(c1) && c2 == ' ') return 3;
    if (c0 == 0xF0 && c1 == ' ' && CONT(c2) && CONT(c3)) return 4;
    if (c0 == 0xF0 && CONT(c1) && c2 == ' ' && CONT(c3)) return 4;
    if (c0 == 0xF0 && CONT(c1) && CONT(c2) && c3 == ' ') return 4;
    return 0;
#undef A0SET
}
#undef AT
#undef IN
#undef SUB
#undef Q
#undef CONT

static bool starts(const unsigned char *b, size_t n, size_t i, const char *lit)
{
    size_t k = strlen(lit);
    return i + k <= n && memcmp(b + i, lit, k) == 0;
}

/* ftfy restore_byte_a0: b[0..*n) (capacity 2n) rewritten in place via tmp. */
static void restore_byte_a0(unsigned char *b, size_t *n, unsigned char *tmp)
{
    size_t m = 0, len = *n;
    /* A_GRAVE_WORD_RE: "\xc3 (?! |quele|quela|quilo|s )" -> "\xc3\xa0 " */
    for (size_t i = 0; i < len; i++) {
        if (b[i] == 0xC3 && i + 1 < len && b[i + 1] == ' ' && !starts(b, len, i + 2, " ") &&
            !starts(b, len, i + 2, "quele") && !starts(b, len, i + 2, "quela") && !starts(b, len, i + 2, "quilo") &&
            !starts(b, len, i + 2, "s ")) {
            tmp[m++] = 0xC3;
            tmp[m++] = 0xA0;
            tmp[m++] = ' ';
            i++;
        } else {
            tmp[m++] = b[i];
        }
    }
    /* ALTERED_UTF8_RE matches: their spaces become 0xA0 */
    len = m;
    m = 0;
    for (size_t i = 0; i < len;) {
        size_t k = altered_match(tmp, len, i);
        if (k) {
            for (size_t j = 0; j < k; j++) b[m++] = tmp[i + j] == ' ' ? 0xA0 : tmp[i + j];
            i += k;
        } else {
            b[m++] = tmp[i++];
        }
    }
    *n = m;
}

/* Strict UTF-8, or ftfy's "utf-8-variants" (also Java's C0 80 = NUL and CESU-8
 * surrogate pairs). false if the bytes do not decode. */
static bool decode_utf8(const unsigned char *s, size_t len, bool variants, u32v *out)
{
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        if (c < 0x80) {
            v_push(out, c);
            i++;
            continue;
        }
        if (variants && c == 0xC0 && i + 1 < len && (s[i + 1] == 0x80 || (s[i + 1] == '\n' && i + 2 == len))) {
            v_push(out, 0); /* NULL_EXPR "\xc0(\x80|$)"; `$` also matches before a final newline */
            i += 2;
            continue;
        }
        if (variants && c == 0xED && i + 5 < len && s[i + 1] >= 0xA0 && s[i + 1] <= 0xAF && (s[i + 2] & 0xC0) == 0x80 &&
            s[i + 3] == 0xED && s[i + 4] >= 0xB0 && s[i + 4] <= 0xBF && (s[i + 5] & 0xC0) == 0x80) {
            uint32_t cp = ((uint32_t)(s[i + 1] & 0x0F) << 16) + ((uint32_t)(s[i + 2] & 0x3F) << 10) +
                          ((uint32_t)(s[i + 4] & 0x0F) << 6) + (s[i + 5] & 0x3F) + 0x10000;
            v_push(out, cp);
            i += 6;
            continue;
        }
        uint32_t cp;
        unsigned n = vc_utf8_decode_seq(s + i, len - i, &cp);
        if (!n) return false;
        v_push(out, cp);
        i += n;
    }
    return true;
}

/* ------------------------------------------------------------ fix_encoding */

static bool fix_encoding_full(const uint32_t *s, size_t n, u32v *out, int depth);

/* Windows-1252 for bytes 0x80..0x9F (0 = undefined), as in clean.c */
static const uint16_t cp1252[32] = {
    0x20AC, 0, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0, 0x017D, 0,
    0, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0, 0x017E, 0x0178,
};

/* ftfy decode_inconsistent_utf8: each UTF8_DETECTOR_RE match
 * (?<![cont_strict])([f2][cont]|[f3][cont]{2}|[f4][cont]{3})+ that is shorter
 * than the text and is_bad gets fix_encoding on its own. */
static bool decode_inconsistent(const uint32_t *s, size_t n, u32v *out, int depth)
{
    size_t i = 0;
    while (i < n) {
        if (i == 0 || !(set_mask(s[i - 1]) & FS_U8CS)) {
            size_t p = i;
            for (;;) {
                uint64_t m0 = p < n ? set_mask(s[p]) : 0;
                uint64_t m1 = p + 1 < n ? set_mask(s[p + 1]) : 0;
                uint64_t m2 = p + 2 < n ? set_mask(s[p + 2]) : 0;
                uint64_t m3 = p + 3 < n ? set_mask(s[p + 3]) : 0;
                if ((m0 & FS_U8F2) && (m1 & FS_U8C)) p += 2;
                else if ((m0 & FS_U8F3) && (m1 & FS_U8C) && (m2 & FS_U8C)) p += 3;
                else if ((m0 & FS_U8F4) && (m1 & FS_U8C) && (m2 & FS_U8C) && (m3 & FS_U8C)) p += 4;
                else break;
            }
            if (p > i) {
                if (p - i < n && vc_ftfy_is_bad(s + i, p - i)) {
                    if (!fix_encoding_full(s + i, p - i, out, depth + 1)) return false;
                } else {
                    v_append(out, s + i, p - i);
                }
                i = p;
                continue;
            }
        }
        v_push(out, s[i++]);
    }
    return !out->oom;
}

/* ftfy _fix_encoding_one_step_and_explain. false on OOM. */
static bool fix_one_step(const uint32_t *s, size_t n, u32v *out, int depth)
{
    out->n = 0;
    bool ascii = true;
    for (size_t i = 0; i < n && ascii; i++) ascii = s[i] < 0x80;
    if (n == 0 || ascii || depth > 32 || !vc_ftfy_is_bad(s, n)) {
        v_append(out, s, n);
        return !out->oom;
    }
    pthread_once(&inverse_once, build_inverse);
    bool possible[N_ENC];
    /* restore_byte_a0 grows the bytes by at most 1.5x, the lossy step by 3x */
    unsigned char *bytes = malloc(6 * n + 16), *tmp = malloc(6 * n + 16);
    if (!bytes || !tmp) {
        free(bytes);
        free(tmp);
        return false;
    }
    for (size_t e = 0; e < N_ENC; e++) {
        possible[e] = true;
        for (size_t i = 0; i < n && possible[e]; i++) possible[e] = enc_byte(e, s[i]) >= 0;
        if (!possible[e]) continue;
        size_t m = n;
        for (size_t i = 0; i < n; i++) bytes[i] = (unsigned char)enc_byte(e, s[i]);
        bool altered = false;
        for (size_t i = 0; i < m && !altered; i++) altered = altered_match(bytes, m, i) != 0;
        if (e != ENC_MACROMAN && altered) restore_byte_a0(bytes, &m, tmp);
        if (is_sloppy(e)) {
            size_t k = 0;
            for (size_t i = 0; i < m;) {
                size_t l = lossy_match(bytes, m, i);
                if (l) {
                    tmp[k++] = 0xEF; tmp[k++] = 0xBF; tmp[k++] = 0xBD;
                    i += l;
                } else {
                    tmp[k++] = bytes[i++];
                }
            }
            memcpy(bytes, tmp, k);
            m = k;
        }
        bool variants = memchr(bytes, 0xED, m) || memchr(bytes, 0xC0, m);
        out->n = 0;
        if (decode_utf8(bytes, m, variants, out)) {
            free(bytes);
            free(tmp);
            return !out->oom;
        }
        if (out->oom) break;
    }
    free(bytes);
    free(tmp);
    if (out->oom) return false;
    out->n = 0;
    if (!decode_inconsistent(s, n, out, depth)) return false;
    if (out->n != n || memcmp(out->v, s, n * sizeof *s) != 0) return true;
    /* Latin-1 text with C1 characters read as Windows-1252 (strict: undefined bytes fail) */
    bool c1 = false, undefined = false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] >= 0x80 && s[i] <= 0x9F) {
            c1 = true;
            undefined |= cp1252[s[i] - 0x80] == 0;
        }
    }
    out->n = 0;
    if (possible[ENC_LATIN1] && c1 && !undefined) {
        for (size_t i = 0; i < n; i++) v_push(out, s[i] >= 0x80 && s[i] <= 0x9F ? cp1252[s[i] - 0x80] : s[i]);
        return !out->oom;
    }
    /* fix_c1_controls */
    for (size_t i = 0; i < n; i++)
        v_push(out, s[i] >= 0x80 && s[i] <= 0x9F && cp1252[s[i] - 0x80] ? cp1252[s[i] - 0x80] : s[i]);
    return !out->oom;
}

/* ftfy.fix_encoding: one step until nothing changes; appends to out. */
static bool fix_encoding_full(const uint32_t *s, size_t n, u32v *out, int depth)
{
    u32v cur = {0}, next = {0};
    v_append(&cur, s, n);
    bool ok = !cur.oom;
    for (int it = 0; ok && it < 64; it++) {
        ok = fix_one_step(cur.v, cur.n, &next, depth);
        if (!ok) break;
        bool same = next.n == cur.n && (cur.n == 0 || memcmp(next.v, cur.v, cur.n * sizeof *cur.v) == 0);
        u32v t = cur;
        cur = next;
        next = t;
        if (same) break;
    }
    if (ok) v_append(out, cur.v, cur.n);
    free(cur.v);
    free(next.v);
    return ok && !out->oom;
}

/* The fix_encoding step of fix_text on one segment: *out (malloc'd) and its
 * length; false on out of memory. */
bool vc_ftfy_fix_encoding(const uint32_t *s, size_t n, uint32_t **out, size_t *n_out)
{
    u32v r = {0};
    bool ok = fix_encoding_full(s, n, &r, 0);
    if (!ok) {
        free(r.v);
        *out = NULL;
        *n_out = 0;
        return false;
    }
    *out = r.v;
    *n_out = r.n;
    return true;
}
