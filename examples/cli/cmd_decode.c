/* cmd_decode.c - `videocrafter decode MODEL [--config YAML] z.npy -o OUT [--save-fps N]`:
 * decodes saved latents [B,4,T,h,w] (e.g. from `t2v --save-latents`) to a video. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "output.h"

enum { OPT_SAVE_FPS = OPT_FIRST_CMD, OPT_OUT };

static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, e = (h >> 10) & 31, m = h & 1023u;
    float v;
    if (e == 0) v = ldexpf((float)m, -24);                    /* zero, subnormal */
    else if (e == 31) v = m ? NAN : INFINITY;
    else v = ldexpf((float)(m | 1024u), (int)e - 25);
    return sign ? -v : v;
}

static void help(FILE *f)
{
    fprintf(f,
            "usage: videocrafter decode MODEL [options] z.npy -o OUT\n"
            "\n"
            "Decodes latents z [B,4,T,h,w] (float32 .npy, sampler latent space) with the model's VAE\n"
            "and writes OUT: *.mp4 (H.264, CRF 10), *.webm (VP9), *.gif, *.npy (float video\n"
            "[B,3,T,H,W]) or a folder (ending in /) of 0000.png ... With B > 1, video b goes to\n"
            "NAME_b.EXT (or FOLDER/b/).\n"
            "\n"
            "  -o, --output OUT       where to write (required)\n"
            "  --save-fps N           frames per second of the video file (default 10)\n" CLI_COMMON_HELP);
}

int cmd_decode(int argc, char **argv)
{
    static const struct option opts[] = {
        CLI_COMMON_OPTIONS,
        {"output", required_argument, 0, 'o'},
        {"save-fps", required_argument, 0, OPT_SAVE_FPS},
        {0, 0, 0, 0},
    };
    cli_common c;
    memset(&c, 0, sizeof c);
    const char *out = NULL;
    long save_fps = 10;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "o:v", opts, NULL)) != -1) {
        if (opt == OPT_HELP) {
            help(stdout);
            return CLI_OK;
        }
        int r = cli_common_option(&c, opt, optarg);
        if (r < 0) return cli_usage("decode", "bad value '%s' for an option", optarg ? optarg : "");
        if (r > 0) continue;
        switch (opt) {
        case 'o': out = optarg; break;
        case OPT_SAVE_FPS:
            if (!cli_parse_int(optarg, 1, 240, &save_fps))
                return cli_usage("decode", "--save-fps wants an integer 1..240, not '%s'", optarg);
            break;
        default: return cli_usage("decode", "unknown option");
        }
    }
    if (argc - optind != 2) return cli_usage("decode", "expected MODEL and z.npy");
    if (!out) return cli_usage("decode", "-o OUT is required");
    c.model_path = argv[optind];
    const char *zpath = argv[optind + 1];
    int rc = cli_output_check(out);
    if (rc != CLI_OK) return rc;

    vc_tensor z;
    vc_status st = vc_tensor_load_npy(zpath, &z);
    if (st != VC_STATUS_OK) return cli_fail_status(NULL, st, "reading the latents");
    if (z.dtype == VC_DTYPE_F64 || z.dtype == VC_DTYPE_F16) { /* numpy's default float64, or half */
        vc_tensor f;
        st = vc_tensor_alloc(&f, VC_DTYPE_F32, z.ndim, z.shape);
        if (st != VC_STATUS_OK) {
            vc_tensor_free(&z);
            return cli_fail("out of memory converting %s to float32", zpath);
        }
        for (int64_t i = 0; i < vc_tensor_numel(&z); i++)
            ((float *)f.data)[i] = z.dtype == VC_DTYPE_F64 ? (float)((const double *)z.data)[i]
                                                           : half_to_float(((const uint16_t *)z.data)[i]);
        vc_tensor_free(&z);
        z = f;
    }
    vc_context *ctx = NULL;
    vc_model *model = NULL;
    st = cli_open_model(&c, &ctx, &model);
    if (st != VC_STATUS_OK) {
        rc = cli_fail_status(ctx, st, "loading the model");
    } else {
        rc = cli_write_output(ctx, model, &z, out, (int)save_fps);
    }
    vc_tensor_free(&z);
    vc_model_free(model);
    vc_context_free(ctx);
    return rc;
}
