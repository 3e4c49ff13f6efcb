/* make_seeds.c - writes the small seed corpora of test/fuzz/corpus/ with the
 * library's own writers (run by run.sh when a corpus folder is empty). */
#include <sys/stat.h>

#include "fuzz_common.h"

static const char *dir;

static void save(const char *target, const char *name, const void *d, size_t n)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, target);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/%s/%s", dir, target, name);
    FILE *f = fopen(p, "wb");
    if (!f || fwrite(d, 1, n, f) != n) { perror(p); exit(1); }
    fclose(f);
}

int main(int argc, char **argv)
{
    if (argc != 2) { fprintf(stderr, "usage: make_seeds CORPUS_DIR\n"); return 2; }
    dir = argv[1];
    mkdir(dir, 0755);
    float a[6] = { 1, -2, 3.5f, 65504, 1e-7f, 0 }, b[4] = { 0.25f, 0.5f, -1, 2 }, c[1] = { 7 };
    const int64_t sa[2] = { 2, 3 }, sb[1] = { 4 };
    vc_ckpt_tensor t[3] = { { "model.w", 2, sa, a }, { "first_stage_model.b", 1, sb, b }, { "s", 0, NULL, c } };
    const vc_dtype dts[3] = { VC_DTYPE_F32, VC_DTYPE_F16, VC_DTYPE_BF16 };
    const char *dn[3] = { "f32", "f16", "bf16" };
    const vc_ckpt_wrapper wr[4] = { VC_WRAPPER_NONE, VC_WRAPPER_STATE_DICT, VC_WRAPPER_LIGHTNING, VC_WRAPPER_DEEPSPEED };
    const char *wn[4] = { "bare", "state_dict", "lightning", "deepspeed" };
    char name[128];
    uint8_t *out;
    size_t len;
    for (int d = 0; d < 3; d++) {
        for (int w = 0; w < 4; w++) {
            /* pickles refer to storages "0".."2" of <= 24 bytes: they fit fuzz_pickle's 256-byte storages */
            if (vc_ckpt_build_pickle(NULL, t, 3, dts[d], wr[w], &out, &len)) return 1;
            snprintf(name, sizeof name, "%s_%s.pkl", wn[w], dn[d]);
            save("fuzz_pickle", name, out, len);
            free(out);
            if (d == 1 && w != 2) continue;
            vc_ckpt_write_opts o = { w == 1 ? "m" : NULL, w == 3, w == 2 };
            if (vc_ckpt_build_zip(NULL, t, 3, dts[d], wr[w], &o, &out, &len)) return 1;
            snprintf(name, sizeof name, "%s_%s%s.zip", wn[w], dn[d], o.force_zip64 ? "_zip64" : o.deflate ? "_deflate" : "");
            save("fuzz_zip", name, out, len);
            free(out);
        }
        if (vc_ckpt_build_safetensors(NULL, t, 3, dts[d], &out, &len)) return 1;
        snprintf(name, sizeof name, "%s.safetensors", dn[d]);
        save("fuzz_safetensors", name, out, len);
        /* the header alone is a JSON seed */
        uint64_t hn = 0;
        for (int k = 7; k >= 0; k--) hn = hn << 8 | out[k];
        snprintf(name, sizeof name, "safetensors_header_%s.json", dn[d]);
        save("fuzz_json", name, out + 8, (size_t)hn);
        free(out);
    }
    /* protocol-4 style pickle: FRAME, SHORT_BINUNICODE, MEMOIZE, STACK_GLOBAL, strided view, BINGET */
    static const uint8_t p4[] =
        "\x80\x04\x95\x00\x01\x00\x00\x00\x00\x00\x00}\x94(\x8c\x01t\x94\x8c\x0ctorch._utils\x94\x8c\x12_rebuild_tensor_v2"
        "\x94\x93\x94((\x8c\x07storage\x94\x8c\x05torch\x94\x8c\x0c" "FloatStorage\x94\x93\x94\x8c\x01" "0\x94\x8c\x03" "cpu"
        "\x94K@t\x94QK\x02K\x03K\x02\x86\x94K\x01K\x03\x86\x94\x89\x8c\x0b" "collections\x94\x8c\x0bOrderedDict\x94\x93\x94)R"
        "\x94t\x94R\x94\x8c\x01u\x94h\x04((h\x05h\x08\x8c\x01" "1\x94h\x0aK\x10t\x94QK\x00K\x04\x85\x94K\x01\x85\x94\x88h\x10)R"
        "\x94tR\x94u.";
    save("fuzz_pickle", "protocol4_views.pkl", p4, sizeof p4 - 1);
    static const char *js[] = {
        "{\"a\": [1, -2.5e-3, 1E+2, true, false, null], \"b\": {\"c\": \"x\\u00e9\\ud83d\\ude00\\n\\t\\\"\"}}",
        "{\"embed_dim\": 64, \"text_cfg\": {\"context_length\": 77, \"vocab_size\": 49408, \"width\": 64, \"heads\": 4, \"layers\": 3}}",
        "[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]",
        "\"\\u0041\\u00ff\\uffff\\ud800\\udc00\"",
        "-0.0",
    };
    for (size_t i = 0; i < sizeof js / sizeof *js; i++) {
        snprintf(name, sizeof name, "text%zu.json", i);
        save("fuzz_json", name, js[i], strlen(js[i]));
    }
    return 0;
}
