#!/usr/bin/env python3
"""torch_ref.py - a small PyTorch implementation of the VideoCrafter inference
path, written from ../shared/docs/architecture.md (not the original code), used
by the benchmarks as the "PyTorch on the same threads" baseline. It reads the
same model.ckpt (torch.load) and computes with the same tensor names.

    python3 bench/torch_ref.py check CASE_DIR... [--stages unet,text,vae,ddim]
        parity against reference cases: UNet eps, text context (prompt tokens
        from build/videocrafter tokenize or $VIDEOCRAFTER_CLI), VAE decode,
        DDIM coefficients / one guided step / 5 steps (eta 0 and 1); exits 1
        when any error exceeds 1e-4 (contract §5)
    (the bench imports it for timing)
"""
import math
import sys

import torch
import torch.nn.functional as F

# FLOPs executed, 2 per multiply-add, counted from the shapes of every matrix
# product and convolution (spec §10 counts the same way; norms, softmax,
# activations and elementwise work are left out). The bench reads FLOPS[0].
FLOPS = [0]


def linear(x, w, b=None):
    FLOPS[0] += 2 * (x.numel() // x.shape[-1]) * w.shape[0] * w.shape[1]
    return F.linear(x, w, b)


def conv2d(x, w, b=None, stride=1, padding=0):
    y = F.conv2d(x, w, b, stride=stride, padding=padding)
    FLOPS[0] += 2 * y.numel() * w[0].numel()
    return y


def conv3d(x, w, b=None, padding=0):
    y = F.conv3d(x, w, b, padding=padding)
    FLOPS[0] += 2 * y.numel() * w[0].numel()
    return y


def matmul(a, b):
    y = torch.matmul(a, b)
    FLOPS[0] += 2 * y.numel() * a.shape[-1]
    return y


def einsum(eq, a, b, k):
    """k: the length of the summed axis."""
    y = torch.einsum(eq, a, b)
    FLOPS[0] += 2 * y.numel() * k
    return y


def sdpa(q, k, v, scale, causal=False):
    """softmax(q·kᵀ·scale)·v over [..., L, d] heads (§5.11); PyTorch's fused
    CPU kernel (no L×S score matrix in memory), as a PyTorch user would run it."""
    FLOPS[0] += 2 * q.numel() * k.shape[-2] + 2 * q.numel() // q.shape[-1] * k.shape[-2] * v.shape[-1]
    return F.scaled_dot_product_attention(q, k, v, is_causal=causal, scale=scale)


def load_state_dict(path, mmap=False):
    """State dict with every floating tensor as float32 (a no-op view for
    float32 files: with mmap=True a 7 GB checkpoint is paged in, not copied)."""
    ck = torch.load(path, map_location="cpu", weights_only=False, mmap=mmap)
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
    a = torch.tensor(-math.log(10000.0), dtype=torch.float32, device=t.device) * torch.arange(half, dtype=torch.float32, device=t.device)
    f = torch.exp(a / half)
    arg = t.float()[:, None] * f[None]
    return torch.cat([torch.cos(arg), torch.sin(arg)], dim=-1)


def gn(x, W, p, eps, groups=32):
    return F.group_norm(x, groups, W[p + ".weight"], W[p + ".bias"], eps)


def lin(x, W, p, bias=True):
    return linear(x, W[p + ".weight"], W.get(p + ".bias") if bias else None)


def mha(q, k, v, heads, scale, rel=None):
    """§5.11 / §5.7; q [n,L,h*d], k,v [n,S,h*d]."""
    n, L, C = q.shape
    d = C // heads
    qh = q.view(n, L, heads, d).transpose(1, 2)
    kh = k.view(n, k.shape[1], heads, d).transpose(1, 2)
    vh = v.view(n, v.shape[1], heads, d).transpose(1, 2)
    if rel is None:
        o = sdpa(qh, kh, vh, scale)
    else:  # §5.7 relative position: explicit scores (T×T, small)
        ek, ev = rel
        s = matmul(qh, kh.transpose(-1, -2)) * scale
        s = s + einsum("bhld,lmd->bhlm", qh, ek, d) * scale
        p = s.softmax(-1)
        o = matmul(p, vh) + einsum("bhlm,lmd->bhld", p, ev, p.shape[-1])
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
        a = linear(a, W[p + ".proj_in.weight"][:, :, 0], W[p + ".proj_in.bias"])
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
        a = linear(a, W[p + ".proj_out.weight"][:, :, 0], W[p + ".proj_out.bias"])
    else:
        a = lin(a, W, p + ".proj_out")
    y = a.view(B, h, w, T, C).permute(0, 4, 3, 1, 2)
    return (y + z).permute(0, 2, 1, 3, 4).reshape(n, C, h, w)


def resblock(x, emb, B, T, W, p, cfg):
    h = conv2d(F.silu(gn(x, W, p + ".in_layers.0", 1e-5)), W[p + ".in_layers.2.weight"], W[p + ".in_layers.2.bias"], padding=1)
    h = h + lin(F.silu(emb), W, p + ".emb_layers.1")[:, :, None, None]
    h = conv2d(F.silu(gn(h, W, p + ".out_layers.0", 1e-5)), W[p + ".out_layers.3.weight"], W[p + ".out_layers.3.bias"], padding=1)
    s = conv2d(x, W[p + ".skip_connection.weight"], W[p + ".skip_connection.bias"]) if (p + ".skip_connection.weight") in W else x
    h = s + h
    if cfg.temporal_conv:  # §5.4
        n, C, hh, ww = h.shape
        z = h.view(B, T, C, hh, ww).permute(0, 2, 1, 3, 4)
        y = z
        for k in range(1, 5):
            q = p + f".temopral_conv.conv{k}"
            y = F.silu(gn(y, W, q + ".0", 1e-5))
            ci = 2 if k == 1 else 3
            y = conv3d(y, W[q + f".{ci}.weight"], W[q + f".{ci}.bias"], padding=(1, 0, 0))
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
            h = conv2d(h, W[q + ".op.weight"], W[q + ".op.bias"], stride=2, padding=1)
        elif (q + ".conv.weight") in W:
            h = conv2d(F.interpolate(h, scale_factor=2, mode="nearest"), W[q + ".conv.weight"], W[q + ".conv.bias"], padding=1)
        i += 1
    return h


def unet(W, cfg, x, t, ctx, fps=None):
    """§5.1 forward; x [B,4,T,h,w], t [B], ctx [B,L,D], fps [B]."""
    u = "model.diffusion_model."
    if not hasattr(cfg, "prefixes"):
        cfg.prefixes = {".".join(k.split(".")[:n]) for k in W if k.startswith(u) for n in (3, 4, 5)}
    B, _, T, h, w = x.shape
    emb = lin(F.silu(lin(timestep_embedding(t, cfg.mc).to(x.dtype), W, u + "time_embed.0")), W, u + "time_embed.2")
    if cfg.fps_cond:
        emb = emb + lin(F.silu(lin(timestep_embedding(fps, cfg.mc).to(x.dtype), W, u + "fps_embedding.0")), W, u + "fps_embedding.2")
    emb = emb.repeat_interleave(T, 0)
    ctx = ctx.repeat_interleave(T, 0)
    hcur = x.permute(0, 2, 1, 3, 4).reshape(B * T, x.shape[1], h, w)
    skips = []
    for k in range(cfg.n_input):
        p = u + f"input_blocks.{k}"
        if k == 0:
            hcur = conv2d(hcur, W[p + ".0.weight"], W[p + ".0.bias"], padding=1)
            if cfg.init_attn:
                hcur = temporal(hcur, B, T, W, u + "init_attn.0", cfg, init=True)
        else:
            hcur = run_block(hcur, emb, ctx, B, T, W, p, cfg)
        skips.append(hcur)
    hcur = run_block(hcur, emb, ctx, B, T, W, u + "middle_block", cfg)
    for k in range(cfg.n_input):
        hcur = torch.cat([hcur, skips.pop()], dim=1)
        hcur = run_block(hcur, emb, ctx, B, T, W, u + f"output_blocks.{k}", cfg)
    y = conv2d(F.silu(gn(hcur, W, u + "out.0", 1e-5)), W[u + "out.2.weight"], W[u + "out.2.bias"], padding=1)
    return y.view(B, T, -1, h, w).permute(0, 2, 1, 3, 4)


# ------------------------------------------------------------ text (§2.6)

def text_layers(W, c="cond_stage_model.model."):
    pre = c + "transformer.resblocks."
    return len({k[len(pre):].split(".")[0] for k in W if k.startswith(pre)})


def text_encoder(W, tokens, heads, c="cond_stage_model.model."):
    """§2.6 FrozenOpenCLIPEmbedder, layer "penultimate": token ids [B,77]
    int64 -> context [B,77,D]. All blocks but the last, then ln_final."""
    x = W[c + "token_embedding.weight"][tokens] + W[c + "positional_embedding"]
    B, L, D = x.shape
    d = D // heads
    for i in range(text_layers(W, c) - 1):  # the last block is never run
        p = c + f"transformer.resblocks.{i}"
        a = ln(x, W, p + ".ln_1")
        q, k, v = linear(a, W[p + ".attn.in_proj_weight"], W[p + ".attn.in_proj_bias"]).chunk(3, dim=-1)
        sh = lambda t: t.view(B, L, heads, d).transpose(1, 2)
        o = sdpa(sh(q), sh(k), sh(v), d ** -0.5, causal=True).transpose(1, 2).reshape(B, L, D)
        x = x + lin(o, W, p + ".attn.out_proj")
        m = ln(x, W, p + ".ln_2")
        x = x + lin(F.gelu(lin(m, W, p + ".mlp.c_fc")), W, p + ".mlp.c_proj")
    return ln(x, W, c + "ln_final")


# ------------------------------------------------------------- VAE (§4)

SCALE_FACTOR = 0.18215  # §4.4: a config constant of every variant, not a tensor


def vres(x, W, p):
    """§4.1 VRES: GroupNorm eps 1e-6, swish, no time embedding."""
    h = conv2d(F.silu(gn(x, W, p + ".norm1", 1e-6)), W[p + ".conv1.weight"], W[p + ".conv1.bias"], padding=1)
    h = conv2d(F.silu(gn(h, W, p + ".norm2", 1e-6)), W[p + ".conv2.weight"], W[p + ".conv2.bias"], padding=1)
    if (p + ".nin_shortcut.weight") in W:
        x = conv2d(x, W[p + ".nin_shortcut.weight"], W[p + ".nin_shortcut.bias"])
    return x + h


def vatt(x, W, p):
    """§4.1 VATT: one head of width C over the hh·ww positions."""
    n, C, hh, ww = x.shape
    a = gn(x, W, p + ".norm", 1e-6)
    q, k, v = (conv2d(a, W[f"{p}.{m}.weight"], W[f"{p}.{m}.bias"]).reshape(n, 1, C, hh * ww).transpose(-1, -2)
               for m in ("q", "k", "v"))
    o = sdpa(q, k, v, C ** -0.5)  # [n,1,P,C]
    o = o.transpose(-1, -2).reshape(n, C, hh, ww)
    return x + conv2d(o, W[p + ".proj_out.weight"], W[p + ".proj_out.bias"])


def vae_decoder(W, z, f="first_stage_model."):
    """§4.2 decode of one frame per image: z [n,4,h,w] (already divided by the
    scale factor) -> [n,3,8h,8w]. Level/block counts from the tensor names."""
    d = f + "decoder."
    z = conv2d(z, W[f + "post_quant_conv.weight"], W[f + "post_quant_conv.bias"])
    h = conv2d(z, W[d + "conv_in.weight"], W[d + "conv_in.bias"], padding=1)
    h = vres(h, W, d + "mid.block_1")
    h = vatt(h, W, d + "mid.attn_1")
    h = vres(h, W, d + "mid.block_2")
    levels = sorted({int(k.split(".")[3]) for k in W if k.startswith(d + "up.")})
    for lv in reversed(levels):  # up.3 first (lowest resolution), up.0 last
        nb = len({k.split(".")[5] for k in W if k.startswith(f"{d}up.{lv}.block.")})
        for b in range(nb):
            h = vres(h, W, f"{d}up.{lv}.block.{b}")
        if f"{d}up.{lv}.upsample.conv.weight" in W:
            h = F.interpolate(h, scale_factor=2, mode="nearest")
            h = conv2d(h, W[f"{d}up.{lv}.upsample.conv.weight"], W[f"{d}up.{lv}.upsample.conv.bias"], padding=1)
    return conv2d(F.silu(gn(h, W, d + "norm_out", 1e-6)), W[d + "conv_out.weight"], W[d + "conv_out.bias"], padding=1)


def decode_video(W, z):
    """§4.4 decode_first_stage_2DAE: z [B,4,T,h,w] -> video [B,3,T,8h,8w];
    z times fl32(1/0.18215), then frame by frame (the B images of a frame together)."""
    z = z * (1.0 / SCALE_FACTOR)
    return torch.stack([vae_decoder(W, z[:, :, t]) for t in range(z.shape[2])], dim=2)


# ------------------------------------------------------------ DDIM (§7)

def ddim_timesteps(S, N=1000):
    """§7.2 "uniform" with the +1 shift, ascending."""
    return [i + 1 for i in range(0, N, N // S)]


def ddim_coefs(W, tau, k, eta):
    """§7.3 (and §7.5) float32 scalars of list position k: a, a_prev, sigma,
    sqrt(1-a), s_t, s_prev (the scales are None without scale_arr)."""
    ac = W["alphas_cumprod"].float()
    a = ac[tau[k]]
    a_prev = ac[tau[k - 1]] if k >= 1 else ac[0]  # a_prev[0] = ac[0], NOT 1
    r = 1.0 / (1.0 - a)  # float32 ops
    ad, apd, rd = a.double(), a_prev.double(), r.double()
    sigma = (eta * torch.sqrt(((1.0 - apd) * rd) * (1.0 - ad / apd))).float()  # double, rounded once
    # fl(sqrt(fl(1 - a))) correctly rounded: via double, since this torch's
    # float32 scalar sqrt can be 1 ulp off (t = 601 of 5 steps)
    sq1ma = torch.sqrt((1.0 - a).double()).float()
    s_t = s_prev = None
    if "scale_arr" in W:
        sa = W["scale_arr"].float()
        s_t = sa[tau[k]]
        s_prev = sa[tau[k - 1]] if k >= 1 else sa[0]
    return a, a_prev, sigma, sq1ma, s_t, s_prev


def ddim_step(W, cfg, x, tau, k, ctx_c, ctx_u, fps=None, g=12.0, eta=0.0, z=None):
    """§7.4 one guided step at list position k, x [B,4,T,h,w]: cond and uncond
    as one UNet batch of 2B (identical to two calls, §6), then the update."""
    a, a_prev, sigma, sq1ma, s_t, s_prev = ddim_coefs(W, tau, k, eta)
    B = x.shape[0]
    t = torch.full((2 * B,), tau[k], dtype=torch.int64, device=x.device)
    f2 = None if fps is None else torch.cat([fps, fps])
    e2 = unet(W, cfg, torch.cat([x, x]), t, torch.cat([ctx_c, ctx_u]), f2)
    e_c, e_u = e2[:B], e2[B:]
    e = e_u + g * (e_c - e_u)
    x0 = (x - sq1ma * e) / torch.sqrt(a)
    dirx = torch.sqrt((1.0 - a_prev) - sigma * sigma) * e
    if s_t is not None:  # §7.5 use_scale
        x0 = x0 / s_t
        xn = (torch.sqrt(a_prev) * s_prev) * x0 + dirx
    else:
        xn = torch.sqrt(a_prev) * x0 + dirx
    if z is not None:
        xn = xn + sigma * z
    return xn


def ddim_sample(W, cfg, x, S, ctx_c, ctx_u, fps=None, g=12.0, eta=0.0, noise=None):
    """§7.7: all steps from x_T, noisiest first; noise[j] for the j-th executed step.
    Returns the latent after every step."""
    tau = ddim_timesteps(S)
    out = []
    for j, k in enumerate(range(len(tau) - 1, -1, -1)):
        x = ddim_step(W, cfg, x, tau, k, ctx_c, ctx_u, fps, g, eta, None if noise is None else noise[j])
        out.append(x)
    return out


def head_channels_from_yaml(case_dir):
    import re
    txt = open(case_dir + "/config.yaml").read()
    m = re.search(r"num_head_channels:\s*(\d+)", txt)
    return int(m.group(1)) if m else 64


def text_heads_from_json(case_dir):
    import glob
    import json
    for f in sorted(glob.glob(case_dir + "/open_clip_*.json")):
        return int(json.load(open(f))["text_cfg"]["heads"])
    return 16  # ViT-H-14


def fps_from_readme(case_dir):
    """The fps the case's sampler passed in cond['fps'] (case README, Run settings)."""
    import re
    m = re.search(r"fps in cond\['fps'\] for sampling: (\d+)", open(case_dir + "/README.md").read())
    return int(m.group(1)) if m else None


def tokenize(prompts):
    """Token ids [n,77] from our C CLI (`videocrafter tokenize`, spec §2.1-2.5):
    $VIDEOCRAFTER_CLI, else build/videocrafter of this checkout. None if absent.
    The empty prompt needs no tokenizer (§2.6: 49406 49407, then zeros)."""
    import os
    import subprocess
    if all(p == "" for p in prompts):
        t = torch.zeros(len(prompts), 77, dtype=torch.int64)
        t[:, 0], t[:, 1] = 49406, 49407
        return t
    cli = os.environ.get("VIDEOCRAFTER_CLI") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build", "videocrafter")
    if not os.access(cli, os.X_OK):
        return None
    args = [cli, "tokenize", "--quiet"]
    for p in prompts:
        args += ["--prompt", p]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return torch.tensor([[int(v) for v in line.split()] for line in out.strip().split("\n")], dtype=torch.int64)


def rel_err(out, ref):
    import numpy as np
    out = out.numpy() if isinstance(out, torch.Tensor) else out
    return float(np.abs(out.astype(np.float64) - ref).max() / np.abs(ref).max())


STAGES = ("unet", "text", "vae", "ddim")


def check(case_dir, stages=STAGES):
    """Parity of every stage against the case's reference files; prints one
    line per comparison and returns {what: rel err} (max|out-ref|/max|ref|)."""
    import os
    import numpy as np
    torch.set_grad_enabled(False)
    ld = lambda n: np.load(os.path.join(case_dir, n))
    tt = lambda n: torch.from_numpy(ld(n))
    W = load_state_dict(case_dir + "/model.ckpt")
    cfg = UNetConfig(W, head_channels_from_yaml(case_dir))
    errs = {}

    def report(what, out, ref):
        errs[what] = rel_err(out, ref)
        print(f"{case_dir}: torch_ref {what:28s} rel err {errs[what]:.3e}")

    if "unet" in stages:
        fps = tt("unet_in_fps.npy") if os.path.exists(case_dir + "/unet_in_fps.npy") else None
        out = unet(W, cfg, tt("unet_in_x.npy"), tt("unet_in_t.npy"), tt("unet_in_context.npy"), fps)
        report("UNet", out, ld("unet_out_eps.npy"))
    if "text" in stages:
        prompt = open(case_dir + "/prompt.txt", encoding="utf-8").read().rstrip("\n")
        heads = text_heads_from_json(case_dir)
        ref = ld("context.npy")  # rows: [prompt, ""]
        tok = tokenize([prompt, ""])
        if tok is None:
            print(f"{case_dir}: torch_ref text: no build/videocrafter to tokenize the prompt "
                  "(make, or set VIDEOCRAFTER_CLI); checking the empty-prompt row only")
            report("text context [''] row", text_encoder(W, tokenize([""]), heads), ref[1:2])
        else:
            report("text context [prompt, '']", text_encoder(W, tok, heads), ref)
    if "vae" in stages:
        report("VAE decode", decode_video(W, tt("vae_in_z.npy")), ld("vae_out_video.npy"))
    if "ddim" in stages:
        if os.path.exists(case_dir + "/context_full.npy"):  # I2V: text + image tokens (§6)
            c, u = tt("context_full.npy"), tt("uncond_context.npy")
        else:
            c, u = tt("ddim_cond_context.npy"), tt("ddim_uncond_context.npy")
        f = fps_from_readme(case_dir) if cfg.fps_cond else None
        fps = None if f is None else torch.full((1,), f, dtype=torch.int64)
        S = 5
        tau = ddim_timesteps(S)
        ks = list(range(len(tau) - 1, -1, -1))
        if [tau[k] for k in ks] != ld("ddim5_timesteps.npy").tolist():
            errs["DDIM timesteps"] = 1.0
            print(f"{case_dir}: torch_ref DDIM timesteps {[tau[k] for k in ks]} differ from the reference")
        for eta in (0.0, 1.0):
            tag = f"eta{int(eta)}"
            coefs = ld(f"ddim5_{tag}_coefs.npy")  # [t, a, a_prev, sigma, sq1ma, s_t, s_prev]
            mine = []
            for k in ks:
                a, ap, sg, sq, st, sp = ddim_coefs(W, tau, k, eta)
                one = torch.tensor(1.0)
                mine.append([tau[k], a, ap, sg, sq, one if st is None else st, one if sp is None else sp])
            mine = np.array([[float(v) for v in row] for row in mine])
            errs[f"DDIM {tag} coefs"] = float(np.abs(mine - coefs).max())
            print(f"{case_dir}: torch_ref DDIM {tag} coefficients      max abs diff {errs[f'DDIM {tag} coefs']:.3e}")
            ref_steps = ld(f"ddim5_{tag}_cfg12_steps.npy")
            noise = tt(f"ddim5_{tag}_noise.npy") if eta else None
            x = tt("ddim_x_T.npy")
            worst = 0.0
            for j, k in enumerate(ks):  # each step alone, from the reference latent before it
                xin = x if j == 0 else torch.from_numpy(ref_steps[j - 1])
                out = ddim_step(W, cfg, xin, tau, k, c, u, fps, 12.0, eta, None if noise is None else noise[j])
                worst = max(worst, rel_err(out, ref_steps[j]))
            errs[f"DDIM {tag} step"] = worst
            print(f"{case_dir}: torch_ref DDIM {tag} cfg12 one step (worst of 5) rel err {worst:.3e}")
            if eta == 0.0:  # the whole chain from x_T
                steps = ddim_sample(W, cfg, x, S, c, u, fps, 12.0, eta)
                report(f"DDIM {tag} cfg12 5 steps", steps[-1], ld(f"ddim5_{tag}_cfg12.npy"))
    return errs


TOL = 1e-4  # interface contract §5, float32 stages


if __name__ == "__main__":
    args = sys.argv[1:]
    if len(args) >= 2 and args[0] == "check":
        torch.set_num_threads(1)  # tiny models: threads only add noise to a shared machine
        stages = STAGES
        if "--stages" in args:
            i = args.index("--stages")
            stages = args[i + 1].split(",")
            del args[i:i + 2]
        bad = []
        for d in args[1:]:
            for what, e in check(d, stages).items():
                if not e <= TOL:  # NaN fails too
                    bad.append(f"{d}: {what} {e:.3e}")
        sys.stdout.flush()
        for b in bad:
            print(f"FAIL (> {TOL:g}): {b}", file=sys.stderr)
        print("torch_ref check: " + ("FAILED" if bad else "all stages within %g" % TOL))
        sys.exit(1 if bad else 0)
    print(__doc__)
