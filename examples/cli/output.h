/* output.h - writing a generated video where the user asked (-o OUT). */
#ifndef VC_CLI_OUTPUT_H
#define VC_CLI_OUTPUT_H

#include "cli.h"

/* Decodes latent [B,4,T,h,w] and writes OUT by its name (interface contract §3):
 * *.mp4 / *.webm / *.gif (encoder helper library), *.npy (float video
 * [B,3,T,H,W]), or a folder (ends in '/' or exists) of 0000.png ...
 * With B > 1 each video gets a numbered name. Returns a CLI exit code. */
int cli_write_output(vc_context *ctx, const vc_model *model, const vc_tensor *latent, const char *out,
                     int save_fps);

/* Checks before a long run that OUT names a format this build can write;
 * CLI_OK, or prints the error and returns CLI_FAILED. */
int cli_output_check(const char *out);

#endif
