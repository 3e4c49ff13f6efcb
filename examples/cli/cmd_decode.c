/* cmd_decode.c - `videocrafter decode` (PLACEHOLDER until its issue lands). */
#include "cli.h"

int cmd_decode(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return cli_fail("'decode' is not available in this build yet");
}
