/* cmd_unet.c - `videocrafter unet MODEL [--config YAML] --x x.npy --t t.npy
 * [--fps fps.npy] --context c.npy -o eps.npy`: one UNet call (spec §5, §6). */
#include <stdio.h>
#include <string.h>

#include "cli.h"

enum { OPT_X = OPT_FIRST_CMD, OPT_T, OPT_FPS, OPT_CTX };

static void help(FILE *f)
{
    fprintf(f,
            "usage: videocrafter unet MODEL --x x.npy --t t.npy [--fps fps.npy] --context c.npy -o eps.npy\n"
            "\n"
            "One UNet call: eps = UNet(x [B,4,T,h,w] float32, t [B] int64, context [B,L,D] float32,\n"
            "fps [B] int64) -> eps [B,4,T,h,w] float32 .npy. fps defaults to the model's.\n"
            "\n"
            "  --x FILE, --t FILE, --context FILE, --fps FILE   inputs (.npy)\n"
            "  -o, --output FILE      eps .npy (required)\n" CLI_COMMON_HELP);
}

int cmd_unet(int argc, char **argv)
{
    static const struct option opts[] = {
        CLI_COMMON_OPTIONS,
        {"output", required_argument, 0, 'o'},
        {"x", required_argument, 0, OPT_X},
        {"t", required_argument, 0, OPT_T},
        {"fps", required_argument, 0, OPT_FPS},
        {"context", required_argument, 0, OPT_CTX},
        {0, 0, 0, 0},
    };
    cli_common c;
    memset(&c, 0, sizeof c);
    const char *out = NULL, *px = NULL, *pt = NULL, *pf = NULL, *pc = NULL;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "o:v", opts, NULL)) != -1) {
        if (opt == OPT_HELP) {
            help(stdout);
            return CLI_OK;
        }
        int r = cli_common_option(&c, opt, optarg);
        if (r < 0) return cli_usage("unet", "bad value '%s' for an option", optarg ? optarg : "");
        if (r > 0) continue;
        switch (opt) {
        case 'o': out = optarg; break;
        case OPT_X: px = optarg; break;
        case OPT_T: pt = optarg; break;
        case OPT_FPS: pf = optarg; break;
        case OPT_CTX: pc = optarg; break;
        default: return cli_usage("unet", "unknown option");
        }
    }
    if (argc - optind != 1) return cli_usage("unet", "expected MODEL");
    if (!px || !pt || !pc) return cli_usage("unet", "--x, --t and --context are required");
    if (!out) return cli_usage("unet", "-o eps.npy is required");
    c.model_path = argv[optind];

    int rc = CLI_OK;
    vc_context *ctx = NULL;
    vc_model *model = NULL;
    vc_tensor x = {0}, t = {0}, f = {0}, cx = {0}, eps = {0};
    const char *paths[4] = {px, pt, pc, pf};
    vc_tensor *ts[4] = {&x, &t, &cx, &f};
    for (int i = 0; i < 4; i++) {
        if (!paths[i]) continue;
        if (vc_tensor_load_npy(paths[i], ts[i])) {
            rc = cli_fail("cannot read %s: %s", paths[i], vc_last_error());
            goto done;
        }
    }
    vc_status st = cli_open_model(&c, &ctx, &model);
    if (st) {
        rc = cli_fail_status(ctx, st, "loading the model");
        goto done;
    }
    if ((st = vc_unet_eps(ctx, model, &x, &t, &cx, pf ? &f : NULL, &eps))) {
        rc = cli_fail_status(ctx, st, "UNet");
        goto done;
    }
    if (vc_tensor_save_npy(out, &eps)) rc = cli_fail("cannot write %s: %s", out, vc_last_error());
done:
    for (int i = 0; i < 4; i++) vc_tensor_free(ts[i]);
    vc_tensor_free(&eps);
    vc_model_free(model);
    vc_context_free(ctx);
    return rc;
}
