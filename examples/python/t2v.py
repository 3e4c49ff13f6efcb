#!/usr/bin/env python3
"""Text to video from Python, frames written as PNGs.

    VIDEOCRAFTER_LIB=build/libvideocrafter.so.1 PYTHONPATH=bindings/python \\
        python3 examples/python/t2v.py model.ckpt "a red panda in the snow" out/ --steps 25
"""
import argparse
import sys

import videocrafter as vc


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("prompt")
    ap.add_argument("outdir")
    ap.add_argument("--config", help="original inference_*.yaml (default: detect)")
    ap.add_argument("--steps", type=int)
    ap.add_argument("--frames", type=int)
    ap.add_argument("--height", type=int)
    ap.add_argument("--width", type=int)
    ap.add_argument("--seed", type=int)
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()

    def progress(p: vc.Progress) -> bool:
        print(f"\r{p.stage} {p.step}/{p.total}", end="\n" if p.step == p.total else "", file=sys.stderr)
        return False  # True would cancel (vc.Cancelled is raised)

    try:
        with vc.Context(threads=a.threads) as ctx:
            model = vc.Model(a.model, a.config, context=ctx)
            video = model.t2v(a.prompt, steps=a.steps, frames=a.frames, height=a.height, width=a.width,
                              seed=a.seed, progress=progress)
            frames = ctx.frames(video)          # uint8 [T,H,W,3]
            ctx.write_png(frames, a.outdir)
            model.close()
    except vc.Unsupported as e:
        print(f"error: {e}", file=sys.stderr)
        return 77
    except vc.Error as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"wrote {frames.shape[0]} frames of {frames.shape[2]}x{frames.shape[1]} to {a.outdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
