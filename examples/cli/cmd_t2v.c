/* cmd_t2v.c - `videocrafter t2v` (PLACEHOLDER until its issue lands). */
#include "cli.h"

int cmd_t2v(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return cli_fail("'t2v' is not available in this build yet");
}
