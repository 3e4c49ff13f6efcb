/* cmd_encode_image.c - `videocrafter encode-image` (interface contract §3):
 * the I2V image embedding (resampler output [1,16,D]) or, with --tokens, the
 * CLIP vision tokens [1,257,W], written as .npy. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum { OPT_IMAGE = OPT_FIRST_CMD, OPT_HEIGHT, OPT_WIDTH, OPT_TOKENS, OPT_OUT };

static const char *const usage_text =
    "usage: videocrafter encode-image MODEL [--config YAML] --image IMG [--height H --width W]\n"
    "                                 [--tokens] -o out.npy\n"
    "\n"
    "Encodes a PNG or JPEG picture the way the I2V model sees it: resized to the video size,\n"
    "then CLIP-preprocessed, through the vision tower and the resampler.\n"
    "\n"
    "  --image IMG            input picture (.png or .jpg; read by content)\n"
    "  --height H, --width W  video size the picture is first resized to (default: the model's)\n"
    "  --tokens               write the vision tower's tokens [1,257,W] instead of the\n"
    "                         resampler output [1,16,D]\n"
    "  -o, --output FILE      output .npy (float32)\n" CLI_COMMON_HELP;

int cmd_encode_image(int argc, char **argv)
{
    static const struct option opts[] = {
        CLI_COMMON_OPTIONS,
        {"image", required_argument, 0, OPT_IMAGE},
        {"height", required_argument, 0, OPT_HEIGHT},
        {"width", required_argument, 0, OPT_WIDTH},
        {"tokens", no_argument, 0, OPT_TOKENS},
        {"output", required_argument, 0, 'o'},
        {0, 0, 0, 0},
    };
    const char *cmd = "encode-image";
    cli_common c = {0};
    const char *image_path = NULL, *out_path = NULL;
    long height = 0, width = 0;
    bool tokens = false;
    optind = 1;
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, ":o:v", opts, NULL)) != -1) {
        int r = cli_common_option(&c, opt, optarg);
        if (r < 0) return cli_usage(cmd, "bad value '%s' for %s", optarg, argv[optind - 1]);
        if (r > 0) continue;
        switch (opt) {
        case OPT_HELP: fputs(usage_text, stdout); return CLI_OK;
        case OPT_IMAGE: image_path = optarg; break;
        case OPT_HEIGHT:
            if (!cli_parse_int(optarg, 1, 16384, &height)) return cli_usage(cmd, "bad --height '%s'", optarg);
            break;
        case OPT_WIDTH:
            if (!cli_parse_int(optarg, 1, 16384, &width)) return cli_usage(cmd, "bad --width '%s'", optarg);
            break;
        case OPT_TOKENS: tokens = true; break;
        case 'o': out_path = optarg; break;
        case ':': return cli_usage(cmd, "option %s needs a value", argv[optind - 1]);
        default: return cli_usage(cmd, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) c.model_path = argv[optind++];
    if (optind < argc) return cli_usage(cmd, "unexpected argument '%s'", argv[optind]);
    if (!c.model_path) return cli_usage(cmd, "MODEL is required");
    if (!image_path) return cli_usage(cmd, "--image is required");
    if (!out_path) return cli_usage(cmd, "-o out.npy is required");
    if ((height == 0) != (width == 0)) return cli_usage(cmd, "give both --height and --width, or neither");

    vc_context *ctx = NULL;
    vc_model *model = NULL;
    vc_tensor img = {0}, out = {0};
    int rc = CLI_OK;
    vc_status st = cli_open_model(&c, &ctx, &model);
    if (st != VC_STATUS_OK) {
        rc = cli_fail_status(ctx, st, "loading the model");
        goto done;
    }
    st = vc_image_load(ctx, image_path, &img);
    if (st != VC_STATUS_OK) {
        rc = cli_fail_status(ctx, st, "reading the image");
        goto done;
    }
    st = vc_encode_image(ctx, model, &img, (int32_t)height, (int32_t)width, tokens ? VC_ENCODE_IMAGE_TOKENS : 0,
                         &out);
    if (st != VC_STATUS_OK) {
        rc = cli_fail_status(ctx, st, "encoding the image");
        goto done;
    }
    st = vc_tensor_save_npy(out_path, &out);
    if (st != VC_STATUS_OK) {
        const char *msg = vc_last_error();
        rc = cli_fail("writing '%s': %s", out_path, msg && *msg ? msg : vc_status_str(st));
        goto done;
    }
    if (c.verbosity >= 0)
        fprintf(stderr, "videocrafter: wrote %s [%lld,%lld,%lld]\n", out_path, (long long)out.shape[0],
                (long long)out.shape[1], (long long)out.shape[2]);
done:
    vc_tensor_free(&out);
    vc_tensor_free(&img);
    vc_model_free(model);
    vc_context_free(ctx);
    return rc;
}
