/* cmd_encode_text.c - `videocrafter encode-text MODEL [--config YAML] --prompt
 * TEXT ... -o ctx.npy`: the text context [n,77,D] float32 of the prompts
 * (interface contract §3; spec §2). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum { OPT_VOCAB = OPT_FIRST_CMD, OPT_PROMPT };

static void help(FILE *f)
{
    fprintf(f,
            "usage: videocrafter encode-text MODEL [options] --prompt TEXT [--prompt TEXT ...] -o ctx.npy\n"
            "\n"
            "Encodes the prompts with the model's CLIP text tower (open_clip tokenizer, 23 of 24\n"
            "blocks, ln_final) and writes the context [n,77,D] as float32 .npy. The unconditional\n"
            "context of the original is the encoding of the empty prompt: --prompt ''.\n"
            "\n"
            "  --prompt TEXT          a prompt (UTF-8); repeat for a batch\n"
            "  -o, --output FILE      .npy file to write (required)\n"
            "  --vocab FILE           BPE merges file instead of the built-in one\n" CLI_COMMON_HELP);
}

int cmd_encode_text(int argc, char **argv)
{
    static const struct option opts[] = {
        CLI_COMMON_OPTIONS,
        {"output", required_argument, 0, 'o'},
        {"vocab", required_argument, 0, OPT_VOCAB},
        {"prompt", required_argument, 0, OPT_PROMPT},
        {0, 0, 0, 0},
    };
    cli_common c;
    memset(&c, 0, sizeof c);
    const char *out = NULL, *vocab = NULL;
    const char **prompts = calloc((size_t)argc + 1, sizeof *prompts);
    if (!prompts) return cli_fail("out of memory");
    int n = 0, opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "o:v", opts, NULL)) != -1) {
        if (opt == OPT_HELP) {
            help(stdout);
            free(prompts);
            return CLI_OK;
        }
        int r = cli_common_option(&c, opt, optarg);
        if (r < 0) {
            free(prompts);
            return cli_usage("encode-text", "bad value '%s' for an option", optarg ? optarg : "");
        }
        if (r > 0) continue;
        switch (opt) {
        case 'o': out = optarg; break;
        case OPT_VOCAB: vocab = optarg; break;
        case OPT_PROMPT: prompts[n++] = optarg; break;
        default: free(prompts); return cli_usage("encode-text", "unknown option");
        }
    }
    int rc = CLI_OK;
    if (argc - optind != 1) rc = cli_usage("encode-text", "expected one MODEL");
    else if (n == 0) rc = cli_usage("encode-text", "at least one --prompt TEXT is required");
    else if (!out) rc = cli_usage("encode-text", "-o ctx.npy is required");
    if (rc != CLI_OK) {
        free(prompts);
        return rc;
    }
    c.model_path = argv[optind];

    vc_context_params cp;
    vc_context_default_params(&cp);
    cp.backend = c.backend;
    cp.n_threads = c.threads;
    cp.vocab_path = vocab;
    cp.log_level = c.verbosity < 0 ? VC_LOG_ERROR : c.verbosity == 0 ? VC_LOG_WARN
                   : c.verbosity == 1 ? VC_LOG_INFO : VC_LOG_DEBUG;
    vc_context *ctx = NULL;
    vc_model *model = NULL;
    vc_status st = vc_context_create(&cp, &ctx);
    if (st != VC_STATUS_OK) {
        free(prompts);
        return cli_fail_status(NULL, st, "creating a context");
    }
    vc_model_params mp;
    vc_model_default_params(&mp);
    mp.config_path = c.config_path;
    if (c.weights_dtype && strcmp(c.weights_dtype, "f16") == 0) mp.weights_dtype = VC_DTYPE_F16;
    if (c.weights_dtype && strcmp(c.weights_dtype, "bf16") == 0) mp.weights_dtype = VC_DTYPE_BF16;
    st = vc_model_load(ctx, c.model_path, &mp, &model);
    if (st != VC_STATUS_OK) {
        rc = cli_fail_status(ctx, st, "loading the model");
    } else {
        vc_tensor ctxt;
        st = vc_encode_text(ctx, model, prompts, n, &ctxt);
        if (st != VC_STATUS_OK) {
            rc = cli_fail_status(ctx, st, "encoding the prompts");
        } else {
            st = vc_tensor_save_npy(out, &ctxt);
            if (st != VC_STATUS_OK) rc = cli_fail_status(NULL, st, "writing the context");
            vc_tensor_free(&ctxt);
        }
    }
    vc_model_free(model);
    vc_context_free(ctx);
    free(prompts);
    return rc;
}
