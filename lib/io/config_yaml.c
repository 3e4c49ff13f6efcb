/* config_yaml.c - the original inference_*.yaml schema (read with libyaml) and
 * open_clip_<arch>.json model configs (interface contract §2.2). Keys absent
 * from the YAML take the original constructors' defaults (spec §1.2), not the
 * presets. Unknown keys are logged at debug level and ignored; keys that
 * change the computation in a way the library does not implement are refused
 * with VC_STATUS_UNSUPPORTED naming the key. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#include "config.h"
#include "json.h"

#define YAML_MAX_BYTES (1u << 20)   /* the official files are ~2.5 KB */
#define YAML_MAX_DEPTH 32
#define YAML_MAX_NODES 100000
/* keys of one mapping (the schema's largest has ~40): bounds the duplicate-key
 * scan, which is quadratic in the keys of a mapping */
#define YAML_MAX_MAP_KEYS 256
#define OPENCLIP_JSON_MAX_BYTES (1u << 20)

/* ------------------------------------------------------------- YAML tree */

typedef enum { YN_SCALAR, YN_SEQ, YN_MAP } yn_type;

typedef struct ynode {
    yn_type type;
    int line;               /* 1-based */
    bool plain;             /* scalar written without quotes (can be a number/bool/null) */
    char *str;              /* scalar text */
    size_t n, cap;
    char **keys;            /* map keys */
    int *key_lines;
    bool *used;             /* map: key read by the schema */
    struct ynode **kids;    /* map values / sequence items */
} ynode;

typedef struct yreader {
    vc_context *ctx;
    const char *what;
    const char *dir;
    yaml_parser_t parser;
    size_t nodes;
} yreader;

static void ynode_free(ynode *n)
{
    if (!n) return;
    for (size_t i = 0; i < n->n; i++) {
        ynode_free(n->kids[i]);
        if (n->keys) free(n->keys[i]);
    }
    free(n->kids);
    free(n->keys);
    free(n->key_lines);
    free(n->used);
    free(n->str);
    free(n);
}

static vc_status yparse_error(yreader *r)
{
    yaml_parser_t *p = &r->parser;
    if (p->error == YAML_MEMORY_ERROR) return vc_fail(r->ctx, VC_STATUS_OUT_OF_MEMORY, "%s: out of memory reading YAML", r->what);
    const yaml_mark_t *m = p->problem ? &p->problem_mark : &p->context_mark;
    return vc_fail(r->ctx, VC_STATUS_BAD_FORMAT, "%s: malformed YAML at line %zu, column %zu: %s%s%s", r->what,
                   m->line + 1, m->column + 1, p->problem ? p->problem : "syntax error", p->context ? " " : "",
                   p->context ? p->context : "");
}

static vc_status next_event(yreader *r, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&r->parser, ev)) return yparse_error(r);
    return VC_STATUS_OK;
}

static vc_status ynode_new(yreader *r, yn_type type, int line, ynode **out)
{
    if (++r->nodes > YAML_MAX_NODES)
        return vc_fail(r->ctx, VC_STATUS_LIMIT_EXCEEDED, "%s: more than %d YAML nodes (line %d)", r->what,
                       YAML_MAX_NODES, line);
    ynode *n = calloc(1, sizeof *n);
    if (!n) return vc_fail(r->ctx, VC_STATUS_OUT_OF_MEMORY, "%s: out of memory", r->what);
    n->type = type;
    n->line = line;
    *out = n;
    return VC_STATUS_OK;
}

static bool ynode_push(ynode *n, char *key, int key_line, ynode *kid)
{
    if (n->n == n->cap) {
        size_t cap = n->cap ? n->cap * 2 : 8;
        ynode **k = realloc(n->kids, cap * sizeof *k);
        if (!k) return false;
        n->kids = k;
        if (n->type == YN_MAP) {
            char **ks = realloc(n->keys, cap * sizeof *ks);
            if (!ks) return false;
            n->keys = ks;
            int *kl = realloc(n->key_lines, cap * sizeof *kl);
            if (!kl) return false;
            n->key_lines = kl;
            bool *u = realloc(n->used, cap * sizeof *u);
            if (!u) return false;
            n->used = u;
        }
        n->cap = cap;
    }
    n->kids[n->n] = kid;
    if (n->type == YN_MAP) {
        n->keys[n->n] = key;
        n->key_lines[n->n] = key_line;
        n->used[n->n] = false;
    }
    n->n++;
    return true;
}

static char *dup_scalar(const yaml_event_t *ev)
{
    size_t len = ev->data.scalar.length;
    char *s = malloc(len + 1);
    if (!s) return NULL;
    memcpy(s, ev->data.scalar.value, len);
    s[len] = 0;
    return s;
}

/* Builds the node that starts with *ev (consumed); recursion bounded by YAML_MAX_DEPTH. */
static vc_status build_node(yreader *r, yaml_event_t *ev, int depth, ynode **out)
{
    *out = NULL;
    int line = (int)ev->start_mark.line + 1;
    if (depth > YAML_MAX_DEPTH) {
        yaml_event_delete(ev);
        return vc_fail(r->ctx, VC_STATUS_LIMIT_EXCEEDED, "%s: YAML nested deeper than %d levels (line %d)", r->what,
                       YAML_MAX_DEPTH, line);
    }
    vc_status st;
    ynode *n = NULL;
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        st = ynode_new(r, YN_SCALAR, line, &n);
        if (st == VC_STATUS_OK) {
            n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
            n->str = dup_scalar(ev);
            if (!n->str) st = vc_fail(r->ctx, VC_STATUS_OUT_OF_MEMORY, "%s: out of memory", r->what);
        }
        yaml_event_delete(ev);
        break;
    case YAML_ALIAS_EVENT:
        yaml_event_delete(ev);
        return vc_fail(r->ctx, VC_STATUS_UNSUPPORTED, "%s: YAML aliases (*name) are not supported (line %d)", r->what,
                       line);
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        bool map = ev->type == YAML_MAPPING_START_EVENT;
        yaml_event_delete(ev);
        st = ynode_new(r, map ? YN_MAP : YN_SEQ, line, &n);
        while (st == VC_STATUS_OK) {
            yaml_event_t e;
            st = next_event(r, &e);
            if (st != VC_STATUS_OK) break;
            if (e.type == (map ? YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT)) {
                yaml_event_delete(&e);
                break;
            }
            char *key = NULL;
            int kline = (int)e.start_mark.line + 1;
            if (map) {
                if (e.type != YAML_SCALAR_EVENT) {
                    yaml_event_delete(&e);
                    st = vc_fail(r->ctx, VC_STATUS_BAD_FORMAT, "%s: line %d: mapping keys must be plain scalars",
                                 r->what, kline);
                    break;
                }
                if (n->n >= YAML_MAX_MAP_KEYS) {
                    yaml_event_delete(&e);
                    st = vc_fail(r->ctx, VC_STATUS_LIMIT_EXCEEDED, "%s: line %d: more than %d keys in one mapping",
                                 r->what, kline, YAML_MAX_MAP_KEYS);
                    break;
                }
                key = dup_scalar(&e);
                yaml_event_delete(&e);
                if (!key) {
                    st = vc_fail(r->ctx, VC_STATUS_OUT_OF_MEMORY, "%s: out of memory", r->what);
                    break;
                }
                for (size_t i = 0; i < n->n; i++)
                    if (strcmp(n->keys[i], key) == 0) {
                        st = vc_fail(r->ctx, VC_STATUS_BAD_FORMAT, "%s: line %d: duplicate key '%.100s' (first at line %d)",
                                     r->what, kline, key, n->key_lines[i]);
                        break;
                    }
                if (st == VC_STATUS_OK) st = next_event(r, &e);
                if (st != VC_STATUS_OK) {
                    free(key);
                    break;
                }
            }
            ynode *kid;
            st = build_node(r, &e, depth + 1, &kid);
            if (st != VC_STATUS_OK) {
                free(key);
                break;
            }
            if (!ynode_push(n, key, kline, kid)) {
                free(key);
                ynode_free(kid);
                st = vc_fail(r->ctx, VC_STATUS_OUT_OF_MEMORY, "%s: out of memory", r->what);
            }
        }
        break;
    }
    default:
        yaml_event_delete(ev);
        return vc_fail(r->ctx, VC_STATUS_BAD_FORMAT, "%s: line %d: unexpected YAML structure", r->what, line);
    }
    if (st != VC_STATUS_OK) {
        ynode_free(n);
        return st;
    }
    *out = n;
    return VC_STATUS_OK;
}

static vc_status parse_tree(yreader *r, const char *text, size_t len, ynode **root)
{
    *root = NULL;
    if (!yaml_parser_initialize(&r->parser)) return vc_fail(r->ctx, VC_STATUS_OUT_OF_MEMORY, "%s: out of memory", r->what);
    yaml_parser_set_input_string(&r->parser, (const unsigned char *)text, len);
    vc_status st = VC_STATUS_OK;
    ynode *doc = NULL;
    int docs = 0;
    for (;;) {
        yaml_event_t ev;
        st = next_event(r, &ev);
        if (st != VC_STATUS_OK) break;
        yaml_event_type_t t = ev.type;
        int line = (int)ev.start_mark.line + 1;
        if (t == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        if (t == YAML_DOCUMENT_START_EVENT && ++docs > 1) {
            yaml_event_delete(&ev);
            st = vc_fail(r->ctx, VC_STATUS_BAD_FORMAT, "%s: line %d: more than one YAML document", r->what, line);
            break;
        }
        if (t == YAML_SCALAR_EVENT || t == YAML_SEQUENCE_START_EVENT || t == YAML_MAPPING_START_EVENT ||
            t == YAML_ALIAS_EVENT) {
            st = build_node(r, &ev, 0, &doc);
            if (st != VC_STATUS_OK) break;
            continue;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&r->parser);
    if (st != VC_STATUS_OK) {
        ynode_free(doc);
        return st;
    }
    if (!doc || doc->type != YN_MAP) {
        int line = doc ? doc->line : 1;
        ynode_free(doc);
        return vc_fail(r->ctx, VC_STATUS_BAD_FORMAT, "%s: line %d: the YAML top level must be a mapping with a 'model' key",
                       r->what, line);
    }
    *root = doc;
    return VC_STATUS_OK;
}

/* ---------------------------------------------------------- typed access */

static ynode *yget(ynode *map, const char *key)
{
    if (!map || map->type != YN_MAP) return NULL;
    for (size_t i = 0; i < map->n; i++)
        if (strcmp(map->keys[i], key) == 0) {
            map->used[i] = true;
            return map->kids[i];
        }
    return NULL;
}

static bool is_null(const ynode *n)
{
    if (!n || n->type != YN_SCALAR || !n->plain) return false;
    const char *s = n->str;
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
}

/* YAML 1.1 booleans as PyYAML (OmegaConf) resolves them */
static int parse_bool(const ynode *n)
{
    static const char *const t[] = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"};
    static const char *const f[] = {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"};
    if (!n || n->type != YN_SCALAR || !n->plain) return -1;
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        if (!strcmp(n->str, t[i])) return 1;
        if (!strcmp(n->str, f[i])) return 0;
    }
    return -1;
}

static vc_status bad(yreader *r, const ynode *n, const char *path, const char *key, const char *expect)
{
    return vc_fail(r->ctx, VC_STATUS_BAD_FORMAT, "%s: line %d: %s.%s must be %s", r->what, n ? n->line : 0, path, key,
                   expect);
}

static vc_status unsupported(yreader *r, const ynode *n, const char *path, const char *key, const char *why)
{
    return vc_fail(r->ctx, VC_STATUS_UNSUPPORTED, "%s: line %d: config key %s.%s = %.60s is not supported (%s)", r->what,
                   n ? n->line : 0, path, key, n && n->type == YN_SCALAR ? n->str : "(structure)", why);
}

static vc_status opt_bool(yreader *r, ynode *map, const char *path, const char *key, bool *v)
{
    ynode *n = yget(map, key);
    if (!n) return VC_STATUS_OK;
    if (is_null(n)) {
        *v = false; /* Python: None is falsy */
        return VC_STATUS_OK;
    }
    int b = parse_bool(n);
    if (b < 0) return bad(r, n, path, key, "true or false");
    *v = b != 0;
    return VC_STATUS_OK;
}

static bool parse_double(const ynode *n, double *out)
{
    if (!n || n->type != YN_SCALAR || !n->plain || !*n->str) return false;
    char *end;
    errno = 0;
    double v = strtod(n->str, &end);
    if (*end || errno || !isfinite(v)) return false;
    *out = v;
    return true;
}

static vc_status opt_num(yreader *r, ynode *map, const char *path, const char *key, double lo, double hi, double *v)
{
    ynode *n = yget(map, key);
    if (!n) return VC_STATUS_OK;
    double d;
    if (!parse_double(n, &d)) return bad(r, n, path, key, "a number");
    if (d < lo || d > hi) {
        char e[96];
        snprintf(e, sizeof e, "in [%g, %g]", lo, hi);
        return bad(r, n, path, key, e);
    }
    *v = d;
    return VC_STATUS_OK;
}

static bool parse_int(const ynode *n, int64_t *out)
{
    if (!n || n->type != YN_SCALAR || !n->plain || !*n->str) return false;
    const char *s = n->str;
    if (*s == '+' || *s == '-') s++;
    if (!*s) return false;
    for (const char *c = s; *c; c++)
        if (*c < '0' || *c > '9') return false;
    char *end;
    errno = 0;
    long long v = strtoll(n->str, &end, 10);
    if (*end || errno) return false;
    *out = v;
    return true;
}

static vc_status get_int_node(yreader *r, const ynode *n, const char *path, const char *key, int64_t lo, int64_t hi,
                              int32_t *v)
{
    int64_t x;
    if (!parse_int(n, &x)) return bad(r, n, path, key, "an integer");
    if (x < lo || x > hi) {
        char e[96];
        snprintf(e, sizeof e, "in [%lld, %lld]", (long long)lo, (long long)hi);
        return bad(r, n, path, key, e);
    }
    *v = (int32_t)x;
    return VC_STATUS_OK;
}

/* *present (optional) tells whether a non-null value was given */
static vc_status opt_int(yreader *r, ynode *map, const char *path, const char *key, int64_t lo, int64_t hi, int32_t *v,
                         bool *present)
{
    ynode *n = yget(map, key);
    if (present) *present = false;
    if (!n || (present && is_null(n))) return VC_STATUS_OK;
    vc_status st = get_int_node(r, n, path, key, lo, hi, v);
    if (st == VC_STATUS_OK && present) *present = true;
    return st;
}

static vc_status req_int(yreader *r, ynode *map, const char *path, const char *key, int64_t lo, int64_t hi, int32_t *v)
{
    ynode *n = yget(map, key);
    if (!n || is_null(n))
        return vc_fail(r->ctx, VC_STATUS_BAD_FORMAT, "%s: line %d: %s.%s is required", r->what, map->line, path, key);
    return get_int_node(r, n, path, key, lo, hi, v);
}

/* string value or NULL when absent/null; numbers and bools come back as their text */
static vc_status opt_str(yreader *r, ynode *map, const char *path, const char *key, const char **v, ynode **node)
{
    ynode *n = yget(map, key);
    if (node) *node = n;
    if (!n) return VC_STATUS_OK;
    if (is_null(n)) {
        *v = NULL;
        return VC_STATUS_OK;
    }
    if (n->type != YN_SCALAR) return bad(r, n, path, key, "a string");
    *v = n->str;
    return VC_STATUS_OK;
}

static vc_status int_list(yreader *r, ynode *n, const char *path, const char *key, int max, int64_t lo, int64_t hi,
                          int32_t *arr, int *count)
{
    if (n->type == YN_SCALAR) { /* a single value stands for a one-element list */
        *count = 1;
        return get_int_node(r, n, path, key, lo, hi, &arr[0]);
    }
    if (n->type != YN_SEQ) return bad(r, n, path, key, "a list of integers");
    if (n->n > (size_t)max) {
        char e[64];
        snprintf(e, sizeof e, "a list of at most %d integers", max);
        return bad(r, n, path, key, e);
    }
    for (size_t i = 0; i < n->n; i++) {
        vc_status st = get_int_node(r, n->kids[i], path, key, lo, hi, &arr[i]);
        if (st != VC_STATUS_OK) return st;
    }
    *count = (int)n->n;
    return VC_STATUS_OK;
}

static vc_status req_map(yreader *r, ynode *map, const char *path, const char *key, ynode **out)
{
    ynode *n = yget(map, key);
    if (!n)
        return vc_fail(r->ctx, VC_STATUS_BAD_FORMAT, "%s: line %d: %s.%s is required (a mapping)", r->what, map->line,
                       path, key);
    if (n->type != YN_MAP)
        return vc_fail(r->ctx, VC_STATUS_BAD_FORMAT, "%s: line %d: %s.%s must be a mapping", r->what, n->line, path,
                       key);
    *out = n;
    return VC_STATUS_OK;
}

/* A flag whose non-default value the library does not implement. */
static vc_status flag_must_be(yreader *r, ynode *map, const char *path, const char *key, bool supported, const char *why)
{
    bool v = supported;
    vc_status st = opt_bool(r, map, path, key, &v);
    if (st != VC_STATUS_OK) return st;
    if (v != supported) return unsupported(r, yget(map, key), path, key, why);
    return VC_STATUS_OK;
}

/* A string key that must have one value (or be absent). */
static vc_status str_must_be(yreader *r, ynode *map, const char *path, const char *key, const char *supported,
                             bool null_ok, const char *why)
{
    const char *v = supported;
    ynode *n;
    vc_status st = opt_str(r, map, path, key, &v, &n);
    if (st != VC_STATUS_OK) return st;
    if (n && !v && null_ok) return VC_STATUS_OK;
    if (n && (!v || strcmp(v, supported) != 0)) return unsupported(r, n, path, key, why);
    return VC_STATUS_OK;
}

static void accept_keys(ynode *map, const char *const *keys)
{
    for (; *keys; keys++) yget(map, *keys);
}

/* Unknown keys: ignored with a debug line (contract §2.2 step 1). */
static void log_unknown(yreader *r, const ynode *map, const char *path)
{
    for (size_t i = 0; i < map->n; i++)
        if (!map->used[i])
            vc_log(r->ctx, VC_LOG_DEBUG, "%s: line %d: ignoring unknown config key %s.%s", r->what, map->key_lines[i],
                   path, map->keys[i]);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0 && (a == b || s[a - b - 1] == '.');
}

static vc_status req_target(yreader *r, ynode *map, const char *path, const char *const *classes, const char **which)
{
    const char *t = NULL;
    ynode *n;
    vc_status st = opt_str(r, map, path, "target", &t, &n);
    if (st != VC_STATUS_OK) return st;
    if (!t) return vc_fail(r->ctx, VC_STATUS_BAD_FORMAT, "%s: line %d: %s.target is required", r->what, map->line, path);
    for (; *classes; classes++)
        if (ends_with(t, *classes)) {
            if (which) *which = *classes;
            return VC_STATUS_OK;
        }
    return unsupported(r, n, path, "target", "class not implemented");
}

#define TRY(x)                                                                                                         \
    do {                                                                                                               \
        vc_status st_ = (x);                                                                                           \
        if (st_ != VC_STATUS_OK) return st_;                                                                           \
    } while (0)

/* ---------------------------------------------------- open_clip configs */

static bool jint(const vc_json *obj, const char *key, int64_t lo, int64_t hi, int32_t *v, bool *bad_value)
{
    const vc_json *j = vc_json_get(obj, key);
    if (!j || vc_json_type_of(j) == VC_JSON_NULL) return false;
    int64_t x;
    if (!vc_json_is_integer(j, &x) || x < lo || x > hi) {
        *bad_value = true;
        return false;
    }
    *v = (int32_t)x;
    return true;
}

static bool jtrue(const vc_json *obj, const char *key)
{
    const vc_json *j = vc_json_get(obj, key);
    return j && vc_json_type_of(j) == VC_JSON_BOOL && vc_json_bool(j);
}

static bool jpresent(const vc_json *obj, const char *key)
{
    const vc_json *j = vc_json_get(obj, key);
    return j && vc_json_type_of(j) != VC_JSON_NULL;
}

static bool safe_arch(const char *a)
{
    size_t n = strlen(a);
    if (!n || n > 48 || a[0] == '.') return false;
    for (const char *c = a; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '-' ||
              *c == '_' || *c == '.' || *c == '@'))
            return false;
    return true;
}

static vc_status read_file_capped(vc_context *ctx, const char *path, size_t cap, char **out, size_t *len)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return vc_fail(ctx, VC_STATUS_IO_ERROR, "cannot open %s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return vc_fail(ctx, VC_STATUS_IO_ERROR, "%s is not a regular file", path);
    }
    if ((uint64_t)sb.st_size > cap) {
        fclose(f);
        return vc_fail(ctx, VC_STATUS_LIMIT_EXCEEDED, "%s is %lld bytes; the limit for a config file is %zu", path,
                       (long long)sb.st_size, cap);
    }
    size_t n = (size_t)sb.st_size;
    char *buf = malloc(n + 1);
    if (!buf) {
        fclose(f);
        return vc_fail(ctx, VC_STATUS_OUT_OF_MEMORY, "out of memory reading %s", path);
    }
    size_t got = fread(buf, 1, n, f);
    bool err = ferror(f) != 0;
    fclose(f);
    if (got != n || err) {
        free(buf);
        return vc_fail(ctx, VC_STATUS_IO_ERROR, "cannot read %s", path);
    }
    buf[n] = 0;
    *out = buf;
    *len = n;
    return VC_STATUS_OK;
}

/* Sizes of open_clip arch `arch`: ViT-H-14 built in, else open_clip_<arch>.json
 * beside the YAML (contract §2.2 step 3; open_clip 2.22 defaults: text heads 8,
 * vision head_width 64, mlp_ratio 4). */
static vc_status load_arch(yreader *r, const ynode *where, const char *arch, vc_clip_text_config *t,
                           vc_clip_vision_config *v)
{
    if (strcmp(arch, "ViT-H-14") == 0) {
        vc_model_config p;
        vc_config_preset(VC_VARIANT_I2V_512_V1, &p);
        int32_t used = t->layers_used;
        *t = p.text;
        t->layers_used = used;
        *v = p.vision;
        return VC_STATUS_OK;
    }
    int line = where ? where->line : 0;
    if (!safe_arch(arch))
        return vc_fail(r->ctx, VC_STATUS_BAD_FORMAT, "%s: line %d: open_clip arch name '%.60s' is not a plain file name",
                       r->what, line, arch);
    if (!r->dir)
        return vc_fail(r->ctx, VC_STATUS_UNSUPPORTED,
                       "%s: line %d: open_clip arch '%s' is not built in and there is no folder to read "
                       "open_clip_%s.json from", r->what, line, arch, arch);
    char path[4096];
    int pn = snprintf(path, sizeof path, "%s/open_clip_%s.json", r->dir, arch);
    if (pn < 0 || (size_t)pn >= sizeof path)
        return vc_fail(r->ctx, VC_STATUS_LIMIT_EXCEEDED, "%s: path of open_clip_%s.json is too long", r->what, arch);
    char *text;
    size_t len;
    vc_status st = read_file_capped(r->ctx, path, OPENCLIP_JSON_MAX_BYTES, &text, &len);
    if (st != VC_STATUS_OK) return st;
    vc_json *j = NULL;
    st = vc_json_parse(r->ctx, path, text, len, &j);
    free(text);
    if (st != VC_STATUS_OK) return st;
    const vc_json *tc = vc_json_get(j, "text_cfg"), *vcfg = vc_json_get(j, "vision_cfg");
    bool badv = false;
    int32_t embed = 0;
    const char *why = NULL;
    if (!jint(j, "embed_dim", 1, 1 << 16, &embed, &badv)) why = "embed_dim (a positive integer) is required";
    else if (!tc || vc_json_type_of(tc) != VC_JSON_OBJECT) why = "text_cfg (an object) is required";
    else if (!vcfg || vc_json_type_of(vcfg) != VC_JSON_OBJECT) why = "vision_cfg (an object) is required";
    if (why) {
        vc_json_free(j);
        return vc_fail(r->ctx, VC_STATUS_BAD_FORMAT, "%s: %s", path, why);
    }
    /* options that change the architecture or the maths */
    const char *unsup = NULL;
    if (jtrue(j, "quick_gelu")) unsup = "quick_gelu true";
    else if (jtrue(j, "custom_text")) unsup = "custom_text true";
    else if (jpresent(tc, "hf_model_name")) unsup = "text_cfg.hf_model_name";
    else if (jpresent(tc, "ls_init_value")) unsup = "text_cfg.ls_init_value";
    else if (jtrue(tc, "embed_cls")) unsup = "text_cfg.embed_cls true";
    else if (jtrue(tc, "proj_bias")) unsup = "text_cfg.proj_bias true";
    else if (jtrue(tc, "no_causal_mask")) unsup = "text_cfg.no_causal_mask true";
    else if (jpresent(vcfg, "timm_model_name")) unsup = "vision_cfg.timm_model_name";
    else if (jpresent(vcfg, "ls_init_value")) unsup = "vision_cfg.ls_init_value";
    else if (jtrue(vcfg, "attentional_pool")) unsup = "vision_cfg.attentional_pool true";
    else if (jtrue(vcfg, "no_ln_pre")) unsup = "vision_cfg.no_ln_pre true";
    else if (jtrue(vcfg, "input_patchnorm")) unsup = "vision_cfg.input_patchnorm true";
    if (unsup) {
        vc_json_free(j);
        return vc_fail(r->ctx, VC_STATUS_UNSUPPORTED, "%s: %s is not supported", path, unsup);
    }
    vc_clip_text_config nt = {0};
    nt.width = 512;
    nt.heads = 8;
    nt.layers = 12;
    nt.vocab_size = 49408;
    nt.context_length = 77;
    jint(tc, "width", 1, 1 << 16, &nt.width, &badv);
    jint(tc, "heads", 1, 1 << 12, &nt.heads, &badv);
    jint(tc, "layers", 1, 1024, &nt.layers, &badv);
    jint(tc, "vocab_size", 1, 1 << 24, &nt.vocab_size, &badv);
    jint(tc, "context_length", 1, 1 << 16, &nt.context_length, &badv);
    vc_clip_vision_config nv = {0};
    nv.width = 768;
    nv.head_width = 64;
    nv.layers = 12;
    nv.patch_size = 16;
    nv.image_size = 224;
    jint(vcfg, "width", 1, 1 << 16, &nv.width, &badv);
    jint(vcfg, "head_width", 1, 1 << 12, &nv.head_width, &badv);
    jint(vcfg, "layers", 1, 1024, &nv.layers, &badv);
    jint(vcfg, "patch_size", 1, 1024, &nv.patch_size, &badv);
    jint(vcfg, "image_size", 1, 1 << 14, &nv.image_size, &badv);
    double tmr = 4.0, vmr = 4.0;
    const vc_json *m;
    if ((m = vc_json_get(tc, "mlp_ratio")) && vc_json_type_of(m) == VC_JSON_NUMBER) tmr = vc_json_number(m);
    if ((m = vc_json_get(vcfg, "mlp_ratio")) && vc_json_type_of(m) == VC_JSON_NUMBER) vmr = vc_json_number(m);
    vc_json_free(j);
    if (badv || !(tmr > 0 && tmr <= 64) || !(vmr > 0 && vmr <= 64))
        return vc_fail(r->ctx, VC_STATUS_BAD_FORMAT, "%s: a size in text_cfg/vision_cfg is not a positive integer in range",
                       path);
    if (nt.width % nt.heads)
        return vc_fail(r->ctx, VC_STATUS_BAD_FORMAT, "%s: text width %d is not divisible by heads %d", path, nt.width,
                       nt.heads);
    if (nv.width % nv.head_width)
        return vc_fail(r->ctx, VC_STATUS_BAD_FORMAT, "%s: vision width %d is not divisible by head_width %d", path,
                       nv.width, nv.head_width);
    if (nv.image_size % nv.patch_size)
        return vc_fail(r->ctx, VC_STATUS_BAD_FORMAT, "%s: vision image_size %d is not a multiple of patch_size %d", path,
                       nv.image_size, nv.patch_size);
    nt.mlp_width = (int32_t)(nt.width * tmr); /* int(width * mlp_ratio) as open_clip */
    nt.embed_dim = embed;
    nt.layers_used = t->layers_used;
    nv.heads = nv.width / nv.head_width;
    nv.mlp_width = (int32_t)(nv.width * vmr);
    int32_t g = nv.image_size / nv.patch_size;
    nv.n_tokens = g * g + 1;
    nv.embed_dim = embed;
    nv.text_width = nt.width;
    nv.text_vocab_size = nt.vocab_size;
    nv.text_context_length = nt.context_length;
    *t = nt;
    *v = nv;
    vc_log(r->ctx, VC_LOG_DEBUG, "open_clip arch %s from %s: text %dx%d (%d heads), vision %dx%d (head width %d)", arch,
           path, nt.layers, nt.width, nt.heads, nv.layers, nv.width, nv.head_width);
    return VC_STATUS_OK;
}

/* -------------------------------------------------------------- sections */

static vc_status read_unet(yreader *r, ynode *uc, vc_model_config *cfg)
{
    static const char *const classes[] = {"openaimodel3d.UNetModel", NULL};
    const char *path = "model.params.unet_config";
    TRY(req_target(r, uc, path, classes, NULL));
    ynode *p = NULL;
    TRY(req_map(r, uc, path, "params", &p));
    path = "model.params.unet_config.params";
    vc_unet_config *u = &cfg->unet;
    const int64_t MAXC = 1 << 16;
    TRY(req_int(r, p, path, "in_channels", 1, MAXC, &u->in_channels));
    TRY(req_int(r, p, path, "out_channels", 1, MAXC, &u->out_channels));
    TRY(req_int(r, p, path, "model_channels", 1, MAXC, &u->model_channels));
    TRY(req_int(r, p, path, "num_res_blocks", 1, 8, &u->num_res_blocks));
    ynode *ar = yget(p, "attention_resolutions");
    if (!ar) return vc_fail(r->ctx, VC_STATUS_BAD_FORMAT, "%s: line %d: %s.attention_resolutions is required", r->what, p->line, path);
    int32_t ds[64];
    int nds = 0;
    TRY(int_list(r, ar, path, "attention_resolutions", 64, 1, 1 << 30, ds, &nds));
    u->attention_ds_mask = 0;
    for (int i = 0; i < nds; i++)
        for (int l = 0; l < VC_MAX_LEVELS; l++)
            if (ds[i] == (1 << l)) u->attention_ds_mask |= 1u << l;
    ynode *cm = yget(p, "channel_mult");
    if (cm) TRY(int_list(r, cm, path, "channel_mult", VC_MAX_LEVELS, 1, 1024, u->channel_mult, &u->n_levels));
    if (u->n_levels < 1) return bad(r, cm, path, "channel_mult", "a non-empty list");
    int32_t nhc = -1, nh = -1;
    TRY(opt_int(r, p, path, "num_head_channels", -1, MAXC, &nhc, NULL));
    TRY(opt_int(r, p, path, "num_heads", -1, MAXC, &nh, NULL));
    if (nhc == 0 || nh == 0) return bad(r, yget(p, nhc == 0 ? "num_head_channels" : "num_heads"), path, nhc == 0 ? "num_head_channels" : "num_heads", "positive or -1");
    if (nhc == -1) {
        if (nh == -1)
            return vc_fail(r->ctx, VC_STATUS_BAD_FORMAT, "%s: line %d: %s needs num_head_channels (or num_heads)", r->what,
                           p->line, path);
        return unsupported(r, yget(p, "num_heads"), path, "num_heads",
                           "per-level head widths; give num_head_channels instead");
    }
    u->num_head_channels = nhc;
    TRY(opt_int(r, p, path, "transformer_depth", 1, 64, &u->transformer_depth, NULL));
    TRY(opt_int(r, p, path, "temporal_transformer_depth", 1, 64, &u->temporal_transformer_depth, NULL));
    bool have_ctx = false, have_tl = false;
    TRY(opt_int(r, p, path, "context_dim", 1, MAXC, &u->context_dim, &have_ctx));
    if (!have_ctx) return unsupported(r, yget(p, "context_dim"), path, "context_dim", "cross-attention needs a context_dim");
    TRY(opt_int(r, p, path, "temporal_length", 1, 4096, &u->temporal_length, &have_tl));
    TRY(opt_bool(r, p, path, "use_linear", &u->use_linear));
    TRY(opt_bool(r, p, path, "temporal_conv", &u->temporal_conv));
    TRY(opt_bool(r, p, path, "temporal_attention", &u->temporal_attention));
    TRY(opt_bool(r, p, path, "use_relative_position", &u->use_relative_position));
    TRY(opt_bool(r, p, path, "addition_attention", &u->addition_attention));
    TRY(opt_bool(r, p, path, "use_image_attention", &u->use_image_attention));
    TRY(opt_bool(r, p, path, "fps_cond", &u->fps_cond));
    /* keys whose other values change the computation in ways not implemented */
    TRY(flag_must_be(r, p, path, "temporal_selfatt_only", true, "temporal cross-attention"));
    TRY(flag_must_be(r, p, path, "use_causal_attention", false, "causal temporal attention"));
    TRY(flag_must_be(r, p, path, "tempspatial_aware", false, "3x3x3 temporal convolutions"));
    TRY(flag_must_be(r, p, path, "use_scale_shift_norm", false, "scale-shift ResBlock normalization"));
    TRY(flag_must_be(r, p, path, "resblock_updown", false, "ResBlock up/down-sampling"));
    TRY(flag_must_be(r, p, path, "use_fp16", false, "a float16 UNet; the original computes in float32"));
    TRY(flag_must_be(r, p, path, "conv_resample", true, "pooling/upsampling without convolutions"));
    int32_t dims = 2;
    TRY(opt_int(r, p, path, "dims", 1, 3, &dims, NULL));
    if (dims != 2) return unsupported(r, yget(p, "dims"), path, "dims", "only 2-D convolutions");
    u->temporal_selfatt_only = true;
    u->use_causal_attention = false;
    if (u->use_relative_position && !have_tl)
        return vc_fail(r->ctx, VC_STATUS_BAD_FORMAT,
                       "%s: line %d: %s.temporal_length is required with use_relative_position (the original asserts it)",
                       r->what, p->line, path);
    if (!have_tl) u->temporal_length = 16;
    u->init_attn_heads = 8; /* §5.8: hard-coded n_heads=8 */
    static const char *const noeffect[] = {"use_checkpoint", "dropout", "image_size", NULL};
    accept_keys(p, noeffect);
    log_unknown(r, p, path);
    log_unknown(r, uc, "model.params.unet_config");
    return VC_STATUS_OK;
}

static vc_status read_vae(yreader *r, ynode *fc, vc_model_config *cfg)
{
    static const char *const classes[] = {"AutoencoderKL", NULL};
    const char *path = "model.params.first_stage_config";
    TRY(req_target(r, fc, path, classes, NULL));
    ynode *p = NULL, *dd = NULL;
    TRY(req_map(r, fc, path, "params", &p));
    path = "model.params.first_stage_config.params";
    vc_vae_config *v = &cfg->vae;
    TRY(req_int(r, p, path, "embed_dim", 1, 1 << 12, &v->embed_dim));
    const char *cl = NULL;
    ynode *cn;
    TRY(opt_str(r, p, path, "colorize_nlabels", &cl, &cn));
    if (cn && cl) return unsupported(r, cn, path, "colorize_nlabels", "adds a colorize buffer");
    static const char *const noeffect[] = {"monitor", "lossconfig", "ckpt_path", "ignore_keys", "image_key", "input_dim",
                                           "test", "logdir", NULL};
    accept_keys(p, noeffect);
    TRY(req_map(r, p, path, "ddconfig", &dd));
    path = "model.params.first_stage_config.params.ddconfig";
    TRY(req_int(r, dd, path, "ch", 1, 1 << 14, &v->ch));
    TRY(req_int(r, dd, path, "out_ch", 1, 1 << 12, &v->out_ch));
    TRY(req_int(r, dd, path, "in_channels", 1, 1 << 12, &v->in_channels));
    TRY(req_int(r, dd, path, "z_channels", 1, 1 << 12, &v->z_channels));
    TRY(req_int(r, dd, path, "num_res_blocks", 0, 8, &v->num_res_blocks));
    ynode *cm = yget(dd, "ch_mult");
    if (cm) TRY(int_list(r, cm, path, "ch_mult", VC_MAX_LEVELS, 1, 1024, v->ch_mult, &v->n_levels));
    if (v->n_levels < 1) return bad(r, cm, path, "ch_mult", "a non-empty list");
    ynode *ar = yget(dd, "attn_resolutions");
    if (!ar) return vc_fail(r->ctx, VC_STATUS_BAD_FORMAT, "%s: line %d: %s.attn_resolutions is required", r->what, dd->line, path);
    if (!(ar->type == YN_SEQ && ar->n == 0) && !is_null(ar))
        return unsupported(r, ar, path, "attn_resolutions", "VAE attention outside the middle block");
    v->double_z = true;
    TRY(flag_must_be(r, dd, path, "double_z", true, "AutoencoderKL requires double_z"));
    TRY(flag_must_be(r, dd, path, "resamp_with_conv", true, "resampling without convolutions"));
    TRY(flag_must_be(r, dd, path, "give_pre_end", false, "decoder output before the head"));
    TRY(flag_must_be(r, dd, path, "tanh_out", false, "tanh on the decoder output"));
    TRY(flag_must_be(r, dd, path, "use_linear_attn", false, "linear attention"));
    TRY(str_must_be(r, dd, path, "attn_type", "vanilla", false, "only vanilla attention"));
    static const char *const ddnoeffect[] = {"resolution", "dropout", NULL};
    accept_keys(dd, ddnoeffect);
    log_unknown(r, dd, path);
    log_unknown(r, p, "model.params.first_stage_config.params");
    log_unknown(r, fc, "model.params.first_stage_config");
    return VC_STATUS_OK;
}

static vc_status read_text(yreader *r, ynode *cc, vc_model_config *cfg)
{
    static const char *const classes[] = {"FrozenOpenCLIPEmbedder", NULL};
    const char *path = "model.params.cond_stage_config";
    TRY(req_target(r, cc, path, classes, NULL));
    ynode *p = yget(cc, "params");
    path = "model.params.cond_stage_config.params";
    const char *arch = "ViT-H-14", *layer = "last"; /* FrozenOpenCLIPEmbedder defaults */
    ynode *an = NULL, *ln = NULL;
    if (p && p->type == YN_MAP) {
        TRY(opt_str(r, p, path, "arch", &arch, &an));
        if (!arch) arch = "ViT-H-14";
        TRY(opt_str(r, p, path, "layer", &layer, &ln));
        if (!layer) layer = "last";
        int32_t ml = 77;
        TRY(opt_int(r, p, path, "max_length", 1, 1 << 16, &ml, NULL));
        if (ml != VC_TEXT_CONTEXT_LENGTH) return unsupported(r, yget(p, "max_length"), path, "max_length", "the tokenizer makes 77 tokens");
        static const char *const noeffect[] = {"version", "freeze", "device", NULL};
        accept_keys(p, noeffect);
        log_unknown(r, p, path);
    } else if (p && !is_null(p)) return bad(r, p, "model.params.cond_stage_config", "params", "a mapping");
    log_unknown(r, cc, "model.params.cond_stage_config");
    vc_clip_vision_config unused;
    cfg->text.layers_used = 0;
    TRY(load_arch(r, an ? an : cc, arch, &cfg->text, &unused));
    snprintf(cfg->text_arch, sizeof cfg->text_arch, "%s", arch);
    if (strcmp(layer, "penultimate") == 0) cfg->text.layers_used = cfg->text.layers - 1;
    else if (strcmp(layer, "last") == 0) cfg->text.layers_used = cfg->text.layers;
    else return unsupported(r, ln, path, "layer", "only 'last' and 'penultimate'");
    return VC_STATUS_OK;
}

static vc_status read_image_embedder(yreader *r, ynode *ic, vc_model_config *cfg)
{
    static const char *const classes[] = {"FrozenOpenCLIPImageEmbedderV2", NULL};
    const char *path = "model.params.cond_img_config";
    TRY(req_target(r, ic, path, classes, NULL));
    ynode *p = yget(ic, "params");
    path = "model.params.cond_img_config.params";
    const char *arch = "ViT-H-14";
    ynode *an = NULL;
    if (p && p->type == YN_MAP) {
        TRY(opt_str(r, p, path, "arch", &arch, &an));
        if (!arch) arch = "ViT-H-14";
        TRY(flag_must_be(r, p, path, "antialias", true, "CLIP preprocessing without antialiasing"));
        /* V2 always returns the vision tower's tokens (§3.3): `layer` has no effect */
        static const char *const noeffect[] = {"version", "freeze", "device", "layer", NULL};
        accept_keys(p, noeffect);
        log_unknown(r, p, path);
    } else if (p && !is_null(p)) return bad(r, p, "model.params.cond_img_config", "params", "a mapping");
    log_unknown(r, ic, "model.params.cond_img_config");
    vc_clip_text_config unused = {0};
    TRY(load_arch(r, an ? an : ic, arch, &unused, &cfg->vision));
    snprintf(cfg->vision_arch, sizeof cfg->vision_arch, "%s", arch);
    return VC_STATUS_OK;
}

/* Sanity of the sizes a YAML gave (keeps later size arithmetic far from overflow). */
static vc_status validate(yreader *r, vc_model_config *cfg)
{
    const vc_unet_config *u = &cfg->unet;
    for (int l = 0; l < u->n_levels; l++) {
        int64_t w = (int64_t)u->model_channels * u->channel_mult[l];
        if (w > (1 << 16))
            return vc_fail(r->ctx, VC_STATUS_LIMIT_EXCEEDED, "%s: UNet level %d width %lld exceeds 65536", r->what, l,
                           (long long)w);
        if (w % u->num_head_channels)
            return vc_fail(r->ctx, VC_STATUS_UNSUPPORTED,
                           "%s: UNet level %d width %lld is not a multiple of num_head_channels %d", r->what, l,
                           (long long)w, u->num_head_channels);
        if (w % 32)
            return vc_fail(r->ctx, VC_STATUS_BAD_FORMAT, "%s: UNet level %d width %lld is not a multiple of 32 (GroupNorm groups)",
                           r->what, l, (long long)w);
    }
    for (int l = 0; l < cfg->vae.n_levels; l++)
        if (((int64_t)cfg->vae.ch * cfg->vae.ch_mult[l]) % 32 || (int64_t)cfg->vae.ch * cfg->vae.ch_mult[l] > (1 << 16))
            return vc_fail(r->ctx, VC_STATUS_BAD_FORMAT, "%s: VAE level %d width %lld is not a multiple of 32 (GroupNorm) "
                           "or exceeds 65536", r->what, l, (long long)cfg->vae.ch * cfg->vae.ch_mult[l]);
    if (cfg->mid_step < 1 || cfg->mid_step > cfg->timesteps)
        return vc_fail(r->ctx, VC_STATUS_BAD_FORMAT, "%s: mid_step %d must be in [1, timesteps %d]", r->what,
                       cfg->mid_step, cfg->timesteps);
    if (!(cfg->linear_start > 0 && cfg->linear_end > cfg->linear_start && cfg->linear_end < 1))
        return vc_fail(r->ctx, VC_STATUS_BAD_FORMAT, "%s: need 0 < linear_start %g < linear_end %g < 1", r->what,
                       cfg->linear_start, cfg->linear_end);
    if (cfg->text.context_length != VC_TEXT_CONTEXT_LENGTH)
        return vc_fail(r->ctx, VC_STATUS_UNSUPPORTED, "%s: CLIP text context_length %d (the tokenizer makes %d tokens)",
                       r->what, cfg->text.context_length, VC_TEXT_CONTEXT_LENGTH);
    if (cfg->text.layers_used < 1)
        return vc_fail(r->ctx, VC_STATUS_BAD_FORMAT, "%s: CLIP text runs %d layers", r->what, cfg->text.layers_used);
    if (cfg->image_conditioned && cfg->vision.image_size != 224)
        return vc_fail(r->ctx, VC_STATUS_UNSUPPORTED,
                       "%s: CLIP vision image_size %d (the original preprocessing resizes to 224x224)", r->what,
                       cfg->vision.image_size);
    if (u->use_image_attention && !cfg->image_conditioned)
        return vc_fail(r->ctx, VC_STATUS_UNSUPPORTED, "%s: use_image_attention needs the LatentVisualDiffusion target",
                       r->what);
    return VC_STATUS_OK;
}

static vc_status read_model(yreader *r, ynode *root, vc_model_config *cfg)
{
    ynode *model = NULL, *p = NULL;
    TRY(req_map(r, root, "(top)", "model", &model));
    static const char *const classes[] = {"LatentDiffusion", "LatentVisualDiffusion", NULL};
    const char *cls = NULL;
    TRY(req_target(r, model, "model", classes, &cls));
    TRY(req_map(r, model, "model", "params", &p));
    const char *path = "model.params";
    /* the original constructors' defaults (spec §1.2), not a preset */
    vc_config_preset(VC_VARIANT_T2V_512_V1, cfg);
    cfg->from_yaml = true;
    cfg->image_conditioned = strcmp(cls, "LatentVisualDiffusion") == 0;
    cfg->linear_start = 1e-4;
    cfg->linear_end = 2e-2;
    cfg->timesteps = 1000;
    cfg->scale_factor = 1.0;
    cfg->use_scale = false;
    cfg->scale_a = 1.0;
    cfg->scale_b = 0.3;
    cfg->mid_step = 400;
    cfg->fix_scale_bug = false;
    vc_unet_config *u = &cfg->unet;
    memset(u, 0, sizeof *u);
    u->n_levels = 4;
    u->channel_mult[0] = 1;
    u->channel_mult[1] = 2;
    u->channel_mult[2] = 4;
    u->channel_mult[3] = 8;
    u->transformer_depth = 1;
    u->temporal_transformer_depth = 1;
    u->temporal_attention = true;
    u->temporal_selfatt_only = true;
    u->use_relative_position = true; /* §1.2: true when absent */
    vc_vae_config *v = &cfg->vae;
    memset(v, 0, sizeof *v);
    v->n_levels = 4;
    v->ch_mult[0] = 1;
    v->ch_mult[1] = 2;
    v->ch_mult[2] = 4;
    v->ch_mult[3] = 8;
    TRY(opt_num(r, p, path, "linear_start", 0, 1, &cfg->linear_start));
    TRY(opt_num(r, p, path, "linear_end", 0, 1, &cfg->linear_end));
    TRY(opt_int(r, p, path, "timesteps", 1, 100000, &cfg->timesteps, NULL));
    TRY(opt_num(r, p, path, "scale_factor", 1e-6, 1e6, &cfg->scale_factor));
    TRY(opt_bool(r, p, path, "use_scale", &cfg->use_scale));
    TRY(opt_num(r, p, path, "scale_a", -1e6, 1e6, &cfg->scale_a));
    TRY(opt_num(r, p, path, "scale_b", -1e6, 1e6, &cfg->scale_b));
    TRY(opt_int(r, p, path, "mid_step", 1, 100000, &cfg->mid_step, NULL));
    TRY(opt_bool(r, p, path, "fix_scale_bug", &cfg->fix_scale_bug));
    TRY(opt_bool(r, p, path, "learn_logvar", &cfg->learn_logvar));
    TRY(str_must_be(r, p, path, "beta_schedule", "linear", false, "only the linear beta schedule"));
    TRY(str_must_be(r, p, path, "parameterization", "eps", false, "only eps prediction"));
    TRY(str_must_be(r, p, path, "conditioning_key", "crossattn", false, "only crossattn conditioning"));
    TRY(str_must_be(r, p, path, "uncond_type", "empty_seq", false, "only empty_seq unconditional text"));
    TRY(str_must_be(r, p, path, "encoder_type", "2d", false, "only the per-frame VAE"));
    TRY(flag_must_be(r, p, path, "scale_by_std", false, "a stored scale_factor buffer"));
    TRY(flag_must_be(r, p, path, "use_ema", false, "model_ema.* tensors"));
    TRY(flag_must_be(r, p, path, "use_positional_encodings", false, "positional encodings of the conditioning"));
    const char *gb = NULL, *csf = NULL;
    ynode *gbn, *csfn;
    TRY(opt_str(r, p, path, "given_betas", &gb, &gbn));
    if (gbn && !is_null(gbn)) return unsupported(r, gbn, path, "given_betas", "only the linear beta schedule");
    TRY(opt_str(r, p, path, "cond_stage_forward", &csf, &csfn));
    if (csfn && csf) return unsupported(r, csfn, path, "cond_stage_forward", "only the encoder's forward");
    if (cfg->image_conditioned) {
        bool fine = false;
        TRY(opt_bool(r, p, path, "finegrained", &fine));
        if (!fine)
            return unsupported(r, yget(p, "finegrained"), path, "finegrained",
                               "finegrained false selects ImageProjModel; only the Resampler is implemented");
    }
    static const char *const noeffect[] = {
        "num_timesteps_cond", "first_stage_key", "cond_stage_key", "cond_stage_trainable", "channels", "monitor",
        "log_every_t", "uncond_prob", "clip_denoised", "cosine_s", "v_posterior", "original_elbo_weight",
        "l_simple_weight", "loss_type", "ckpt_path", "ignore_keys", "load_only_unet", "logvar_init", "random_cond",
        "scheduler_config", "base_learning_rate", "empty_params_only", "finegrained", "image_size", NULL};
    accept_keys(p, noeffect);
    ynode *uc = NULL, *fc = NULL, *cc = NULL;
    TRY(req_map(r, p, path, "unet_config", &uc));
    TRY(read_unet(r, uc, cfg));
    TRY(req_map(r, p, path, "first_stage_config", &fc));
    TRY(read_vae(r, fc, cfg));
    TRY(req_map(r, p, path, "cond_stage_config", &cc));
    TRY(read_text(r, cc, cfg));
    if (cfg->image_conditioned) {
        ynode *ic = NULL;
        TRY(req_map(r, p, path, "cond_img_config", &ic));
        TRY(read_image_embedder(r, ic, cfg));
    }
    /* image_size (latent, informational) gives the default pixel size */
    cfg->variant = vc_config_variant_of(cfg);
    cfg->variant_id = vc_config_variant_id(cfg->variant);
    vc_model_config preset;
    vc_config_preset(cfg->variant, &preset);
    cfg->default_height = preset.default_height;
    cfg->default_width = preset.default_width;
    cfg->default_fps = preset.default_fps;
    cfg->default_frames = preset.default_frames;
    ynode *is = yget(p, "image_size");
    if (is && !is_null(is)) {
        int32_t hw[2];
        int nhw = 0;
        TRY(int_list(r, is, path, "image_size", 2, 1, 1 << 14, hw, &nhw));
        if (nhw == 1) hw[1] = hw[0];
        int32_t f = 1 << (cfg->vae.n_levels - 1);
        cfg->default_height = hw[0] * f;
        cfg->default_width = hw[1] * f;
    }
    if (!cfg->unet.fps_cond) cfg->default_fps = 0;
    cfg->unet.image_context_len = cfg->image_conditioned ? cfg->resampler.num_queries : 0;
    log_unknown(r, p, path);
    log_unknown(r, model, "model");
    log_unknown(r, root, "(top)");
    return validate(r, cfg);
}

vc_status vc_config_parse_yaml(vc_context *ctx, const char *what, const char *text, size_t len, const char *dir,
                               vc_model_config *cfg)
{
    if (!text || !cfg) return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "parse YAML: NULL argument");
    if (!what) what = "config";
    if (len > YAML_MAX_BYTES)
        return vc_fail(ctx, VC_STATUS_LIMIT_EXCEEDED, "%s: %zu bytes; the limit for a YAML config is %u", what, len,
                       YAML_MAX_BYTES);
    yreader r = {.ctx = ctx, .what = what, .dir = dir};
    ynode *root;
    vc_model_config tmp;
    vc_status st = parse_tree(&r, text, len, &root);
    if (st != VC_STATUS_OK) return st;
    st = read_model(&r, root, &tmp);
    ynode_free(root);
    if (st != VC_STATUS_OK) return st;
    *cfg = tmp;
    vc_log(ctx, VC_LOG_DEBUG, "%s: %s configuration (%s), UNet %d channels x %d levels, text arch %s", what,
           cfg->variant_id, cfg->image_conditioned ? "LatentVisualDiffusion" : "LatentDiffusion",
           cfg->unet.model_channels, cfg->unet.n_levels, cfg->text_arch);
    return VC_STATUS_OK;
}

vc_status vc_config_load_yaml(vc_context *ctx, const char *path, vc_model_config *cfg)
{
    if (!path || !cfg) return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "load YAML: NULL argument");
    char *text;
    size_t len;
    vc_status st = read_file_capped(ctx, path, YAML_MAX_BYTES, &text, &len);
    if (st != VC_STATUS_OK) return st;
    /* open_clip_<arch>.json lives in the YAML's folder (contract §2.2 step 3) */
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == path) snprintf(dir, sizeof dir, "/");
    else snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    st = vc_config_parse_yaml(ctx, path, text, len, dir, cfg);
    free(text);
    return st;
}
