/* fuzz_json.c - the strict JSON reader. */
#include "fuzz_common.h"

static void walk(const vc_json *j, int depth)
{
    if (depth > 65) abort();   /* the reader promises <= 64 nested containers */
    switch (vc_json_type_of(j)) {
    case VC_JSON_STRING: if (strlen(vc_json_string(j)) == (size_t)-1) abort(); break;
    case VC_JSON_NUMBER: { int64_t v; (void)vc_json_is_integer(j, &v); (void)vc_json_number(j); break; }
    case VC_JSON_ARRAY: case VC_JSON_OBJECT:
        for (size_t i = 0; i < vc_json_len(j); i++) {
            if (vc_json_type_of(j) == VC_JSON_OBJECT) {
                const char *k = vc_json_key_at(j, i);
                if (!k || vc_json_get(j, k) == NULL) abort();
            }
            walk(vc_json_at(j, i), depth + 1);
        }
        break;
    default: (void)vc_json_bool(j); break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vc_json *j = NULL;
    vc_status st = vc_json_parse(NULL, "fuzz", (const char *)data, size, &j);
    fuzz_check_failure(st);
    if (st == VC_STATUS_OK) walk(j, 1);
    else if (!strstr(vc_last_error(), "at byte") && st == VC_STATUS_BAD_FORMAT) abort();   /* offsets in errors */
    vc_json_free(j);
    return 0;
}
