/* generate.h - the shared body of `videocrafter t2v` and `videocrafter i2v`. */
#ifndef VC_CLI_GENERATE_H
#define VC_CLI_GENERATE_H

#include <stdbool.h>

/* Parses argv (argv[0] = "t2v" or "i2v"), samples, writes the output.
 * Returns a CLI exit code (130 when cancelled by SIGINT). */
int cli_generate(int argc, char **argv, bool i2v);

#endif
