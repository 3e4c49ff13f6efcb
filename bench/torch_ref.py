#!/usr/bin/env python3
"""torch_ref.py - a small PyTorch implementation of the VideoCrafter inference
path, written from ../shared/docs/architecture.md (not the original code), used
by the benchmarks as the "PyTorch on the same threads" baseline. It reads the
same model.ckpt (torch.load) and computes with the same tensor names.

    python3 bench/torch_ref.py check CASE_DIR      # parity against a reference case
    (the bench imports it for timing)
"""
import math
import sys

import torch
import torch.nn.functional as F


def load_state_dict(path):
    ck = torch.load(path, map_location="cpu", weights_only=False)
    if isinstance(ck, dict) and "module" in ck:
        return {k[16:]: v.float() for k, v in ck["module"].items()}  # spec §9.1 blind strip
    sd = ck.get("state_dict", ck) if isinstance(ck, dict) else ck
    return {k: v.float() if torch.is_floating_point(v) else v for k, v in sd.items()}


class UNetConfig:
    """Sizes from shapes (spec §1.6); head width must be given (never guessed)."""

    def __init__(self, W, head_channels=64, temporal_length=16):
        u = "model.diffusion_model."
        self.mc = W[u + "input_blocks.0.0.weight"].shape[0]
        self.head = head_channels
        self.fps_cond = (u + "fps_embedding.0.weight") in W
        self.temporal_conv = any(".temopral_conv." in k for k in W)
        self.relpos = any("relative_position_k" in k for k in W)
        self.image_attn = any("to_k_ip" in k for k in W)
        self.init_attn = (u + "init_attn.0.norm.weight") in W
        widths, l = [], 1
        # channel_mult from the ResBlock output widths of the down path
        blocks = sorted({int(k.split(".")[3]) for k in W if k.startswith(u + "input_blocks.")})
        self.n_input = len(blocks)
        self.down_at = [b for b in blocks if (u + f"input_blocks.{b}.0.op.weight") in W]
        self.levels = len(self.down_at) + 1
        self.nrb = (self.n_input - 1 - len(self.down_at)) // self.levels
        self.M = temporal_length


def timestep_embedding(t, dim):
    """§5.2: float32 sinusoid, cos first."""
    half = dim // 2
    a = torch.tensor(-math.log(10000.0), dtype=torch.float32) * torch.arange(half, dtype=torch.float32)
    f = torch.exp(a / half)
    arg = t.float()[:, None] * f[None]
    return torch.cat([torch.cos(arg), torch.sin(arg)], dim=-1)


def gn(x, W, p, eps, groups=32):
    return F.group_norm(x, groups, W[p + ".weight"], W[p + ".bias"], eps)


def lin(x, W, p, bias=True):
    return F.linear(x, W[p + ".weight"], W.get(p + ".bias") if bias else None)


def mha(q, k, v, heads, scale, rel=None):
    """§5.11 / §5.7; q [n,L,h*d], k,v [n,S,h*d]."""
    n, L, C = q.shape
    d = C // heads
    qh = q.view(n, L, heads, d).transpose(1, 2)
    kh = k.view(n, k.shape[1], heads, d).transpose(1, 2)
    vh = v.view(n, v.shape[1], heads, d).transpose(1, 2)
    s = torch.matmul(qh, kh.transpose(-1, -2)) * scale
    if rel is not None:
        ek, ev = rel
        s = s + torch.einsum("bhld,lmd->bhlm", qh, ek) * scale
    p = s.softmax(-1)
    o = torch.matmul(p, vh)
    if rel is not None:
        o = o + torch.einsum("bhlm,lmd->bhld", p, ev)
    return o.transpose(1, 2).reshape(n, L, C)


def rel_tables(W, p, T, M):
    idx = torch.arange(T)
    r = (idx[None, :] - idx[:, None]).clamp(-M, M) + M
    return W[p + ".relative_position_k.embeddings_table"][r], W[p + ".relative_position_v.embeddings_table"][r]


def attn(x, W, p, heads, ctx=None, rel=None, image_ctx=None):
    kv = x if ctx is None else ctx
    q = lin(x, W, p + ".to_q", False)
    d = q.shape[-1] // heads
    scale = d ** -0.5
    o = mha(q, lin(kv, W, p + ".to_k", False), lin(kv, W, p + ".to_v", False), heads, scale, rel)
    if image_ctx is not None:  # §5.6 independent softmax over the image tokens
        o = o + mha(q, lin(image_ctx, W, p + ".to_k_ip", False), lin(image_ctx, W, p + ".to_v_ip", False), heads, scale)
    return lin(o, W, p + ".to_out.0")


def geglu_ff(x, W, p):
    g = lin(x, W, p + ".net.0.proj")
    a, b = g.chunk(2, dim=-1)
    return lin(a * F.gelu(b), W, p + ".net.2")


def ln(x, W, p):
    return F.layer_norm(x, (x.shape[-1],), W[p + ".weight"], W[p + ".bias"], 1e-5)


def spatial(x, ctx, W, p, cfg):
    n, C, h, w = x.shape
    heads = C // cfg.head
    a = gn(x, W, p + ".norm", 1e-6).permute(0, 2, 3, 1).reshape(n, h * w, C)
    a = lin(a, W, p + ".proj_in")
    b = p + ".transformer_blocks.0"
    a = a + attn(ln(a, W, b + ".norm1"), W, b + ".attn1", heads)
    txt, img = (ctx[:, :77], ctx[:, 77:]) if cfg.image_attn else (ctx, None)
    a = a + attn(ln(a, W, b + ".norm2"), W, b + ".attn2", heads, ctx=txt, image_ctx=img)
    a = a + geglu_ff(ln(a, W, b + ".norm3"), W, b + ".ff")
    a = lin(a, W, p + ".proj_out")
    return x + a.reshape(n, h, w, C).permute(0, 3, 1, 2)


def temporal(x, B, T, W, p, cfg, init=False):
    n, C, h, w = x.shape
    z = x.view(B, T, C, h, w).permute(0, 2, 1, 3, 4)  # unfold [B,C,T,h,w]
    a = gn(z, W, p + ".norm", 1e-6)
    a = a.permute(0, 3, 4, 2, 1).reshape(B * h * w, T, C)
    if init:  # §5.8 Conv1d projections, 8 heads of d
        a = F.linear(a, W[p + ".proj_in.weight"][:, :, 0], W[p + ".proj_in.bias"])
        heads = 8
    else:
        a = lin(a, W, p + ".proj_in")
        heads = C // cfg.head
    b = p + ".transformer_blocks.0"
    r1 = rel_tables(W, b + ".attn1", T, cfg.M) if cfg.relpos else None
    r2 = rel_tables(W, b + ".attn2", T, cfg.M) if cfg.relpos else None
    a = a + attn(ln(a, W, b + ".norm1"), W, b + ".attn1", heads, rel=r1)
    a = a + attn(ln(a, W, b + ".norm2"), W, b + ".attn2", heads, rel=r2)
    a = a + geglu_ff(ln(a, W, b + ".norm3"), W, b + ".ff")
    if init:
        a = F.linear(a, W[p + ".proj_out.weight"][:, :, 0], W[p + ".proj_out.bias"])
    else:
        a = lin(a, W, p + ".proj_out")
    y = a.view(B, h, w, T, C).permute(0, 4, 3, 1, 2)
    return (y + z).permute(0, 2, 1, 3, 4).reshape(n, C, h, w)


def resblock(x, emb, B, T, W, p, cfg):
    h = F.conv2d(F.silu(gn(x, W, p + ".in_layers.0", 1e-5)), W[p + ".in_layers.2.weight"], W[p + ".in_layers.2.bias"], padding=1)
    h = h + lin(F.silu(emb), W, p + ".emb_layers.1")[:, :, None, None]
    h = F.conv2d(F.silu(gn(h, W, p + ".out_layers.0", 1e-5)), W[p + ".out_layers.3.weight"], W[p + ".out_layers.3.bias"], padding=1)
    s = F.conv2d(x, W[p + ".skip_connection.weight"], W[p + ".skip_connection.bias"]) if (p + ".skip_connection.weight") in W else x
    h = s + h
    if cfg.temporal_conv:  # §5.4
        n, C, hh, ww = h.shape
        z = h.view(B, T, C, hh, ww).permute(0, 2, 1, 3, 4)
        y = z
        for k in range(1, 5):
            q = p + f".temopral_conv.conv{k}"
            y = F.silu(gn(y, W, q + ".0", 1e-5))
            ci = 2 if k == 1 else 3
            y = F.conv3d(y, W[q + f".{ci}.weight"], W[q + f".{ci}.bias"], padding=(1, 0, 0))
        h = (y + z).permute(0, 2, 1, 3, 4).reshape(n, C, hh, ww)
    return h


def run_block(h, emb, ctx, B, T, W, p, cfg):
    """Sub-modules in index order (§5.1): R at 0; S at 1 and Tt at 2 when the
    block has transformers; D (op) or U (conv) wherever they sit."""
    i = 0
    while f"{p}.{i}" in cfg.prefixes:
        q = f"{p}.{i}"
        if (q + ".in_layers.0.weight") in W:
            h = resblock(h, emb, B, T, W, q, cfg)
        elif (q + ".proj_in.weight") in W:
            h = spatial(h, ctx, W, q, cfg) if i == 1 else temporal(h, B, T, W, q, cfg)
        elif (q + ".op.weight") in W:
            h = F.conv2d(h, W[q + ".op.weight"], W[q + ".op.bias"], stride=2, padding=1)
        elif (q + ".conv.weight") in W:
            h = F.conv2d(F.interpolate(h, scale_factor=2, mode="nearest"), W[q + ".conv.weight"], W[q + ".conv.bias"], padding=1)
        i += 1
    return h


def unet(W, cfg, x, t, ctx, fps=None):
    """§5.1 forward; x [B,4,T,h,w], t [B], ctx [B,L,D], fps [B]."""
    u = "model.diffusion_model."
    if not hasattr(cfg, "prefixes"):
        cfg.prefixes = {".".join(k.split(".")[:n]) for k in W if k.startswith(u) for n in (3, 4, 5)}
    B, _, T, h, w = x.shape
    emb = lin(F.silu(lin(timestep_embedding(t, cfg.mc), W, u + "time_embed.0")), W, u + "time_embed.2")
    if cfg.fps_cond:
        emb = emb + lin(F.silu(lin(timestep_embedding(fps, cfg.mc), W, u + "fps_embedding.0")), W, u + "fps_embedding.2")
    emb = emb.repeat_interleave(T, 0)
    ctx = ctx.repeat_interleave(T, 0)
    hcur = x.permute(0, 2, 1, 3, 4).reshape(B * T, x.shape[1], h, w)
    skips = []
    for k in range(cfg.n_input):
        p = u + f"input_blocks.{k}"
        if k == 0:
            hcur = F.conv2d(hcur, W[p + ".0.weight"], W[p + ".0.bias"], padding=1)
            if cfg.init_attn:
                hcur = temporal(hcur, B, T, W, u + "init_attn.0", cfg, init=True)
        else:
            hcur = run_block(hcur, emb, ctx, B, T, W, p, cfg)
        skips.append(hcur)
    hcur = run_block(hcur, emb, ctx, B, T, W, u + "middle_block", cfg)
    for k in range(cfg.n_input):
        hcur = torch.cat([hcur, skips.pop()], dim=1)
        hcur = run_block(hcur, emb, ctx, B, T, W, u + f"output_blocks.{k}", cfg)
    y = F.conv2d(F.silu(gn(hcur, W, u + "out.0", 1e-5)), W[u + "out.2.weight"], W[u + "out.2.bias"], padding=1)
    return y.view(B, T, -1, h, w).permute(0, 2, 1, 3, 4)


def head_channels_from_yaml(case_dir):
    import re
    txt = open(case_dir + "/config.yaml").read()
    m = re.search(r"num_head_channels:\s*(\d+)", txt)
    return int(m.group(1)) if m else 64


def check(case_dir):
    import numpy as np
    torch.set_grad_enabled(False)
    W = load_state_dict(case_dir + "/model.ckpt")
    cfg = UNetConfig(W, head_channels_from_yaml(case_dir))
    x = torch.from_numpy(np.load(case_dir + "/unet_in_x.npy"))
    t = torch.from_numpy(np.load(case_dir + "/unet_in_t.npy"))
    c = torch.from_numpy(np.load(case_dir + "/unet_in_context.npy"))
    try:
        fps = torch.from_numpy(np.load(case_dir + "/unet_in_fps.npy"))
    except FileNotFoundError:
        fps = None
    ref = np.load(case_dir + "/unet_out_eps.npy")
    out = unet(W, cfg, x, t, c, fps).numpy()
    err = np.abs(out - ref).max() / np.abs(ref).max()
    print(f"{case_dir}: torch_ref UNet rel err {err:.3e}")
    return err


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "check":
        bad = [d for d in sys.argv[2:] if check(d) > 1e-4]
        sys.exit(1 if bad else 0)
    print(__doc__)
