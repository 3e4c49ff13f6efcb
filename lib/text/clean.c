/* clean.c - prompt cleaning of open_clip 2.22 (spec §2.1): the ftfy 6.3 subset
 * fix_text applies to typed text, html.unescape twice, whitespace collapse and
 * Python's str.lower(). Works on arrays of code points. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "tokenizer.h"

typedef struct vc_html_entity {
    const char *name;   /* without the '&' */
    const char *value;  /* UTF-8 */
} vc_html_entity;

typedef struct vc_cp_range {
    uint32_t lo, hi;
} vc_cp_range;

#include "case_tables.inc"
#include "html_entities.inc"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------------ buffers */

/* A growable code point string; `oom` records a failed growth so that the
 * steps can stay simple and be checked once. */
typedef struct cpbuf {
    uint32_t *v;
    size_t n, cap;
    bool oom;
} cpbuf;

static bool cb_reserve(cpbuf *b, size_t extra)
{
    if (b->oom) return false;
    if (b->n + extra <= b->cap) return true;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->n + extra) {
        if (cap > SIZE_MAX / 8) {
            b->oom = true;
            return false;
        }
        cap *= 2;
    }
    uint32_t *v = realloc(b->v, cap * sizeof *v);
    if (!v) {
        b->oom = true;
        return false;
    }
    b->v = v;
    b->cap = cap;
    return true;
}

static void cb_push(cpbuf *b, uint32_t c)
{
    if (cb_reserve(b, 1)) b->v[b->n++] = c;
}

static void cb_append(cpbuf *b, const uint32_t *s, size_t n)
{
    if (n && cb_reserve(b, n)) {
        memcpy(b->v + b->n, s, n * sizeof *s);
        b->n += n;
    }
}

/* Appends a (trusted, valid) UTF-8 string. */
static void cb_append_utf8(cpbuf *b, const char *s)
{
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
    while (*p) {
        utf8proc_int32_t c;
        utf8proc_ssize_t k = utf8proc_iterate(p, -1, &c);
        if (k <= 0) return;
        cb_push(b, (uint32_t)c);
        p += k;
    }
}

static void cb_free(cpbuf *b)
{
    free(b->v);
    memset(b, 0, sizeof *b);
}

/* Replaces *a by *b (b is emptied). */
static void cb_swap(cpbuf *a, cpbuf *b)
{
    cpbuf t = *a;
    *a = *b;
    *b = t;
    b->n = 0;
    if (a->oom || t.oom) a->oom = b->oom = true;
}

static bool cp_equal(const cpbuf *a, const cpbuf *b)
{
    return a->n == b->n && (a->n == 0 || memcmp(a->v, b->v, a->n * sizeof *a->v) == 0);
}

/* ------------------------------------------------------------------ UTF-8 */

/* Strict UTF-8 (no overlongs, surrogates or code points above U+10FFFF), the
 * rule of Python's bytes.decode('utf-8'). Returns the offset of the first bad
 * byte, or len when all is well. */
static size_t utf8_decode(const unsigned char *s, size_t len, cpbuf *out)
{
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        if (c < 0x80) {
            cb_push(out, c);
            i++;
            continue;
        }
        uint32_t cp;
        unsigned n = vc_utf8_decode_seq(s + i, len - i, &cp);
        if (!n) return i;
        cb_push(out, cp);
        i += n;
    }
    return len;
}

static size_t utf8_put(uint32_t c, unsigned char *o)
{
    if (c < 0x80) { o[0] = (unsigned char)c; return 1; }
    if (c < 0x800) { o[0] = (unsigned char)(0xC0 | (c >> 6)); o[1] = (unsigned char)(0x80 | (c & 0x3F)); return 2; }
    if (c < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (c >> 12));
        o[1] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (c & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | (c >> 18));
    o[1] = (unsigned char)(0x80 | ((c >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (c & 0x3F));
    return 4;
}

/* ---------------------------------------------------- character properties */

static bool in_ranges(const vc_cp_range *r, size_t n, uint32_t c)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (c < r[mid].lo) hi = mid;
        else if (c > r[mid].hi) lo = mid + 1;
        else return true;
    }
    return false;
}

/* The `regex` module's \s (Unicode White_Space), spec §2.1 step 3. */
bool vc_text_is_space(uint32_t c)
{
    if (c <= 0x20) return c == 0x20 || (c >= 0x09 && c <= 0x0D);
    return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
           c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

/* Python's str.isspace(), used by str.strip(): \s plus U+001C..U+001F. */
static bool py_isspace(uint32_t c)
{
    return vc_text_is_space(c) || (c >= 0x1C && c <= 0x1F);
}

int vc_text_class(uint32_t c)
{
    if (vc_text_is_space(c)) return 0;
    /* Under re.IGNORECASE the `regex` module puts U+0345 (a mark whose case
     * variants are letters) in none of the three classes: it is skipped. */
    if (c == 0x345) return 4;
    switch (utf8proc_category((utf8proc_int32_t)c)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO:
        return 1;
    case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO:
        return 2;
    default:
        return 3;
    }
}

/* Windows-1252 for bytes 0x80..0x9F; 0 where it leaves a byte undefined. */
static const uint16_t cp1252_high[32] = {
    0x20AC, 0, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0, 0x017D, 0,
    0, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0, 0x017E, 0x0178,
};

/* ---------------------------------------------------- HTML character refs */

static const char *entity_find(const vc_html_entity *t, size_t n, const char *name)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(name, t[mid].name);
        if (c == 0) return t[mid].value;
        if (c < 0) hi = mid;
        else lo = mid + 1;
    }
    return NULL;
}

static const char *html5_find(const uint32_t *s, size_t n)
{
    char name[40];
    if (n == 0 || n >= sizeof name) return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] >= 0x80) return NULL;
        name[i] = (char)s[i];
    }
    name[n] = '\0';
    return entity_find(vc_html5_entities, N_ELEMS(vc_html5_entities), name);
}

static bool is_ascii_digit(uint32_t c) { return c >= '0' && c <= '9'; }
static bool is_ascii_hex(uint32_t c)
{
    return is_ascii_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
static bool is_ascii_alnum(uint32_t c)
{
    return is_ascii_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Python html._replace_charref for a numeric reference (value saturated above
 * U+10FFFF): appends the replacement, which may be empty. */
static void numeric_charref(uint64_t num, cpbuf *out)
{
    if (num == 0x00) { cb_push(out, 0xFFFD); return; }
    if (num == 0x0D) { cb_push(out, '\r'); return; }
    if (num >= 0x80 && num <= 0x9F) {
        uint16_t w = cp1252_high[num - 0x80];
        cb_push(out, w ? w : (uint32_t)num);
        return;
    }
    if ((num >= 0xD800 && num <= 0xDFFF) || num > 0x10FFFF) { cb_push(out, 0xFFFD); return; }
    if ((num >= 0x01 && num <= 0x08) || num == 0x0B || (num >= 0x0E && num <= 0x1F) ||
        (num >= 0x7F && num <= 0x9F) || (num >= 0xFDD0 && num <= 0xFDEF) || (num & 0xFFFE) == 0xFFFE)
        return; /* "invalid code points" become nothing */
    cb_push(out, (uint32_t)num);
}

/* Python's html.unescape (the HTML5 rules): the regex
 *   &(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)
 * and _replace_charref, including the longest-prefix rule for the legacy names
 * that may omit the ';'. */
static void html_unescape(const uint32_t *s, size_t n, cpbuf *out)
{
    size_t i = 0;
    while (i < n) {
        if (s[i] != '&') {
            cb_push(out, s[i++]);
            continue;
        }
        size_t j = i + 1;
        if (j < n && s[j] == '#') {
            bool hex = false;
            size_t k = j + 1;
            if (k < n && is_ascii_digit(s[k])) {
                hex = false;
            } else if (k + 1 < n && (s[k] == 'x' || s[k] == 'X') && is_ascii_hex(s[k + 1])) {
                hex = true;
                k++;
            } else {
                cb_push(out, s[i++]); /* '&#' without digits: not a reference */
                continue;
            }
            uint64_t num = 0;
            while (k < n && (hex ? is_ascii_hex(s[k]) : is_ascii_digit(s[k]))) {
                uint32_t c = s[k];
                uint32_t d = is_ascii_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10;
                if (num <= 0x10FFFF) num = num * (hex ? 16 : 10) + d; /* saturates above U+10FFFF */
                k++;
            }
            if (k < n && s[k] == ';') k++;
            numeric_charref(num, out);
            i = k;
            continue;
        }
        size_t k = j;
        while (k < n && k - j < 32) {
            uint32_t c = s[k];
            if (c == '\t' || c == '\n' || c == '\f' || c == ' ' || c == '<' || c == '&' || c == '#' || c == ';')
                break;
            k++;
        }
        if (k == j) {
            cb_push(out, s[i++]);
            continue;
        }
        if (k < n && s[k] == ';') k++;
        const uint32_t *name = s + j;
        size_t len = k - j;
        const char *v = html5_find(name, len);
        if (v) {
            cb_append_utf8(out, v);
        } else {
            size_t x;
            for (x = len - 1; x >= 2; x--) {
                if ((v = html5_find(name, x))) break;
            }
            if (v) {
                cb_append_utf8(out, v);
                cb_append(out, name + x, len - x);
            } else {
                cb_push(out, '&');
                cb_append(out, name, len);
            }
        }
        i = k;
    }
}

/* ftfy's unescape_html (step 1.1): only `&#?[0-9A-Za-z]{1,24};` is looked at;
 * HTML5 names ending in ';', ftfy's all-caps names, and numeric references
 * whose Python unescape consumes the ';'. */
static void ftfy_unescape_html(const uint32_t *s, size_t n, cpbuf *out)
{
    size_t i = 0;
    while (i < n) {
        if (s[i] != '&') {
            cb_push(out, s[i++]);
            continue;
        }
        size_t j = i + 1;
        bool numeric = j < n && s[j] == '#';
        if (numeric) j++;
        size_t k = j;
        while (k < n && k - j < 25 && is_ascii_alnum(s[k])) k++;
        if (k == j || k - j > 24 || k >= n || s[k] != ';') {
            cb_push(out, s[i++]);
            continue;
        }
        size_t end = k + 1; /* the match is s[i, end) */
        char name[32];
        size_t nl = 0;
        for (size_t p = i + 1; p < end; p++) name[nl++] = (char)s[p];
        name[nl] = '\0';
        const char *v = NULL;
        if (!numeric)
            v = entity_find(vc_html5_entities, N_ELEMS(vc_html5_entities), name);
        if (!numeric && !v)
            v = entity_find(vc_ftfy_upper_entities, N_ELEMS(vc_ftfy_upper_entities), name);
        if (v) {
            cb_append_utf8(out, v);
        } else if (numeric) {
            cpbuf tmp = {0};
            html_unescape(s + i, end - i, &tmp);
            bool semi = false;
            for (size_t p = 0; p < tmp.n; p++) semi |= tmp.v[p] == ';';
            if (tmp.oom) out->oom = true;
            else if (semi) cb_append(out, s + i, end - i);
            else cb_append(out, tmp.v, tmp.n);
            cb_free(&tmp);
        } else {
            cb_append(out, s + i, end - i);
        }
        i = end;
    }
}

/* ------------------------------------------------------ other ftfy fixes */

typedef struct width_entry {
    uint32_t to[4];
    uint8_t n;   /* 0: unchanged */
} width_entry;

/* U+FF01..U+FFEF -> NFKC form where it differs (ftfy's WIDTH_MAP). Built once;
 * the compatibility decompositions of this block are stable across versions. */
static width_entry width_map[0xFFEF - 0xFF01 + 1];
static pthread_once_t width_map_once = PTHREAD_ONCE_INIT;

static void build_width_map(void)
{
    for (uint32_t c = 0xFF01; c <= 0xFFEF; c++) {
        width_entry *e = &width_map[c - 0xFF01];
        utf8proc_int32_t buf[8];
        int last = 0;
        /* NFKC without allocating: compatibility decomposition, then composition */
        utf8proc_ssize_t r = utf8proc_decompose_char((utf8proc_int32_t)c, buf, 8, UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT, &last);
        if (r > 1) r = utf8proc_normalize_utf32(buf, r, UTF8PROC_STABLE | UTF8PROC_COMPOSE);
        e->n = 0;
        if (r >= 1 && r <= 4 && !(r == 1 && (uint32_t)buf[0] == c)) {
            for (utf8proc_ssize_t i = 0; i < r; i++) e->to[i] = (uint32_t)buf[i];
            e->n = (uint8_t)r;
        }
    }
}

/* Steps 1.3-1.10 in one pass each (they are independent substitutions applied
 * in ftfy's order). */
static void fix_c1_controls(const cpbuf *in, cpbuf *out)
{
    for (size_t i = 0; i < in->n; i++) {
        uint32_t c = in->v[i];
        if (c >= 0x80 && c <= 0x9F && cp1252_high[c - 0x80]) c = cp1252_high[c - 0x80];
        cb_push(out, c);
    }
}

static void fix_latin_ligatures(const cpbuf *in, cpbuf *out)
{
    static const struct { uint32_t from; const char *to; } lig[] = {
        {0x0132, "IJ"}, {0x0133, "ij"}, {0x0149, "\xCA\xBCn"}, {0x01C4, "D\xC5\xBD"}, {0x01C5, "D\xC5\xBE"},
        {0x01C6, "d\xC5\xBE"}, {0x01C7, "LJ"}, {0x01C8, "Lj"}, {0x01C9, "lj"}, {0x01CA, "NJ"}, {0x01CB, "Nj"},
        {0x01CC, "nj"}, {0x01F1, "DZ"}, {0x01F2, "Dz"}, {0x01F3, "dz"}, {0xFB00, "ff"}, {0xFB01, "fi"},
        {0xFB02, "fl"}, {0xFB03, "ffi"}, {0xFB04, "ffl"}, {0xFB05, "\xC5\xBFt"}, {0xFB06, "st"},
    };
    for (size_t i = 0; i < in->n; i++) {
        uint32_t c = in->v[i];
        const char *to = NULL;
        if ((c >= 0x0132 && c <= 0x01F3) || (c >= 0xFB00 && c <= 0xFB06)) {
            for (size_t k = 0; k < N_ELEMS(lig); k++)
                if (lig[k].from == c) to = lig[k].to;
        }
        if (to) cb_append_utf8(out, to);
        else cb_push(out, c);
    }
}

static void fix_character_width(const cpbuf *in, cpbuf *out)
{
    pthread_once(&width_map_once, build_width_map);
    for (size_t i = 0; i < in->n; i++) {
        uint32_t c = in->v[i];
        if (c == 0x3000) {
            cb_push(out, ' ');
        } else if (c >= 0xFF01 && c <= 0xFFEF && width_map[c - 0xFF01].n) {
            cb_append(out, width_map[c - 0xFF01].to, width_map[c - 0xFF01].n);
        } else {
            cb_push(out, c);
        }
    }
}

static void uncurl_quotes(const cpbuf *in, cpbuf *out)
{
    for (size_t i = 0; i < in->n; i++) {
        uint32_t c = in->v[i];
        if (c == 0x02BC || (c >= 0x2018 && c <= 0x201B)) c = '\'';
        else if (c >= 0x201C && c <= 0x201F) c = '"';
        cb_push(out, c);
    }
}

static void fix_line_breaks(const cpbuf *in, cpbuf *out)
{
    for (size_t i = 0; i < in->n; i++) {
        uint32_t c = in->v[i];
        if (c == '\r' && i + 1 < in->n && in->v[i + 1] == '\n') {
            cb_push(out, '\n');
            i++;
        } else if (c == '\r' || c == 0x2028 || c == 0x2029 || c == 0x85) {
            cb_push(out, '\n');
        } else {
            cb_push(out, c);
        }
    }
}

/* Python re `\d` on str: any Nd digit. */
static bool is_unicode_digit(uint32_t c)
{
    return c < 0x80 ? is_ascii_digit(c) : utf8proc_category((utf8proc_int32_t)c) == UTF8PROC_CATEGORY_ND;
}

/* ANSI_RE = "\033\[((?:\d|;)*)([a-zA-Z])" removed. */
static void remove_terminal_escapes(const cpbuf *in, cpbuf *out)
{
    for (size_t i = 0; i < in->n; i++) {
        if (in->v[i] == 0x1B && i + 1 < in->n && in->v[i + 1] == '[') {
            size_t k = i + 2;
            while (k < in->n && (in->v[k] == ';' || is_unicode_digit(in->v[k]))) k++;
            uint32_t c = k < in->n ? in->v[k] : 0;
            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
                i = k;
                continue;
            }
        }
        cb_push(out, in->v[i]);
    }
}

static void remove_control_chars(const cpbuf *in, cpbuf *out)
{
    for (size_t i = 0; i < in->n; i++) {
        uint32_t c = in->v[i];
        if (c <= 0x08 || c == 0x0B || (c >= 0x0E && c <= 0x1F) || c == 0x7F || (c >= 0x206A && c <= 0x206F) ||
            c == 0xFEFF || (c >= 0xFFF9 && c <= 0xFFFC))
            continue;
        cb_push(out, c);
    }
}

/* Unicode NFC (utf8proc). Pure ASCII is already NFC. */
static void nfc(const cpbuf *in, cpbuf *out)
{
    bool ascii = true;
    for (size_t i = 0; i < in->n && ascii; i++) ascii = in->v[i] < 0x80;
    if (ascii) {
        cb_append(out, in->v, in->n);
        return;
    }
    size_t cap;
    if (!vc_mul_size(in->n, 4, &cap)) {
        out->oom = true;
        return;
    }
    unsigned char *u = malloc(cap + 1);
    if (!u) {
        out->oom = true;
        return;
    }
    size_t m = 0;
    for (size_t i = 0; i < in->n; i++) m += utf8_put(in->v[i], u + m);
    utf8proc_uint8_t *dst = NULL;
    utf8proc_ssize_t r = utf8proc_map(u, (utf8proc_ssize_t)m, &dst, UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    free(u);
    if (r < 0 || !dst) {
        /* only UTF8PROC_ERROR_NOMEM can happen on valid input */
        out->oom = true;
        free(dst);
        return;
    }
    if (utf8_decode(dst, (size_t)r, out) != (size_t)r) out->oom = true;
    free(dst);
}

/* Passes of ftfy's fix-until-unchanged loop per segment. Real text settles in
 * two or three; only entity chains nested deeper than this ("&amp;amp;...")
 * need more, and they would cost O(depth x length). Such a segment is used as
 * it is after the last pass (docs/tokenizer.md). */
#define FTFY_MAX_PASSES 64

/* One segment through ftfy's fix_and_explain loop (spec §2.1 step 1). */
static void ftfy_segment(cpbuf *seg, bool unescape, cpbuf *a, cpbuf *b)
{
    for (int pass = 0; pass < FTFY_MAX_PASSES && !seg->oom; pass++) {
        a->n = 0;
        cb_append(a, seg->v, seg->n); /* origtext */
        cpbuf *cur = b;
        cur->n = 0;
        if (unescape) {
            ftfy_unescape_html(seg->v, seg->n, cur);
            cb_swap(seg, cur);
        }
        /* step 1.2: ftfy's fix_encoding (ftfy_encoding.c) */
        uint32_t *fx = NULL;
        size_t fn = 0;
        if (!vc_ftfy_fix_encoding(seg->v, seg->n, &fx, &fn)) {
            seg->oom = true;
        } else {
            seg->n = 0;
            cb_append(seg, fx, fn);
            free(fx);
        }
        cur->n = 0;
        fix_c1_controls(seg, cur); cb_swap(seg, cur);
        fix_latin_ligatures(seg, cur); cb_swap(seg, cur);
        fix_character_width(seg, cur); cb_swap(seg, cur);
        uncurl_quotes(seg, cur); cb_swap(seg, cur);
        fix_line_breaks(seg, cur); cb_swap(seg, cur);
        /* fix_surrogates: valid UTF-8 input and our decoders never yield surrogates */
        remove_terminal_escapes(seg, cur); cb_swap(seg, cur);
        remove_control_chars(seg, cur); cb_swap(seg, cur);
        nfc(seg, cur); cb_swap(seg, cur);
        if (seg->oom || a->oom || cp_equal(seg, a)) break;
    }
}

/* ftfy.fix_text: segments end after each '\n'; HTML unescaping ("auto") stays
 * off from the first segment containing '<' on (spec §2.1 step 1.1). */
static void ftfy_fix_text(const cpbuf *in, cpbuf *out)
{
    cpbuf seg = {0}, a = {0}, b = {0};
    bool unescape = true;
    size_t pos = 0;
    while (pos < in->n && !out->oom) {
        size_t end = pos;
        while (end < in->n && in->v[end] != '\n') end++;
        if (end < in->n) end++;
        seg.n = 0;
        cb_append(&seg, in->v + pos, end - pos);
        for (size_t i = pos; i < end && unescape; i++) unescape = in->v[i] != '<';
        ftfy_segment(&seg, unescape, &a, &b);
        cb_append(out, seg.v, seg.n);
        if (seg.oom || a.oom || b.oom) out->oom = true;
        pos = end;
    }
    cb_free(&seg);
    cb_free(&a);
    cb_free(&b);
}

/* ------------------------------------------------------------ lower() */

static bool case_ignorable(uint32_t c)
{
    return in_ranges(vc_case_ignorable, N_ELEMS(vc_case_ignorable), c);
}
static bool cased_not_ignorable(uint32_t c)
{
    return in_ranges(vc_cased_not_ignorable, N_ELEMS(vc_cased_not_ignorable), c);
}

/* CPython's str.lower(): full lowercase mapping (U+0130 -> "i\u0307" is the one
 * multi-character case) and the Final_Sigma rule for U+03A3. */
static void py_lower(const cpbuf *in, cpbuf *out)
{
    for (size_t i = 0; i < in->n; i++) {
        uint32_t c = in->v[i];
        if (c < 0x80) {
            cb_push(out, (c >= 'A' && c <= 'Z') ? c + 32 : c);
        } else if (c == 0x130) {
            cb_push(out, 'i');
            cb_push(out, 0x307);
        } else if (c == 0x3A3) {
            /* final if preceded by cased (skipping case-ignorable) and not
             * followed by cased (skipping case-ignorable) */
            size_t j = i;
            while (j > 0 && case_ignorable(in->v[j - 1])) j--;
            bool final = j > 0 && cased_not_ignorable(in->v[j - 1]);
            if (final) {
                size_t k = i + 1;
                while (k < in->n && case_ignorable(in->v[k])) k++;
                final = k == in->n || !cased_not_ignorable(in->v[k]);
            }
            cb_push(out, final ? 0x3C2 : 0x3C3);
        } else {
            cb_push(out, (uint32_t)utf8proc_tolower((utf8proc_int32_t)c));
        }
    }
}

/* -------------------------------------------------------------- driver */

static void py_strip(cpbuf *b)
{
    size_t s = 0, e = b->n;
    while (s < e && py_isspace(b->v[s])) s++;
    while (e > s && py_isspace(b->v[e - 1])) e--;
    if (s) memmove(b->v, b->v + s, (e - s) * sizeof *b->v);
    b->n = e - s;
}

vc_status vc_text_clean(vc_context *ctx, const char *utf8, size_t len, uint32_t **out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    cpbuf a = {0}, b = {0};
    size_t bad = utf8_decode((const unsigned char *)utf8, len, &a);
    if (bad != len && !a.oom) {
        cb_free(&a);
        return vc_fail(ctx, VC_STATUS_BAD_TEXT, "prompt is not valid UTF-8: bad byte 0x%02X at byte offset %zu",
                       (unsigned)(unsigned char)utf8[bad], bad);
    }
    /* 1. ftfy.fix_text */
    ftfy_fix_text(&a, &b);
    cb_swap(&a, &b);
    /* 2. html.unescape(html.unescape(text)).strip() */
    for (int k = 0; k < 2; k++) {
        html_unescape(a.v, a.n, &b);
        cb_swap(&a, &b);
    }
    py_strip(&a);
    /* 3. regex.sub(r'\s+', ' ', text).strip() */
    for (size_t i = 0; i < a.n; i++) {
        if (vc_text_is_space(a.v[i])) {
            while (i + 1 < a.n && vc_text_is_space(a.v[i + 1])) i++;
            cb_push(&b, ' ');
        } else {
            cb_push(&b, a.v[i]);
        }
    }
    cb_swap(&a, &b);
    py_strip(&a);
    /* 4. lower() */
    py_lower(&a, &b);
    cb_swap(&a, &b);
    bool oom = a.oom || b.oom;
    cb_free(&b);
    if (oom) {
        cb_free(&a);
        return vc_fail(ctx, VC_STATUS_OUT_OF_MEMORY, "out of memory cleaning a %zu-byte prompt", len);
    }
    *out = a.v;
    *n_out = a.n;
    return VC_STATUS_OK;
}
