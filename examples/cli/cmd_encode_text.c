/* cmd_encode_text.c - `videocrafter encode-text` (PLACEHOLDER until its issue lands). */
#include "cli.h"

int cmd_encode_text(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return cli_fail("'encode-text' is not available in this build yet");
}
