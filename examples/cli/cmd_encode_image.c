/* cmd_encode_image.c - `videocrafter encode-image` (PLACEHOLDER until its issue lands). */
#include "cli.h"

int cmd_encode_image(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return cli_fail("'encode-image' is not available in this build yet");
}
