/* cmd_i2v.c - `videocrafter i2v`: image (and text) to video; every t2v option
 * plus --image (the work is in generate.c). */
#include "cli.h"
#include "generate.h"

int cmd_i2v(int argc, char **argv) { return cli_generate(argc, argv, true); }
