/* cmd_t2v.c - `videocrafter t2v`: text to video (the work is in generate.c). */
#include "cli.h"
#include "generate.h"

int cmd_t2v(int argc, char **argv) { return cli_generate(argc, argv, false); }
