/* linear_layouts.h - the vc_linear_args layouts the UNet's transformers use,
 * for the backend tests (test_backend.c, cuda/test_cuda_backend.c). Include
 * after backend/backend.h. */
#ifndef VCT_LINEAR_LAYOUTS_H
#define VCT_LINEAR_LAYOUTS_H

/* The four layouts the UNet's transformers use (lib/unet/unet.c): spatial
 * entry ([B][in][rows] -> token rows) and exit (tokens -> [B][out][rows]), and
 * the temporal ones, whose items are frames interleaved in the sequences
 * [rows][T][.] of one video. */
static inline vc_linear_args strided_layout(int kind, int batch, int64_t rows, int in, int out)
{
    vc_linear_args a = {.in = in, .out = out, .rows = rows, .batch = batch};
    const bool tin = kind == 0 || kind == 2;
    if (tin) a.x_batch = in * rows, a.x_row = 1, a.x_col = rows;              /* channel-major frames */
    else if (kind == 1) a.x_batch = rows * in, a.x_row = in, a.x_col = 1;     /* tokens */
    else a.x_batch = in, a.x_row = (int64_t)batch * in, a.x_col = 1;         /* rows (s, t) of [S][T][in] */
    if (kind == 0) a.y_batch = rows * out, a.y_row = out, a.y_col = 1;
    else if (kind == 2) a.y_batch = out, a.y_row = (int64_t)batch * out, a.y_col = 1;
    else a.y_batch = out * rows, a.y_row = 1, a.y_col = rows;
    return a;
}

#endif
