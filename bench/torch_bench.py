#!/usr/bin/env python3
"""torch_bench.py - the PyTorch CPU side of `make bench` (issue #10 item 2).

Runs the same work as the C bench programs with our own small PyTorch model
(torch_ref.py, written from the spec, not the original code) on the same
weights file and thread count, and writes the rows under the same names so
compare.py can pair them:

    python3 bench/torch_bench.py --ckpt FILE [--threads N] [--out out/torch.json]
        [--frames 1,4,16] [--ddim-frames 16] [--size HxW] [--quick] [--filter TEXT]
        [--head-channels 64] [--text-heads 16] [--cpu-time]
        [--device cuda --dtype fp16|fp32] [--video-steps K]

On a GPU (--device cuda) the weights are moved to the card in --dtype (the
schedule buffers stay float32), every row is synchronised before its clock
stops, row names end in " [cuda fp16]" (as bench_model --backend cuda names
its rows) and the peak GPU memory PyTorch allocated is printed. --video-steps K
adds "video HxWxT K steps": K guided DDIM steps of --ddim-frames frames and the
decode of every frame, as bench_model's row of that name.

FILE is a full-model checkpoint in the original VideoCrafter format (keys
model.diffusion_model.*, cond_stage_model.model.*, first_stage_model.*,
alphas_cumprod, scale_arr); it is memory-mapped, so a 7 GB float32 file is
paged in, not copied. Sizes come from the tensor shapes; the UNet head width
(--head-channels, 64 for the released models) and the text tower's head count
(--text-heads, 16 for ViT-H) are not in the shapes and must be given for other
models (the tiny reference models: 16 and 4).

Rows (H x W = --size, latent h x w = H/8 x W/8, batch 1, t = 981, fps 28):
    unet HxW T<n>             one UNet forward per --frames entry, random context
    ddim step cfg HxW T<n>    one guided DDIM step (cond + uncond as one batch of 2), n = --ddim-frames
    text encoder 77 tokens    one prompt through the text tower
    vae decode HxW 1 frame    one latent frame [1,4,h,w] -> image (incl. the 1/scale_factor step)

Timing: wall clock; a row whose first run is shorter than 3 s (0.5 s with
--quick) is run again and the second run is reported (the first one was the
warm-up); longer rows are measured once. The weights are read once before
timing so page faults of the mapping are not timed. GFLOP: every matrix
product and convolution executed, 2 FLOPs per multiply-add, counted from the
shapes as they run (torch_ref.FLOPS). --cpu-time (as the C harness's): time =
process CPU time / threads, for a machine other jobs keep busy.
"""
import argparse
import os
import platform
import resource
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_ref as R  # noqa: E402

# token ids of "An astronaut riding a horse on Mars, highly detailed" (spec §2.5
# layout); the cost of the text tower does not depend on the ids
PROMPT_IDS = [49406, 550, 18376, 6765, 320, 4558, 525, 7496, 267, 5302, 12609, 49407]


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ckpt", required=True, help="full-model checkpoint (original VideoCrafter format)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = all cores)")
    ap.add_argument("--out", help="JSON output (bench_util.c format)")
    ap.add_argument("--frames", default="1,4,16", help="UNet rows: comma-separated frame counts")
    ap.add_argument("--ddim-frames", type=int, default=16, help="frames of the DDIM step row")
    ap.add_argument("--size", default="320x512", help="video size HxW (latent = size/8)")
    ap.add_argument("--quick", action="store_true", help="warm-up only for rows under 0.5 s")
    ap.add_argument("--filter", help="only rows whose name contains TEXT")
    ap.add_argument("--head-channels", type=int, default=64, help="UNet attention head width")
    ap.add_argument("--text-heads", type=int, default=16, help="text transformer heads")
    ap.add_argument("--cpu-time", action="store_true", help="time = process CPU time / threads")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    ap.add_argument("--dtype", default="fp32", choices=["fp32", "fp16", "bf16"], help="weights and activations")
    ap.add_argument("--video-steps", type=int, default=0, help="also a whole video of K DDIM steps")
    a = ap.parse_args(argv)
    try:
        a.H, a.W = (int(v) for v in a.size.lower().split("x"))
        a.frames = [int(v) for v in a.frames.split(",") if v.strip()]
    except ValueError:
        ap.error(f"bad --size {a.size!r} or --frames {a.frames!r}")
    if a.H % 8 or a.W % 8 or a.H <= 0 or a.W <= 0:
        ap.error(f"--size {a.size}: height and width must be positive multiples of 8")
    if a.threads <= 0:
        a.threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return a


class Bench:
    def __init__(self, args):
        self.args = args
        self.rows = []  # (name, seconds, gflop)

    def want(self, name):
        return not self.args.filter or self.args.filter in name

    def run(self, name, fn):
        """Times fn() (see the module comment) and records the row."""
        warm = 0.5 if self.args.quick else 3.0
        if self.args.cpu_time:
            clock = lambda: time.process_time() / self.args.threads
        else:
            clock = time.perf_counter

        cuda = self.args.device.startswith("cuda")

        def once():
            R.FLOPS[0] = 0
            t0 = clock()
            fn()
            if cuda:
                torch.cuda.synchronize()
            return clock() - t0, R.FLOPS[0] * 1e-9

        dt, gf = once()
        if dt < warm:
            dt, gf = once()
            reps = 0
            while dt < 0.2 and reps < 4:  # tiny rows: best of a few more
                dt = min(dt, once()[0])
                reps += 1
        if self.args.device.startswith("cuda"):
            name += f" [cuda {self.args.dtype}]"
        self.rows.append((name, dt, gf))
        print(f"  {name}: {dt:.3f} s, {gf:.1f} GFLOP, {gf / dt:.1f} GFLOP/s", flush=True)

    def finish(self):
        a = self.args
        cores = os.sysconf("SC_NPROCESSORS_ONLN")
        rss = peak_rss_mib()
        print(f"\ntorch_bench: {a.threads} threads on {cores} cores ({platform.system()} {platform.machine()}), "
              f"PyTorch {torch.__version__}{', times are CPU time / threads' if a.cpu_time else ''}")
        print(f"{'benchmark':<58s} {'time ms':>10s} {'GFLOP/s':>9s} {'GFLOP':>10s}")
        for name, s, gf in self.rows:
            print(f"{name:<58s} {s * 1e3:10.3f} {gf / s if gf > 0 else 0:9.1f} {gf:10.1f}")
        print(f"peak RSS {rss:.0f} MiB")
        if a.device.startswith("cuda"):
            print(f"peak GPU memory allocated {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB "
                  f"({torch.cuda.get_device_name()})")
        if not a.out:
            return 0
        os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
        with open(a.out, "w") as f:  # byte-for-byte the layout bench_util.c writes
            f.write("{\n  \"program\": \"torch_bench\",\n  \"threads\": %d,\n  \"cores\": %d,\n  \"machine\": \"%s\",\n"
                    % (a.threads, cores, platform.machine()))
            f.write("  \"cpu_time\": %s,\n  \"version\": \"%s\",\n  \"peak_gflops\": %.3f,\n  \"peak_rss_mib\": %.1f,\n"
                    "  \"results\": [\n" % ("true" if a.cpu_time else "false", torch.__version__, 0.0, rss))
            for i, (name, s, gf) in enumerate(self.rows):
                f.write("    {\"name\": \"%s\", \"seconds\": %.6f, \"gflop\": %.4f, \"gflops\": %.3f, \"frac_peak\": %.4f, "
                        "\"gbytes\": %.4f}%s\n" % (name, s, gf, gf / s if gf > 0 else 0.0, 0.0, 0.0,
                                                    "," if i + 1 < len(self.rows) else ""))
            f.write("  ]\n}\n")
        print(f"wrote {a.out}")
        return 0


def context_dim(W):
    u = "model.diffusion_model."
    for k, v in W.items():
        if k.startswith(u) and k.endswith(".1.transformer_blocks.0.attn2.to_k.weight"):
            return v.shape[1]
    raise SystemExit("torch_bench: no spatial cross-attention (attn2.to_k) in the checkpoint's UNet")


def main(argv):
    a = parse_args(argv)
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    t0 = time.perf_counter()
    W = R.load_state_dict(a.ckpt, mmap=True)
    has = lambda pre: any(k.startswith(pre) for k in W)
    # page the mapped weights in before timing (reads every byte once)
    for v in W.values():
        if torch.is_floating_point(v):
            v.sum()
    print(f"torch_bench: {a.ckpt}: {len(W)} tensors, "
          f"{sum(v.numel() * v.element_size() for v in W.values()) / 2**30:.2f} GiB, loaded and paged in "
          f"in {time.perf_counter() - t0:.1f} s; {a.threads} threads", flush=True)
    dev = torch.device(a.device)
    dt = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[a.dtype]
    if a.device != "cpu" or dt != torch.float32:
        keep32 = ("alphas_cumprod", "scale_arr")  # schedule buffers: float32 maths (§7)
        W = {k: v.to(dev, dt if torch.is_floating_point(v) and k not in keep32 else v.dtype) for k, v in W.items()}
    rnd = lambda *shape: torch.randn(*shape).to(dev, dt)
    b = Bench(a)
    h, w = a.H // 8, a.W // 8
    size = f"{a.H}x{a.W}"
    with torch.inference_mode():
        torch.matmul(torch.ones(256, 256, device=dev), torch.ones(256, 256, device=dev))  # start the pool / context
        if has("model.diffusion_model."):
            cfg = R.UNetConfig(W, a.head_channels)
            D = context_dim(W)
            L = 77 + (16 if cfg.image_attn else 0)  # §6 (I2V: 16 image tokens)
            t = torch.full((1,), 981, dtype=torch.int64, device=dev)
            fps = torch.full((1,), 28, dtype=torch.int64, device=dev) if cfg.fps_cond else None
            ctx = rnd(1, L, D)
            for T in a.frames:
                name = f"unet {size} T{T}"
                if b.want(name):
                    x = rnd(1, 4, T, h, w)
                    b.run(name, lambda: R.unet(W, cfg, x, t, ctx, fps))
            name = f"ddim step cfg {size} T{a.ddim_frames}"
            if a.ddim_frames > 0 and b.want(name):  # --ddim-frames 0: no DDIM row
                if "alphas_cumprod" not in W:
                    print(f"  {name}: skipped (no alphas_cumprod in the checkpoint)")
                else:
                    x = rnd(1, 4, a.ddim_frames, h, w)
                    ctx_u = rnd(1, L, D)
                    tau = R.ddim_timesteps(50)  # list position 49: t = 981, the first step of a run
                    b.run(name, lambda: R.ddim_step(W, cfg, x, tau, len(tau) - 1, ctx, ctx_u, fps, 12.0, 0.0))
            name = f"video {size}x{a.ddim_frames} {a.video_steps} steps"
            if a.video_steps > 0 and b.want(name) and has("first_stage_model.decoder."):
                x = rnd(1, 4, a.ddim_frames, h, w)
                ctx_u = rnd(1, L, D)
                b.run(name, lambda: R.decode_video(
                    W, R.ddim_sample(W, cfg, x, a.video_steps, ctx, ctx_u, fps, 12.0, 0.0)[-1]))
        else:
            print("  unet / ddim rows: skipped (no model.diffusion_model.* tensors)")
        name = "text encoder 77 tokens"
        if b.want(name):
            if has("cond_stage_model.model."):
                tok = torch.zeros(1, 77, dtype=torch.int64)
                tok[0, :len(PROMPT_IDS)] = torch.tensor(PROMPT_IDS)
                tok = tok.to(dev)
                if W["cond_stage_model.model.positional_embedding"].shape[1] % a.text_heads:
                    raise SystemExit(f"torch_bench: --text-heads {a.text_heads} does not divide the text width")
                b.run(name, lambda: R.text_encoder(W, tok, a.text_heads))
            else:
                print(f"  {name}: skipped (no cond_stage_model.model.* tensors)")
        name = f"vae decode {size} 1 frame"
        if b.want(name):
            if has("first_stage_model.decoder."):
                z = rnd(1, 4, 1, h, w)
                b.run(name, lambda: R.decode_video(W, z))
            else:
                print(f"  {name}: skipped (no first_stage_model.decoder.* tensors)")
    return b.finish()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
