/* unet_api.c - vc_unet_eps: one UNet call on host tensors (spec §5, §6). */
#include <stdlib.h>
#include <string.h>

#include "unet.h"

/* int64 copy of an integer vector [B] (i64 or i32), or NULL with an error */
static vc_status int_vector(vc_context *ctx, const vc_tensor *t, int64_t B, const char *what, int64_t **out)
{
    *out = NULL;
    if (!t || !t->data || (t->dtype != VC_DTYPE_I64 && t->dtype != VC_DTYPE_I32) || t->ndim > 1 ||
        (t->ndim == 1 && t->shape[0] != B && t->shape[0] != 1)) {
        char sb[96];
        return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "%s must be an int64 vector [%lld] (got %s, dtype %d)",
                       what, (long long)B, t ? vc_shape_str(t, sb, sizeof sb) : "NULL", t ? (int)t->dtype : -1);
    }
    int64_t *v = malloc((size_t)B * sizeof *v);
    if (!v) return vc_fail(ctx, VC_STATUS_OUT_OF_MEMORY, "out of memory");
    int64_t n = vc_tensor_numel(t);
    for (int64_t b = 0; b < B; b++) {
        int64_t i = n == 1 ? 0 : b; /* a single value is broadcast (§5.3) */
        v[b] = t->dtype == VC_DTYPE_I64 ? ((const int64_t *)t->data)[i] : ((const int32_t *)t->data)[i];
        if (v[b] < -(1 << 24) || v[b] > (1 << 24)) {
            const long long bad = (long long)v[b];
            free(v);
            return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "%s[%lld] = %lld is outside +-2^24", what,
                           (long long)b, bad);
        }
    }
    *out = v;
    return VC_STATUS_OK;
}

vc_status vc_unet_eps(vc_context *ctx, const vc_model *model, const vc_tensor *x, const vc_tensor *t,
                      const vc_tensor *context, const vc_tensor *fps, vc_tensor *eps)
{
    vc_clear_error(ctx);
    if (eps) memset(eps, 0, sizeof *eps);
    if (!ctx || !model || !x || !t || !context || !eps)
        return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "vc_unet_eps: NULL argument");
    atomic_store(&ctx->cancel_requested, 0);
    const vc_unet_config *u = &model->cfg.unet;
    char sb[96];
    if (!vc_tensor_is(x, VC_DTYPE_F32, 5) || x->shape[1] != u->in_channels)
        return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "UNet x must be float32 [B,%d,T,h,w] (got %s)",
                       u->in_channels, vc_shape_str(x, sb, sizeof sb));
    for (int i = 0; i < 5; i++)
        if (x->shape[i] < 1 || x->shape[i] > (1 << 20))
            return vc_fail(ctx, VC_STATUS_BAD_SIZE, "UNet x has shape %s", vc_shape_str(x, sb, sizeof sb));
    const int64_t B = x->shape[0], T = x->shape[2], h = x->shape[3], w = x->shape[4];
    if (!vc_tensor_is(context, VC_DTYPE_F32, 3) || (context->shape[0] != B && context->shape[0] != 1) ||
        context->shape[2] != u->context_dim || context->shape[1] < 1 || context->shape[1] > 4096)
        return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "UNet context must be float32 [%lld,L,%d] (got %s)",
                       (long long)B, u->context_dim, vc_shape_str(context, sb, sizeof sb));
    vc_status st = vc_unet_check_size(ctx, u, (int32_t)T, (int32_t)h, (int32_t)w);
    if (st) return st;
    const int64_t L = context->shape[1];
    int64_t *tv = NULL, *fv = NULL;
    if ((st = int_vector(ctx, t, B, "UNet timesteps t", &tv))) return st;
    if (u->fps_cond) {
        if (fps) {
            st = int_vector(ctx, fps, B, "UNet fps", &fv);
        } else if (!(fv = malloc((size_t)B * sizeof *fv))) {
            st = vc_fail(ctx, VC_STATUS_OUT_OF_MEMORY, "out of memory");
        } else {
            for (int64_t b = 0; b < B; b++) fv[b] = model->cfg.default_fps; /* the script's value */
        }
        if (st) {
            free(tv);
            return st;
        }
    }

    vc_backend *be = ctx->backend;
    const int64_t nx = vc_tensor_numel(x), ne = B * u->out_channels * T * h * w, nc = B * L * u->context_dim;
    int64_t eshape[5] = {B, u->out_channels, T, h, w};
    if ((st = vc_tensor_make(ctx, eps, VC_DTYPE_F32, 5, eshape))) goto done;
    size_t mark = vc_arena_mark(be);
    float *xd = vc_arena_floats(be, nx), *cd = vc_arena_floats(be, nc), *ed = vc_arena_floats(be, ne);
    if (!xd || !cd || !ed || !be->ops->upload || !be->ops->download) {
        st = vc_fail(ctx, !xd || !cd || !ed ? VC_STATUS_OUT_OF_MEMORY : VC_STATUS_UNSUPPORTED,
                     "UNet: cannot stage the inputs on the backend");
    } else {
        be->ops->upload(be, xd, x->data, (size_t)nx * 4);
        const size_t row = (size_t)L * u->context_dim * 4;
        for (int64_t b = 0; b < B; b++) /* a single context row is broadcast over the batch */
            be->ops->upload(be, (char *)cd + b * row, (const char *)context->data + (context->shape[0] == 1 ? 0 : b * row),
                            row);
        st = vc_unet_forward(ctx, u, vc_unet_weights_of_model(model), xd, (int32_t)B, (int32_t)T, (int32_t)h,
                             (int32_t)w, tv, fv, cd, (int32_t)L, ed);
        if (!st) st = vc_backend_sync(be);
        if (!st) be->ops->download(be, eps->data, ed, (size_t)ne * 4);
    }
    vc_arena_release(be, mark);
    if (st) vc_tensor_free(eps);
done:
    free(tv);
    free(fv);
    return st;
}
