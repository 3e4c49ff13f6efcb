"""Shared fixtures: repository paths, reference data, skip-on-UNSUPPORTED."""
import os
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
BUILD = os.path.join(ROOT, os.environ.get("BUILD", "build"))
HEADER = os.path.join(ROOT, "include", "videocrafter.h")
DATA = os.environ.get("VC_TEST_DATA") or os.path.join(ROOT, "..", "shared", "reference")
sys.path.insert(0, os.path.join(ROOT, "bindings", "layout"))
sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))
os.environ.setdefault("VIDEOCRAFTER_LIB", os.path.join(BUILD, "libvideocrafter.so.1"))

import videocrafter as vc  # noqa: E402

CASES = ["t2v_512_v1", "t2v_1024_v1", "t2v_512_v2", "i2v_512_v1"]
VARIANTS = {"t2v_512_v1": "t2v-512-v1", "t2v_1024_v1": "t2v-1024-v1", "t2v_512_v2": "t2v-512-v2",
            "i2v_512_v1": "i2v-512-v1"}
# reference sampling fps per case (shared/reference/README.md)
FPS = {"t2v_512_v1": 24, "t2v_1024_v1": 28, "t2v_512_v2": 28, "i2v_512_v1": 8}


def data(*parts):
    p = os.path.join(DATA, *parts)
    if not os.path.exists(p):
        pytest.skip(f"reference file {p} missing (set VC_TEST_DATA)")
    return p


def ref(case, name):
    import numpy as np
    return np.load(data(case, name))


def prompt(case):
    with open(data(case, "prompt.txt"), encoding="utf-8") as fh:
        return fh.read().rstrip("\n")


def supported(fn, *args, **kw):
    """Calls fn; a library still answering VC_STATUS_UNSUPPORTED skips the test (and says so)."""
    try:
        return fn(*args, **kw)
    except vc.Unsupported as e:
        pytest.skip(f"library reports VC_STATUS_UNSUPPORTED: {e.message}")


def rel_err(out, want):
    """Interface contract §5: max|out - ref| / max|ref|."""
    import numpy as np
    out = np.asarray(out, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    assert out.shape == want.shape, f"shape {out.shape} != reference {want.shape}"
    return float(np.max(np.abs(out - want)) / max(np.max(np.abs(want)), 1e-30))


def assert_close(out, want, tol, what):
    err = rel_err(out, want)
    print(f"{what}: rel err {err:.3e} (limit {tol:.0e})")
    assert err <= tol, f"{what}: rel err {err:.3e} > {tol:.0e}"


_models = {}


def load_model(case, context=None):
    """The tiny reference model of a case (cached per context-less load)."""
    if context is None and case in _models:
        return _models[case]
    m = supported(vc.Model, data(case, "model.ckpt"), data(case, "config.yaml"),
                  context=context or vc.Context(threads=2))
    if context is None:
        _models[case] = m
    return m


@pytest.fixture(params=CASES)
def case(request):
    return request.param
