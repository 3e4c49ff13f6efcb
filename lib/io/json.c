/* json.c - strict JSON (RFC 8259) reader: depth <= 64, input <= 256 MiB, UTF-8
 * validated, \u escapes (surrogate pairs) decoded to UTF-8. Never reads past len. */
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#define JSON_MAX_DEPTH 64
#define JSON_MAX_INPUT ((size_t)256 << 20)
#define JSON_MAX_NUMBER_CHARS 64

struct vc_json {
    vc_json_type type;
    bool b;
    bool is_int;          /* literal was an integer that fits int64 */
    int64_t i;
    double num;
    char *str;            /* strings: UTF-8, NUL-terminated */
    size_t n, cap;        /* array elements / object members */
    vc_json **items;
    char **keys;          /* objects only */
};

typedef struct parser {
    vc_context *ctx;
    const char *what;
    const unsigned char *s;
    size_t len, pos;
    vc_status st;
} parser;

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static void make_c_locale(void) { c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0); }

static vc_json *fail_at(parser *p, size_t at, const char *msg)
{
    if (p->st == VC_STATUS_OK)
        p->st = vc_fail(p->ctx, VC_STATUS_BAD_FORMAT, "%s: invalid JSON at byte %zu: %s", p->what, at, msg);
    return NULL;
}

static vc_json *oom(parser *p)
{
    if (p->st == VC_STATUS_OK)
        p->st = vc_fail(p->ctx, VC_STATUS_OUT_OF_MEMORY, "%s: out of memory parsing JSON", p->what);
    return NULL;
}

static void skip_ws(parser *p)
{
    while (p->pos < p->len) {
        unsigned char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->pos++;
    }
}

static vc_json *node(parser *p, vc_json_type t)
{
    vc_json *j = calloc(1, sizeof *j);
    if (!j) return oom(p);
    j->type = t;
    return j;
}

static bool push_item(parser *p, vc_json *parent, char *key, vc_json *item)
{
    if (parent->n == parent->cap) {
        size_t cap = parent->cap ? parent->cap * 2 : 4;
        vc_json **it = realloc(parent->items, cap * sizeof *it);
        if (!it) { oom(p); return false; }
        parent->items = it;
        if (parent->type == VC_JSON_OBJECT) {
            char **k = realloc(parent->keys, cap * sizeof *k);
            if (!k) { oom(p); return false; }
            parent->keys = k;
        }
        parent->cap = cap;
    }
    parent->items[parent->n] = item;
    if (parent->type == VC_JSON_OBJECT) parent->keys[parent->n] = key;
    parent->n++;
    return true;
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static bool read_hex4(parser *p, size_t at, unsigned *out)
{
    if (p->len - at < 4) { fail_at(p, at, "truncated \\u escape"); return false; }
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        int h = hexval(p->s[at + k]);
        if (h < 0) { fail_at(p, at + k, "bad hex digit in \\u escape"); return false; }
        v = v * 16 + (unsigned)h;
    }
    *out = v;
    return true;
}

/* Length of the valid UTF-8 sequence at s[0..avail), 0 if invalid (overlongs,
 * surrogates and code points above U+10FFFF are invalid). */
static size_t utf8_seq(const unsigned char *s, size_t avail)
{
    unsigned c = s[0];
    size_t n;
    unsigned cp, min;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) { n = 2; cp = c & 0x1F; min = 0x80; }
    else if (c >= 0xE0 && c <= 0xEF) { n = 3; cp = c & 0x0F; min = 0x800; }
    else if (c >= 0xF0 && c <= 0xF4) { n = 4; cp = c & 0x07; min = 0x10000; }
    else return 0;
    if (avail < n) return 0;
    for (size_t k = 1; k < n; k++) {
        if ((s[k] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[k] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return n;
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xC0 | (cp >> 6)); o[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12)); o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F)); return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18)); o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* p->pos at the opening quote. Returns a malloc'd NUL-terminated string. */
static char *parse_string(parser *p)
{
    size_t start = p->pos;
    p->pos++;
    /* First pass: find the end, so the output size is known (escapes only shrink). */
    size_t end = p->pos;
    while (end < p->len && p->s[end] != '"') {
        if (p->s[end] == '\\') end++;
        end++;
    }
    if (end >= p->len) { fail_at(p, start, "unterminated string"); return NULL; }
    char *out = malloc(end - p->pos + 1);
    if (!out) { oom(p); return NULL; }
    size_t o = 0;
    while (p->pos < end) {
        unsigned char c = p->s[p->pos];
        if (c < 0x20) { fail_at(p, p->pos, "control character in string"); goto bad; }
        if (c != '\\') {
            size_t n = utf8_seq(p->s + p->pos, end - p->pos);
            if (!n) { fail_at(p, p->pos, "invalid UTF-8 in string"); goto bad; }
            memcpy(out + o, p->s + p->pos, n);
            o += n;
            p->pos += n;
            continue;
        }
        size_t at = p->pos;
        unsigned char e = p->s[p->pos + 1];   /* exists: end scan skipped it */
        p->pos += 2;
        switch (e) {
        case '"': out[o++] = '"'; break;
        case '\\': out[o++] = '\\'; break;
        case '/': out[o++] = '/'; break;
        case 'b': out[o++] = '\b'; break;
        case 'f': out[o++] = '\f'; break;
        case 'n': out[o++] = '\n'; break;
        case 'r': out[o++] = '\r'; break;
        case 't': out[o++] = '\t'; break;
        case 'u': {
            unsigned cp;
            if (p->pos + 4 > end) { fail_at(p, at, "truncated \\u escape"); goto bad; }
            if (!read_hex4(p, p->pos, &cp)) goto bad;
            p->pos += 4;
            if (cp >= 0xDC00 && cp <= 0xDFFF) { fail_at(p, at, "unpaired low surrogate"); goto bad; }
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                unsigned lo;
                if (p->pos + 6 > end || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u') {
                    fail_at(p, at, "high surrogate not followed by a low surrogate");
                    goto bad;
                }
                if (!read_hex4(p, p->pos + 2, &lo)) goto bad;
                if (lo < 0xDC00 || lo > 0xDFFF) {
                    fail_at(p, at, "high surrogate not followed by a low surrogate");
                    goto bad;
                }
                p->pos += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            if (cp == 0) { fail_at(p, at, "\\u0000 is not supported (names are C strings)"); goto bad; }
            o += put_utf8(out + o, cp);   /* <= 6 input bytes per <= 4 output bytes */
            break;
        }
        default: fail_at(p, at, "invalid escape"); goto bad;
        }
    }
    out[o] = 0;
    p->pos = end + 1;
    return out;
bad:
    free(out);
    return NULL;
}

static vc_json *parse_number(parser *p)
{
    size_t start = p->pos, i = p->pos;
    bool integer = true;
    if (i < p->len && p->s[i] == '-') i++;
    if (i >= p->len) return fail_at(p, start, "truncated number");
    if (p->s[i] == '0') i++;
    else if (p->s[i] >= '1' && p->s[i] <= '9') while (i < p->len && p->s[i] >= '0' && p->s[i] <= '9') i++;
    else return fail_at(p, i, "invalid number");
    if (i < p->len && p->s[i] == '.') {
        integer = false;
        i++;
        if (i >= p->len || p->s[i] < '0' || p->s[i] > '9') return fail_at(p, i, "digit expected after '.'");
        while (i < p->len && p->s[i] >= '0' && p->s[i] <= '9') i++;
    }
    if (i < p->len && (p->s[i] == 'e' || p->s[i] == 'E')) {
        integer = false;
        i++;
        if (i < p->len && (p->s[i] == '+' || p->s[i] == '-')) i++;
        if (i >= p->len || p->s[i] < '0' || p->s[i] > '9') return fail_at(p, i, "digit expected in exponent");
        while (i < p->len && p->s[i] >= '0' && p->s[i] <= '9') i++;
    }
    if (i - start > JSON_MAX_NUMBER_CHARS) return fail_at(p, start, "number longer than 64 characters");
    char buf[JSON_MAX_NUMBER_CHARS + 1];
    memcpy(buf, p->s + start, i - start);
    buf[i - start] = 0;
    vc_json *j = node(p, VC_JSON_NUMBER);
    if (!j) return NULL;
    pthread_once(&c_locale_once, make_c_locale);
    j->num = c_locale ? strtod_l(buf, NULL, c_locale) : strtod(buf, NULL);
    if (integer) {
        /* exact int64 if it fits */
        const char *d = buf;
        bool neg = *d == '-';
        if (neg) d++;
        uint64_t v = 0;
        bool fits = true;
        for (; *d; d++) {
            if (v > (UINT64_MAX - (uint64_t)(*d - '0')) / 10) { fits = false; break; }
            v = v * 10 + (uint64_t)(*d - '0');
        }
        if (fits && (neg ? v <= (uint64_t)INT64_MAX + 1 : v <= (uint64_t)INT64_MAX)) {
            j->is_int = true;
            j->i = neg ? (int64_t)(0 - v) : (int64_t)v;
        }
    }
    p->pos = i;
    return j;
}

static vc_json *parse_value(parser *p, int depth);

static vc_json *parse_container(parser *p, int depth, bool object)
{
    size_t start = p->pos;
    if (depth >= JSON_MAX_DEPTH) return fail_at(p, start, "nesting deeper than 64 levels");
    vc_json *j = node(p, object ? VC_JSON_OBJECT : VC_JSON_ARRAY);
    if (!j) return NULL;
    char close = object ? '}' : ']';
    p->pos++;
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == (unsigned char)close) { p->pos++; return j; }
    for (;;) {
        char *key = NULL;
        skip_ws(p);
        if (object) {
            if (p->pos >= p->len || p->s[p->pos] != '"') { fail_at(p, p->pos, "object key (string) expected"); goto bad; }
            key = parse_string(p);
            if (!key) goto bad;
            skip_ws(p);
            if (p->pos >= p->len || p->s[p->pos] != ':') { free(key); fail_at(p, p->pos, "':' expected"); goto bad; }
            p->pos++;
        }
        vc_json *v = parse_value(p, depth + 1);
        if (!v) { free(key); goto bad; }
        if (!push_item(p, j, key, v)) { free(key); vc_json_free(v); goto bad; }
        skip_ws(p);
        if (p->pos >= p->len) { fail_at(p, start, object ? "unterminated object" : "unterminated array"); goto bad; }
        if (p->s[p->pos] == ',') { p->pos++; continue; }
        if (p->s[p->pos] == (unsigned char)close) { p->pos++; return j; }
        fail_at(p, p->pos, object ? "',' or '}' expected" : "',' or ']' expected");
        goto bad;
    }
bad:
    vc_json_free(j);
    return NULL;
}

static bool literal(parser *p, const char *word)
{
    size_t n = strlen(word);
    return p->len - p->pos >= n && memcmp(p->s + p->pos, word, n) == 0;
}

static vc_json *parse_value(parser *p, int depth)
{
    skip_ws(p);
    if (p->pos >= p->len) return fail_at(p, p->pos, "value expected, end of input found");
    unsigned char c = p->s[p->pos];
    vc_json *j;
    switch (c) {
    case '{': return parse_container(p, depth, true);
    case '[': return parse_container(p, depth, false);
    case '"': {
        char *s = parse_string(p);
        if (!s) return NULL;
        j = node(p, VC_JSON_STRING);
        if (!j) { free(s); return NULL; }
        j->str = s;
        return j;
    }
    case 't':
        if (!literal(p, "true")) break;
        p->pos += 4;
        j = node(p, VC_JSON_BOOL);
        if (j) j->b = true;
        return j;
    case 'f':
        if (!literal(p, "false")) break;
        p->pos += 5;
        return node(p, VC_JSON_BOOL);
    case 'n':
        if (!literal(p, "null")) break;
        p->pos += 4;
        return node(p, VC_JSON_NULL);
    default:
        if (c == '-' || (c >= '0' && c <= '9')) return parse_number(p);
        break;
    }
    return fail_at(p, p->pos, "invalid value");
}

vc_status vc_json_parse(vc_context *ctx, const char *what, const char *text, size_t len, vc_json **out)
{
    if (!out) return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "vc_json_parse: out is NULL");
    *out = NULL;
    if (!what) what = "JSON";
    if (!text && len) return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "%s: text is NULL", what);
    if (len > JSON_MAX_INPUT)
        return vc_fail(ctx, VC_STATUS_LIMIT_EXCEEDED, "%s: JSON text of %zu bytes exceeds the %zu byte limit",
                       what, len, JSON_MAX_INPUT);
    parser p = { ctx, what, (const unsigned char *)text, len, 0, VC_STATUS_OK };
    vc_json *j = parse_value(&p, 0);
    if (!j) return p.st != VC_STATUS_OK ? p.st : vc_fail(ctx, VC_STATUS_INTERNAL, "%s: JSON parse failed", what);
    skip_ws(&p);
    if (p.pos != len) {
        vc_json_free(j);
        fail_at(&p, p.pos, "trailing characters after the value");
        return p.st;
    }
    *out = j;
    return VC_STATUS_OK;
}

void vc_json_free(vc_json *j)
{
    if (!j) return;
    for (size_t i = 0; i < j->n; i++) {
        vc_json_free(j->items[i]);   /* depth <= 64: bounded recursion */
        if (j->keys) free(j->keys[i]);
    }
    free(j->items);
    free(j->keys);
    free(j->str);
    free(j);
}

vc_json_type vc_json_type_of(const vc_json *j) { return j ? j->type : VC_JSON_NULL; }

const vc_json *vc_json_get(const vc_json *j, const char *key)
{
    if (!j || j->type != VC_JSON_OBJECT || !key) return NULL;
    for (size_t i = 0; i < j->n; i++)
        if (strcmp(j->keys[i], key) == 0) return j->items[i];
    return NULL;
}

size_t vc_json_len(const vc_json *j)
{
    return j && (j->type == VC_JSON_ARRAY || j->type == VC_JSON_OBJECT) ? j->n : 0;
}

const vc_json *vc_json_at(const vc_json *j, size_t i)
{
    return j && (j->type == VC_JSON_ARRAY || j->type == VC_JSON_OBJECT) && i < j->n ? j->items[i] : NULL;
}

const char *vc_json_key_at(const vc_json *j, size_t i)
{
    return j && j->type == VC_JSON_OBJECT && i < j->n ? j->keys[i] : NULL;
}

double vc_json_number(const vc_json *j) { return j && j->type == VC_JSON_NUMBER ? j->num : 0; }

bool vc_json_is_integer(const vc_json *j, int64_t *value)
{
    if (!j || j->type != VC_JSON_NUMBER) return false;
    int64_t v;
    if (j->is_int) v = j->i;
    else if (isfinite(j->num) && j->num == floor(j->num) && fabs(j->num) <= 9007199254740992.0) v = (int64_t)j->num;
    else return false;   /* fractional, or a float too large to be exact */
    if (value) *value = v;
    return true;
}

const char *vc_json_string(const vc_json *j) { return j && j->type == VC_JSON_STRING ? j->str : NULL; }

bool vc_json_bool(const vc_json *j) { return j && j->type == VC_JSON_BOOL && j->b; }
