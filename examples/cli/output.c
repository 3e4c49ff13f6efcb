/* output.c - PLACEHOLDER until issue #6 lands. */
#include "output.h"

int cli_write_output(vc_context *ctx, const vc_model *model, const vc_tensor *latent, const char *out,
                     int save_fps)
{
    (void)ctx; (void)model; (void)latent; (void)out; (void)save_fps;
    return cli_fail("video output is not available in this build yet");
}
