/* cmd_unet.c - `videocrafter unet` (PLACEHOLDER until its issue lands). */
#include "cli.h"

int cmd_unet(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return cli_fail("'unet' is not available in this build yet");
}
