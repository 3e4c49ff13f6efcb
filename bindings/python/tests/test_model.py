"""Model-level bindings against the tiny reference models (interface contract §5 tolerances).

Tests of functionality that the library does not implement yet skip with
"library reports VC_STATUS_UNSUPPORTED"; any other failure fails.
"""
import json
import os
import subprocess
import threading

import numpy as np
import pytest

import videocrafter as vc
from conftest import (BUILD, CASES, FPS, VARIANTS, assert_close, data, load_model, prompt, ref, supported)


def test_tokenizer_matches_open_clip():
    with open(data("tokenizer", "prompts.json"), encoding="utf-8") as fh:
        prompts = json.load(fh)
    want = np.load(data("tokenizer", "tokens.npy"))
    ctx = vc.Context(threads=1)
    for i, p in enumerate(prompts):
        got = supported(ctx.tokenize, p)
        assert got == want[i].tolist(), f"prompt {i}: {p!r}"
    assert vc.tokenize(prompts[0]) == want[0].tolist()  # the per-thread default context


def test_bad_utf8_is_bad_text():
    ctx = vc.Context(threads=1)
    with pytest.raises(vc.Error) as ei:
        ctx.tokenize(b"caf\xe9")
    if ei.value.status == vc.Status.UNSUPPORTED:
        pytest.skip("library reports VC_STATUS_UNSUPPORTED: " + ei.value.message)
    assert ei.value.status == vc.Status.BAD_TEXT


def test_missing_model_is_io_error(tmp_path):
    with pytest.raises(vc.Error) as ei:
        vc.Model(str(tmp_path / "no-such-model.ckpt"))
    if ei.value.status == vc.Status.UNSUPPORTED:
        pytest.skip("library reports VC_STATUS_UNSUPPORTED: " + ei.value.message)
    assert ei.value.status == vc.Status.IO_ERROR
    assert "no-such-model.ckpt" in ei.value.message


def test_model_info(case):
    m = load_model(case)
    info = m.info
    assert info.variant == VARIANTS[case]
    assert info.image_conditioned == case.startswith("i2v")
    assert info.latent_channels == 4
    assert info.context_dim == 64
    assert info.n_tensors > 0 and info.params[vc.Component.UNET] > 0
    assert m.estimate_run_bytes(3, 64, 96) > 0
    assert VARIANTS[case] in repr(m) or case in repr(m)


def test_model_context_manager(tmp_path):
    with load_model("t2v_512_v1", context=vc.Context(threads=1)) as m:
        assert m.info.variant == "t2v-512-v1"
    with pytest.raises(ValueError):
        m.info


def test_encode_text(case):
    m = load_model(case)
    got = supported(m.encode_text, [prompt(case), ""])
    assert_close(got, ref(case, "context.npy"), 1e-4, f"{case} context")
    one = m.encode_text(prompt(case))
    assert one.shape == (1,) + got.shape[1:]
    if os.path.exists(os.path.join(os.path.dirname(data(case, "model.ckpt")), "ddim_cond_context.npy")):
        assert_close(one, ref(case, "ddim_cond_context.npy"), 1e-4, f"{case} context, batch of 1")


def test_unet_eps(case):
    m = load_model(case)
    fps = ref(case, "unet_in_fps.npy") if os.path.exists(os.path.join(os.path.dirname(data(case, "model.ckpt")), "unet_in_fps.npy")) else None
    eps = supported(m.unet_eps, ref(case, "unet_in_x.npy"), ref(case, "unet_in_t.npy"),
                    ref(case, "unet_in_context.npy"), fps)
    assert eps.dtype == np.float32
    assert_close(eps, ref(case, "unet_out_eps.npy"), 1e-4, f"{case} unet eps")


def test_decode_and_frames(case, tmp_path):
    m = load_model(case)
    video = supported(m.decode, ref(case, "vae_in_z.npy"))
    assert_close(video, ref(case, "vae_out_video.npy"), 1e-4, f"{case} vae decode")
    fr = supported(vc.frames, ref(case, "vae_out_video.npy"), 0)
    want = ref(case, "frames_uint8.npy")
    assert fr.dtype == np.uint8 and fr.shape == want.shape
    assert np.array_equal(fr, want)
    supported(vc.write_png, fr, str(tmp_path / "png"))
    assert sorted(os.listdir(tmp_path / "png")) == [f"{i:04d}.png" for i in range(want.shape[0])]


def test_encode_images(case):
    m = load_model(case)
    lat = supported(m.encode_images, ref(case, "vae_enc_in.npy"))
    assert_close(lat, ref(case, "vae_enc_mode.npy"), 1e-4, f"{case} vae encode")


def test_image_path():
    case = "i2v_512_v1"
    m = load_model(case)
    img = supported(vc.image_load, data(case, "input.png"))
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
    resized, clip = supported(vc.preprocess_image, img, 64, 96)
    assert_close(resized, ref(case, "image_resized.npy"), 1e-4, "image_resized")
    assert_close(clip, ref(case, "clip_in.npy"), 1e-4, "clip_in")
    tokens = supported(m.encode_image, img, 64, 96, tokens=True)
    assert_close(tokens, ref(case, "clip_tokens.npy"), 1e-4, "clip tokens")
    res = supported(m.encode_image, data(case, "input.png"), 64, 96)  # a path works too
    assert_close(res, ref(case, "resampler_out.npy"), 1e-4, "resampler")


def _sampler_kw(case, eta):
    x_t = ref(case, "ddim_x_T.npy")
    return dict(steps=5, eta=eta, guidance=12.0, fps=FPS[case], frames=x_t.shape[2],
                height=x_t.shape[3] * 8, width=x_t.shape[4] * 8)


# The sampler's own C tests cover every case; here the bindings' plumbing (noise inputs,
# steps_out, timesteps, image input) against the reference, on the cheapest runs.
@pytest.mark.parametrize("case,eta", [("t2v_512_v1", 0.0), ("t2v_512_v1", 1.0), ("i2v_512_v1", 1.0)])
def test_ddim5(case, eta):
    m = load_model(case)
    s = supported(m.sampler, **_sampler_kw(case, eta))
    with s:
        assert s.n_steps == 5
        assert s.timesteps == ref(case, "ddim5_timesteps.npy").tolist()
        kw = dict(init_noise=ref(case, "ddim_x_T.npy"))
        if eta:
            kw["step_noise"] = ref(case, "ddim5_eta1_noise.npy")
        if case.startswith("i2v"):
            kw["image"] = data(case, "input.png")
        z, steps = supported(s.run, prompt(case), return_steps=True, **kw)
    tag = f"ddim5_eta{int(eta)}_cfg12"
    assert_close(z, ref(case, tag + ".npy"), 1e-4, f"{case} {tag}")
    assert_close(steps, ref(case, tag + "_steps.npy"), 1e-4, f"{case} {tag} steps")


def test_progress_and_cancel():
    case = "t2v_512_v1"
    m = load_model(case)
    seen = []
    kw = dict(_sampler_kw(case, 0.0), steps=2)
    z = supported(m.t2v, prompt(case), decode=False, progress=lambda p: seen.append((p.stage, p.step, p.total)), **kw)
    assert z.shape == ref(case, "ddim_x_T.npy").shape
    assert [s for s in seen if s[0] == "sample"] == [("sample", 1, 2), ("sample", 2, 2)]

    calls = []
    def stop_at_first(p):
        calls.append(p.step)
        return True
    with pytest.raises(vc.Cancelled) as ei:
        m.t2v(prompt(case), decode=False, progress=stop_at_first, **kw)
    assert ei.value.status == vc.Status.CANCELLED
    assert calls == [1]

    class Boom(Exception):
        pass
    def explode(p):
        raise Boom("from the callback")
    with pytest.raises(Boom):
        m.t2v(prompt(case), decode=False, progress=explode, **kw)

    import weakref
    gone = []
    s = m.sampler(progress=lambda p: False, **kw)
    weakref.finalize(s, gone.append, True)
    del s                                   # no cycle through the C callback
    assert gone == [True]

    x0s = []
    with m.sampler(preview_x0=True, progress=lambda p: x0s.append(p.x0), **kw) as s:
        s.run(prompt(case))
    assert len(x0s) == 2 and all(x is not None and x.shape == z.shape for x in x0s)


def test_context_cancel_from_another_thread():
    case = "t2v_512_v1"
    m = load_model(case)
    ctx = vc.Context(threads=1)
    started = threading.Event()
    def on_step(p):
        started.set()
        threading.Thread(target=ctx.cancel).start()
        return False
    kw = dict(_sampler_kw(case, 0.0), steps=20)
    s = supported(m.sampler, context=ctx, progress=on_step, **kw)
    with pytest.raises(vc.Cancelled):
        s.run(prompt(case))
    assert started.is_set()


def test_shared_model_threads_match_one_thread():
    """One model, several contexts in several threads: the same numbers as one thread."""
    case = "t2v_512_v1"
    m = load_model(case)
    serial = vc.Context(threads=1)  # the same kernel thread count as the workers'
    want_ctx = supported(m.encode_text, [prompt(case), ""], context=serial)
    x, t, c = ref(case, "unet_in_x.npy"), ref(case, "unet_in_t.npy"), ref(case, "unet_in_context.npy")
    try:
        want_eps = m.unet_eps(x, t, c, context=serial)
    except vc.Unsupported:
        want_eps = None
    results, errors = {}, []
    def work(i):
        try:
            ctx = vc.Context(threads=1)
            for _ in range(2):
                e = m.encode_text([prompt(case), ""], context=ctx)
                u = m.unet_eps(x, t, c, context=ctx) if want_eps is not None else None
            results[i] = (e, u)
        except BaseException as e:  # report in the main thread
            errors.append(e)
    ths = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    assert not errors, errors
    for e, u in results.values():
        assert np.array_equal(e, want_ctx)
        if want_eps is not None:
            assert np.array_equal(u, want_eps)


def _cli():
    exe = os.path.join(BUILD, "videocrafter")
    if not os.path.exists(exe):
        pytest.skip(f"{exe} not built")
    return exe


@pytest.mark.parametrize("case", ["t2v_512_v1", "t2v_512_v2"])
def test_t2v_bit_identical_to_cli(case, tmp_path):
    """The headline check: Python t2v == `videocrafter t2v` bit for bit on the same seed."""
    m = load_model(case, context=vc.Context(threads=2))
    kw = dict(steps=2, eta=1.0, guidance=7.5, seed=20240607, frames=3, height=64, width=96)
    z = supported(m.t2v, prompt(case), negative_prompt="blurry", decode=False, **kw)
    video = m.decode(z)  # what t2v(decode=True) returns
    cmd = [_cli(), "t2v", data(case, "model.ckpt"), "--config", data(case, "config.yaml"),
           "--prompt", prompt(case), "--negative-prompt", "blurry", "--steps", "2", "--eta", "1.0",
           "--cfg", "7.5", "--seed", "20240607", "--frames", "3", "--height", "64", "--width", "96",
           "--threads", "2", "--save-latents", str(tmp_path / "z.npy"), "-o", str(tmp_path / "video.npy")]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0 and "not available in this build yet" in r.stderr:
        pytest.skip("the library runs t2v but the CLI's t2v is still a placeholder: " + r.stderr.strip())
    assert r.returncode == 0, f"{' '.join(cmd)}\n{r.stderr}"
    cli_z = np.load(str(tmp_path / "z.npy"))
    cli_video = np.load(str(tmp_path / "video.npy"))
    assert cli_z.dtype == z.dtype and cli_z.shape == z.shape
    assert cli_z.tobytes() == np.ascontiguousarray(z).tobytes(), "latent differs from the CLI's"
    assert cli_video.shape == video.shape
    assert cli_video.tobytes() == np.ascontiguousarray(video).tobytes(), "video differs from the CLI's"
    print(f"{case}: latent {z.shape} and video {video.shape} bit-identical to the CLI")


def test_i2v_runs():
    case = "i2v_512_v1"
    m = load_model(case)
    kw = _sampler_kw(case, 1.0)
    video = supported(m.i2v, data(case, "input.png"), prompt(case), init_noise=ref(case, "ddim_x_T.npy"),
                      step_noise=ref(case, "ddim5_eta1_noise.npy"), **kw)
    want = m.decode(ref(case, "ddim5_eta1_cfg12.npy"))
    assert_close(video, want, 1e-4, "i2v end to end vs decode(reference latent)")


def test_bad_size_is_reported():
    case = "t2v_512_v1"
    m = load_model(case)
    with pytest.raises(vc.Error) as ei:
        s = m.sampler(height=63, width=96, frames=3, steps=2)
        s.run(prompt(case))
    if ei.value.status == vc.Status.UNSUPPORTED:
        pytest.skip("library reports VC_STATUS_UNSUPPORTED: " + ei.value.message)
    assert ei.value.status in (vc.Status.BAD_SIZE, vc.Status.INVALID_ARGUMENT)
    assert "63" in ei.value.message


def test_i2v_bit_identical_to_cli(tmp_path):
    """Python i2v == `videocrafter i2v` bit for bit (image path, seed, sizes)."""
    case = "i2v_512_v1"
    m = load_model(case, context=vc.Context(threads=2))
    kw = dict(steps=2, seed=5, frames=3, height=64, width=96)
    z = supported(m.i2v, data(case, "input.png"), prompt(case), decode=False, **kw)
    video = m.decode(z)
    cmd = [_cli(), "i2v", data(case, "model.ckpt"), "--config", data(case, "config.yaml"),
           "--image", data(case, "input.png"), "--prompt", prompt(case), "--steps", "2", "--seed", "5",
           "--frames", "3", "--height", "64", "--width", "96", "--threads", "2",
           "--save-latents", str(tmp_path / "z.npy"), "-o", str(tmp_path / "video.npy")]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0 and "not available in this build yet" in r.stderr:
        pytest.skip("the library runs i2v but the CLI's i2v is still a placeholder: " + r.stderr.strip())
    assert r.returncode == 0, f"{' '.join(cmd)}\n{r.stderr}"
    assert np.load(str(tmp_path / "z.npy")).tobytes() == np.ascontiguousarray(z).tobytes(), "latent differs"
    assert np.load(str(tmp_path / "video.npy")).tobytes() == np.ascontiguousarray(video).tobytes(), "video differs"
    print(f"{case}: latent and video bit-identical to the CLI")
