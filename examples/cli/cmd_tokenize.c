/* cmd_tokenize.c - `videocrafter tokenize [--vocab FILE] --prompt TEXT ...`:
 * prints the 77 CLIP token ids of each prompt, space separated, one prompt a
 * line (interface contract §3). Needs no model. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum { OPT_VOCAB = OPT_FIRST_CMD, OPT_PROMPT };

static void help(FILE *f)
{
    fprintf(f,
            "usage: videocrafter tokenize [--vocab FILE] --prompt TEXT [--prompt TEXT ...]\n"
            "\n"
            "Prints the 77 token ids open_clip 2.22 gives each prompt (SOT 49406 ... EOT 49407,\n"
            "zero padded), space separated, one prompt a line. No model is needed.\n"
            "\n"
            "  --prompt TEXT          a prompt (UTF-8); repeat for more\n"
            "  --vocab FILE           BPE merges file (.txt.gz or .txt) instead of the built-in one\n"
            "                         (default: $VIDEOCRAFTER_VOCAB, then built in)\n"
            "  --quiet, -v            fewer / more log lines\n"
            "  --help                 this text\n");
}

int cmd_tokenize(int argc, char **argv)
{
    static const struct option opts[] = {
        {"vocab", required_argument, 0, OPT_VOCAB},
        {"prompt", required_argument, 0, OPT_PROMPT},
        {"quiet", no_argument, 0, OPT_QUIET},
        {"verbose", no_argument, 0, 'v'},
        {"help", no_argument, 0, OPT_HELP},
        {0, 0, 0, 0},
    };
    const char *vocab = NULL;
    const char **prompts = calloc((size_t)argc + 1, sizeof *prompts);
    if (!prompts) return cli_fail("out of memory");
    int n = 0, verbosity = 0, opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "v", opts, NULL)) != -1) {
        switch (opt) {
        case OPT_HELP: help(stdout); free(prompts); return CLI_OK;
        case OPT_VOCAB: vocab = optarg; break;
        case OPT_PROMPT: prompts[n++] = optarg; break;
        case OPT_QUIET: verbosity = -1; break;
        case 'v': verbosity++; break;
        default: free(prompts); return cli_usage("tokenize", "unknown option");
        }
    }
    if (optind < argc) {
        free(prompts);
        return cli_usage("tokenize", "unexpected argument '%s' (prompts go after --prompt)", argv[optind]);
    }
    if (n == 0) {
        free(prompts);
        return cli_usage("tokenize", "at least one --prompt TEXT is required");
    }
    vc_context_params cp;
    vc_context_default_params(&cp);
    cp.n_threads = 1;
    cp.vocab_path = vocab;
    cp.log_level = verbosity < 0 ? VC_LOG_ERROR : verbosity == 0 ? VC_LOG_WARN : VC_LOG_DEBUG;
    vc_context *ctx = NULL;
    vc_status st = vc_context_create(&cp, &ctx);
    if (st != VC_STATUS_OK) {
        free(prompts);
        return cli_fail_status(NULL, st, "creating a context");
    }
    int rc = CLI_OK;
    for (int i = 0; i < n; i++) {
        int64_t t[VC_TEXT_CONTEXT_LENGTH];
        st = vc_tokenize(ctx, prompts[i], t);
        if (st != VC_STATUS_OK) {
            rc = cli_fail_status(ctx, st, "tokenizing");
            break;
        }
        for (int k = 0; k < VC_TEXT_CONTEXT_LENGTH; k++) printf(k ? " %lld" : "%lld", (long long)t[k]);
        putchar('\n');
    }
    if (fflush(stdout) != 0 && rc == CLI_OK) rc = cli_fail("cannot write to standard output");
    vc_context_free(ctx);
    free(prompts);
    return rc;
}
