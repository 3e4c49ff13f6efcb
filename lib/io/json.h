/* json.h - a small, strict JSON reader (safetensors headers, open_clip configs,
 * test manifests). Depth and size limits; never reads past `len`. */
#ifndef VC_JSON_H
#define VC_JSON_H

#include "../core/internal.h"

typedef enum vc_json_type {
    VC_JSON_NULL = 0, VC_JSON_BOOL, VC_JSON_NUMBER, VC_JSON_STRING, VC_JSON_ARRAY, VC_JSON_OBJECT
} vc_json_type;

typedef struct vc_json vc_json;

/* Parses text[0..len); *out owned, free with vc_json_free. Errors name the byte offset. */
VC_HIDDEN vc_status vc_json_parse(vc_context *ctx, const char *what, const char *text, size_t len, vc_json **out);
VC_HIDDEN void vc_json_free(vc_json *j);
VC_HIDDEN vc_json_type vc_json_type_of(const vc_json *j);
/* Object member by key (first match), NULL if absent or j is not an object. */
VC_HIDDEN const vc_json *vc_json_get(const vc_json *j, const char *key);
/* Elements of an array / members of an object. */
VC_HIDDEN size_t vc_json_len(const vc_json *j);
VC_HIDDEN const vc_json *vc_json_at(const vc_json *j, size_t i);
VC_HIDDEN const char *vc_json_key_at(const vc_json *j, size_t i);   /* objects only */
VC_HIDDEN double vc_json_number(const vc_json *j);                  /* 0 if not a number */
VC_HIDDEN bool vc_json_is_integer(const vc_json *j, int64_t *value); /* exact integer value */
VC_HIDDEN const char *vc_json_string(const vc_json *j);             /* NULL if not a string; UTF-8, NUL-terminated */
VC_HIDDEN bool vc_json_bool(const vc_json *j);

#endif
