/* cmd_i2v.c - `videocrafter i2v` (PLACEHOLDER until its issue lands). */
#include "cli.h"

int cmd_i2v(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return cli_fail("'i2v' is not available in this build yet");
}
