/* fuzz_yaml.c - libFuzzer target for the YAML config reader
 * (vc_config_parse_yaml: libyaml events -> tree -> inference_*.yaml schema).
 * Self-contained: compiles the config sources it tests (config.c,
 * config_yaml.c, schema.c) and links with run.sh's reader objects; no files
 * are read (no open_clip JSON folder, so only the built-in ViT-H-14 arch
 * resolves). Needs -lyaml in addition to -lz -lm.
 *
 * Each input is parsed twice: as a whole file, and spliced into the
 * unet_config.params of an official-style config, so that short inputs reach
 * the schema checks without first having to discover the whole layout. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "io/config.h"

#include "../../lib/io/config.c"
#include "../../lib/io/config_yaml.c"
#include "../../lib/io/schema.c"

static const char head[] =
    "model:\n"
    "  target: lvdm.models.ddpm3d.LatentDiffusion\n"
    "  params:\n"
    "    linear_start: 0.00085\n"
    "    linear_end: 0.012\n"
    "    timesteps: 1000\n"
    "    image_size: [40, 64]\n"
    "    scale_factor: 0.18215\n"
    "    uncond_type: empty_seq\n"
    "    use_scale: true\n"
    "    scale_b: 0.7\n"
    "    unet_config:\n"
    "      target: lvdm.modules.networks.openaimodel3d.UNetModel\n"
    "      params:\n";
static const char unet_default[] =
    "        in_channels: 4\n"
    "        out_channels: 4\n"
    "        model_channels: 320\n"
    "        attention_resolutions: [4, 2, 1]\n"
    "        num_res_blocks: 2\n"
    "        channel_mult: [1, 2, 4, 4]\n"
    "        num_head_channels: 64\n"
    "        context_dim: 1024\n"
    "        use_linear: true\n"
    "        temporal_conv: true\n"
    "        use_relative_position: false\n"
    "        temporal_length: 16\n"
    "        addition_attention: true\n"
    "        fps_cond: true\n";
static const char tail[] =
    "    first_stage_config:\n"
    "      target: lvdm.models.autoencoder.AutoencoderKL\n"
    "      params:\n"
    "        embed_dim: 4\n"
    "        ddconfig:\n"
    "          double_z: true\n"
    "          z_channels: 4\n"
    "          resolution: 512\n"
    "          in_channels: 3\n"
    "          out_ch: 3\n"
    "          ch: 128\n"
    "          ch_mult: [1, 2, 4, 4]\n"
    "          num_res_blocks: 2\n"
    "          attn_resolutions: []\n"
    "    cond_stage_config:\n"
    "      target: lvdm.modules.encoders.condition.FrozenOpenCLIPEmbedder\n"
    "      params:\n"
    "        layer: penultimate\n";

/* A bare context: the config reader only records errors in it (fuzz_stubs.c
 * provides vc_fail/vc_log), so the target needs no backend. */
static vc_context *fuzz_ctx(void)
{
    static vc_context ctx;
    ctx.log_level = VC_LOG_NONE;
    ctx.n_threads = 1;
    return &ctx;
}

static void check(vc_status st, const vc_model_config *cfg)
{
    if (st != VC_STATUS_OK) return;
    /* an accepted config must also give a consistent tensor list */
    vc_tensor_spec *specs = NULL;
    size_t n = 0;
    if (vc_config_expected_tensors(fuzz_ctx(), cfg, &specs, &n) == VC_STATUS_OK && n == 0) abort();
    free(specs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vc_context *ctx = fuzz_ctx();
    vc_model_config cfg;
    check(vc_config_parse_yaml(ctx, "fuzz.yaml", (const char *)data, size, NULL, &cfg), &cfg);
    if (size > 4096) return 0;
    /* spliced: head + input (as unet params, or the default ones) + tail */
    size_t hn = sizeof head - 1, un = sizeof unet_default - 1, tn = sizeof tail - 1;
    char *buf = malloc(hn + un + size + 1 + tn + 1);
    if (!buf) return 0;
    size_t o = 0;
    memcpy(buf + o, head, hn);
    o += hn;
    if (size && data[0] == '#') { /* '#'-inputs keep the default UNet params and append */
        memcpy(buf + o, unet_default, un);
        o += un;
    }
    memcpy(buf + o, data, size);
    o += size;
    if (o && buf[o - 1] != '\n') buf[o++] = '\n';
    memcpy(buf + o, tail, tn);
    o += tn;
    buf[o] = 0;
    check(vc_config_parse_yaml(ctx, "fuzz-spliced.yaml", buf, o, NULL, &cfg), &cfg);
    free(buf);
    return 0;
}
