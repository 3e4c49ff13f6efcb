/* cmd_info.c - `videocrafter info MODEL [--config YAML] [--json]` (interface
 * contract §3): variant, per-component parameter counts, stored dtype, file
 * size and the memory a 320x512x16 run would need. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

enum { OPT_JSON = OPT_FIRST_CMD };

static void help(FILE *f)
{
    fprintf(f,
            "usage: videocrafter info MODEL [options]\n"
            "\n"
            "Loads MODEL (model.ckpt or .safetensors), checks every tensor against the configuration\n"
            "(the YAML given with --config, else the variant detected from the tensor names) and\n"
            "prints the variant, parameter counts per component, the stored dtype, the file size and\n"
            "the memory a 320x512, 16-frame run would need.\n"
            "\n"
            "  --json                 print one JSON object instead of text\n" CLI_COMMON_HELP);
}

static const char *dtype_str(vc_dtype d)
{
    switch (d) {
    case VC_DTYPE_F32: return "f32";
    case VC_DTYPE_F16: return "f16";
    case VC_DTYPE_BF16: return "bf16";
    case VC_DTYPE_F64: return "f64";
    case VC_DTYPE_I64: return "i64";
    case VC_DTYPE_I32: return "i32";
    case VC_DTYPE_U8: return "u8";
    }
    return "?";
}

/* 1234567 -> "1,234,567" */
static const char *grouped(char *buf, size_t cap, unsigned long long v)
{
    char raw[32];
    int n = snprintf(raw, sizeof raw, "%llu", v);
    size_t o = 0;
    for (int i = 0; i < n && o + 2 < cap; i++) {
        if (i && (n - i) % 3 == 0) buf[o++] = ',';
        buf[o++] = raw[i];
    }
    buf[o] = 0;
    return buf;
}

static const char *human(char *buf, size_t cap, double bytes)
{
    static const char *const unit[] = {"B", "KB", "MB", "GB", "TB"};
    int u = 0;
    while (bytes >= 1000 && u < 4) {
        bytes /= 1000;
        u++;
    }
    snprintf(buf, cap, u ? "%.2f %s" : "%.0f %s", bytes, unit[u]);
    return buf;
}

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}

static const char *const comp_key[VC_COMPONENT_COUNT] = {"unet", "vae_encoder", "vae_decoder", "text", "vision",
                                                         "resampler", "other"};
static const char *const comp_label[VC_COMPONENT_COUNT] = {
    "UNet", "VAE encoder", "VAE decoder", "CLIP text", "CLIP vision", "Resampler",
    "other (schedule, quant convs, unused CLIP leftovers)"};

#define MEM_H 320
#define MEM_W 512
#define MEM_T 16

static void print_text(const char *path, const char *config, const vc_model_info *i, uint64_t act)
{
    char a[64], b[64];
    printf("model       %s\n", path);
    printf("variant     %s (%s%s)\n", i->variant, i->image_conditioned ? "image-to-video" : "text-to-video",
           i->fps_conditioned ? ", fps-conditioned" : "");
    printf("config      %s\n", config ? config : "built-in preset, detected from the tensor names");
    printf("file        %s bytes (%s), %d tensors, stored as %s\n", grouped(a, sizeof a, i->file_bytes),
           human(b, sizeof b, (double)i->file_bytes), i->n_tensors, dtype_str(i->stored_dtype));
    printf("parameters\n");
    int64_t total = 0;
    for (int k = 0; k < VC_COMPONENT_COUNT; k++) {
        total += i->params[k];
        if (i->params[k] || k <= VC_COMPONENT_TEXT) printf("  %-52s %15s\n", comp_label[k], grouped(a, sizeof a, (unsigned long long)i->params[k]));
    }
    printf("  %-52s %15s\n", "total", grouped(a, sizeof a, (unsigned long long)total));
    printf("defaults    %dx%d, %d frames", i->default_height, i->default_width, i->default_frames);
    if (i->default_fps) printf(", fps %d", i->default_fps);
    else printf(", no fps input");
    printf("\n");
    printf("latent      %d channels, height and width multiples of %d (pixels: 8x)\n", i->latent_channels,
           i->latent_multiple);
    printf("context     %d x %d%s\n", i->context_length, i->context_dim,
           i->image_conditioned ? " (77 text + image tokens)" : "");
    char c[64];
    printf("memory      %dx%dx%d run: weights %s (float32) + activations ~%s (estimate) = ~%s\n", MEM_H, MEM_W, MEM_T,
           human(a, sizeof a, (double)i->weight_bytes), human(b, sizeof b, (double)act),
           human(c, sizeof c, (double)(i->weight_bytes + act)));
}

static void print_json(const char *path, const char *config, const vc_model_info *i, uint64_t act)
{
    printf("{\"model\": ");
    json_string(stdout, path);
    printf(", \"variant\": ");
    json_string(stdout, i->variant);
    printf(", \"config\": ");
    if (config) json_string(stdout, config);
    else printf("null");
    printf(", \"image_conditioned\": %s, \"fps_conditioned\": %s", i->image_conditioned ? "true" : "false",
           i->fps_conditioned ? "true" : "false");
    printf(", \"file_bytes\": %llu, \"n_tensors\": %d, \"stored_dtype\": \"%s\"", (unsigned long long)i->file_bytes,
           i->n_tensors, dtype_str(i->stored_dtype));
    printf(", \"params\": {");
    int64_t total = 0;
    for (int k = 0; k < VC_COMPONENT_COUNT; k++) {
        printf("\"%s\": %lld, ", comp_key[k], (long long)i->params[k]);
        total += i->params[k];
    }
    printf("\"total\": %lld}", (long long)total);
    printf(", \"defaults\": {\"height\": %d, \"width\": %d, \"frames\": %d, \"fps\": %d}", i->default_height,
           i->default_width, i->default_frames, i->default_fps);
    printf(", \"latent_channels\": %d, \"latent_multiple\": %d, \"context_length\": %d, \"context_dim\": %d",
           i->latent_channels, i->latent_multiple, i->context_length, i->context_dim);
    printf(", \"memory\": {\"height\": %d, \"width\": %d, \"frames\": %d, \"weight_bytes\": %llu, "
           "\"activation_bytes\": %llu, \"total_bytes\": %llu}}\n",
           MEM_H, MEM_W, MEM_T, (unsigned long long)i->weight_bytes, (unsigned long long)act,
           (unsigned long long)(i->weight_bytes + act));
}

int cmd_info(int argc, char **argv)
{
    static const struct option opts[] = {
        CLI_COMMON_OPTIONS,
        {"json", no_argument, 0, OPT_JSON},
        {0, 0, 0, 0},
    };
    cli_common c;
    memset(&c, 0, sizeof c);
    bool json = false;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "v", opts, NULL)) != -1) {
        if (opt == OPT_HELP) {
            help(stdout);
            return CLI_OK;
        }
        int r = cli_common_option(&c, opt, optarg);
        if (r < 0) return cli_usage("info", "bad value '%s' for an option", optarg ? optarg : "");
        if (r > 0) continue;
        if (opt == OPT_JSON) json = true;
        else return cli_usage("info", "unknown option");
    }
    if (argc - optind != 1) return cli_usage("info", "expected one MODEL");
    c.model_path = argv[optind];
    vc_context *ctx = NULL;
    vc_model *model = NULL;
    vc_status st = cli_open_model(&c, &ctx, &model);
    int rc;
    if (st != VC_STATUS_OK) {
        rc = cli_fail_status(ctx, st, "loading the model");
        if (!c.config_path && st == VC_STATUS_MODEL_MISMATCH)
            fprintf(stderr, "(no --config was given: the variant and its sizes were detected from the tensor names)\n");
    } else {
        vc_model_info info;
        vc_model_info_init(&info);
        st = vc_model_get_info(model, &info);
        if (st != VC_STATUS_OK) rc = cli_fail_status(ctx, st, "reading the model info");
        else {
            uint64_t act = vc_model_estimate_run_bytes(model, MEM_T, MEM_H, MEM_W);
            if (json) print_json(c.model_path, c.config_path, &info, act);
            else print_text(c.model_path, c.config_path, &info, act);
            rc = fflush(stdout) == 0 ? CLI_OK : cli_fail("cannot write the output");
        }
    }
    vc_model_free(model);
    vc_context_free(ctx);
    return rc;
}
