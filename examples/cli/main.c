/* main.c - `videocrafter` command-line tool: subcommand dispatch. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"info", cmd_info, "describe a model file"},
    {"tokenize", cmd_tokenize, "print the 77 CLIP token ids of prompts"},
    {"encode-text", cmd_encode_text, "text context of prompts -> .npy"},
    {"encode-image", cmd_encode_image, "image embedding (I2V) -> .npy"},
    {"t2v", cmd_t2v, "text to video"},
    {"i2v", cmd_i2v, "image (and text) to video"},
    {"decode", cmd_decode, "decode saved latents to a video"},
    {"unet", cmd_unet, "one UNet call -> eps .npy"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: videocrafter COMMAND [options]   (videocrafter COMMAND --help)\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-13s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n  --version     print the library version\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("videocrafter %s (library %s)\n", VC_VERSION_STRING, vc_version());
        return CLI_OK;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return CLI_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "videocrafter: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return CLI_USAGE;
}
