/* cli.h - shared pieces of the videocrafter command-line tool. Uses the public API only. */
#ifndef VC_CLI_H
#define VC_CLI_H

#include <getopt.h>
#include <stdbool.h>

#include "videocrafter.h"

/* Exit codes (interface contract §3). */
enum { CLI_OK = 0, CLI_FAILED = 1, CLI_USAGE = 2, CLI_CANCELLED = 130 };

/* Options every model subcommand understands. */
typedef struct cli_common {
    const char *model_path;
    const char *config_path;
    const char *backend;
    const char *weights_dtype;
    int threads;
    int verbosity;          /* -1 quiet, 0 default, 1+ verbose */
} cli_common;

/* Long-option ids of the common options, shared by all subcommands' tables. */
enum {
    OPT_CONFIG = 1000, OPT_THREADS, OPT_BACKEND, OPT_WEIGHTS_DTYPE, OPT_QUIET, OPT_HELP, OPT_VERBOSE,
    OPT_FIRST_CMD = 1100 /* subcommands number their own options from here */
};

#define CLI_COMMON_OPTIONS                                                                      \
    {"config", required_argument, 0, OPT_CONFIG}, {"threads", required_argument, 0, OPT_THREADS}, \
    {"backend", required_argument, 0, OPT_BACKEND},                                              \
    {"weights-dtype", required_argument, 0, OPT_WEIGHTS_DTYPE},                                  \
    {"quiet", no_argument, 0, OPT_QUIET}, {"help", no_argument, 0, OPT_HELP},                    \
    {"verbose", no_argument, 0, 'v'}

#define CLI_COMMON_HELP                                                                          \
    "  --config YAML          original inference_*.yaml (default: detect the variant)\n"         \
    "  --threads N            CPU threads (default: all cores)\n"                                \
    "  --backend cpu|cuda     compute backend (default cpu)\n"                                   \
    "  --weights-dtype f32|f16|bf16  weights kept in memory as (default f32)\n"                   \
    "  --quiet, -v            fewer / more log lines\n"                                          \
    "  --help                 this text\n"

/* Handles a common option; returns 1 if consumed, 0 if not common, -1 on a bad value. */
int cli_common_option(cli_common *c, int opt, const char *arg);
/* Prints "videocrafter: error: ..." to stderr and returns CLI_FAILED. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints a usage error and returns CLI_USAGE. */
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Maps a failed status to an exit code after printing the context's message. */
int cli_fail_status(vc_context *ctx, vc_status st, const char *what);
/* Creates the context from the common options. */
vc_status cli_open_context(const cli_common *c, vc_context **ctx);
/* Creates the context and loads c->model_path. */
vc_status cli_open_model(const cli_common *c, vc_context **ctx, vc_model **model);
/* Parses a non-negative integer option; false on garbage. */
bool cli_parse_int(const char *s, long min, long max, long *out);
bool cli_parse_float(const char *s, double *out);

/* Subcommands: argv[0] is the subcommand name. */
int cmd_info(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_encode_text(int argc, char **argv);
int cmd_encode_image(int argc, char **argv);
int cmd_t2v(int argc, char **argv);
int cmd_i2v(int argc, char **argv);
int cmd_decode(int argc, char **argv);
int cmd_unet(int argc, char **argv);

#endif
