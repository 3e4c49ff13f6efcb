"""Versions, enums, errors, contexts, tensors and .npy: what works without a model."""
import ctypes
import gc
import os
import re
import subprocess
import sys
import weakref

import numpy as np
import pytest

import header  # bindings/layout/header.py
import videocrafter as vc
from videocrafter import _lib
from conftest import BUILD, HEADER, ROOT, data

with open(HEADER, encoding="utf-8") as fh:
    HDR = fh.read()


def test_version_matches_header():
    m = header.macros(HDR)
    assert vc.version() == m["VC_VERSION_STRING"]
    assert vc.version_number() == m["VC_VERSION_MAJOR"] * 10000 + m["VC_VERSION_MINOR"] * 100 + m["VC_VERSION_PATCH"]
    assert vc.__version__ == vc.version()
    assert _lib.HEADER_VERSION_MAJOR == m["VC_VERSION_MAJOR"]
    assert _lib.VC_TENSOR_MAX_DIMS == m["VC_TENSOR_MAX_DIMS"]
    assert _lib.VC_TEXT_CONTEXT_LENGTH == m["VC_TEXT_CONTEXT_LENGTH"]
    assert _lib.VC_ENCODE_IMAGE_TOKENS == m["VC_ENCODE_IMAGE_TOKENS"]
    assert _lib.VC_TENSOR_OWNED == m["VC_TENSOR_OWNED"]


@pytest.mark.parametrize("cname,py", [("vc_status", vc.Status), ("vc_dtype", vc.DType),
                                      ("vc_log_level", vc.LogLevel), ("vc_component", vc.Component)])
def test_enums_match_header(cname, py):
    prefix = {"vc_status": "VC_STATUS_", "vc_dtype": "VC_DTYPE_", "vc_log_level": "VC_LOG_",
              "vc_component": "VC_COMPONENT_"}[cname]
    want = {k[len(prefix):]: v for k, v in header.enums(HDR)[cname].items() if k != "VC_COMPONENT_COUNT"}
    assert {e.name: int(e) for e in py} == want


def test_struct_layouts_match_c(tmp_path):
    """Every ctypes Structure has the C compiler's field names, offsets and sizes."""
    src = tmp_path / "layout.c"
    src.write_text(header.layout_c(HDR))
    exe = tmp_path / "layout"
    subprocess.run(["cc", "-std=c11", "-I" + os.path.join(ROOT, "include"), str(src), "-o", str(exe)], check=True)
    structs, fields = {}, {}
    for line in subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout.splitlines():
        kind, name, *nums = line.split()
        if kind in ("STRUCT", "FIELD"):
            (structs if kind == "STRUCT" else fields)[name] = tuple(int(n) for n in nums)
    assert set(structs) == set(_lib.STRUCTS), "a struct of the header is not declared in _lib.STRUCTS"
    for s, (size,) in structs.items():
        cls = _lib.STRUCTS[s]
        assert ctypes.sizeof(cls) == size, s
        names = [f[0] for f in cls._fields_]
        assert names == [k.split(".", 1)[1] for k in fields if k.startswith(s + ".")], s
        for f in names:
            d = getattr(cls, f)
            assert (d.offset, d.size) == fields[f"{s}.{f}"], f"{s}.{f}"


def test_status_strings():
    for s in vc.Status:
        assert vc.status_str(s) and vc.status_str(s) != "unknown status"
    assert vc.status_str(999) == "unknown status"
    assert vc.status_str(vc.Status.OK) == "ok"


def test_errors_carry_status_and_message(tmp_path):
    missing = str(tmp_path / "nope.npy")
    with pytest.raises(vc.IoError) as ei:
        vc.load_npy(missing)
    e = ei.value
    assert isinstance(e, vc.Error)
    assert e.status == vc.Status.IO_ERROR
    assert "nope.npy" in e.message
    assert e.message == vc.last_error()
    assert "nope.npy" in str(e) and "i/o error" in str(e)
    bad = tmp_path / "bad.npy"
    np.save(str(bad), np.zeros((4, 4), np.float32))
    bad.write_bytes(bad.read_bytes()[:-8])  # truncated data
    with pytest.raises(vc.BadFormat):
        vc.load_npy(str(bad))
    with pytest.raises(vc.InvalidArgument) as ei:
        vc.Context(backend="abacus")
    assert "abacus" in ei.value.message
    assert isinstance(ei.value, ValueError)
    with pytest.raises(vc.InvalidArgument) as ei:
        vc.Context(threads=-3)
    assert "n_threads" in ei.value.message
    assert issubclass(vc.Cancelled, vc.Error)


def test_context():
    with vc.Context(threads=1) as ctx:
        assert ctx.backend == "cpu"
        assert ctx.n_threads == 1
        assert ctx.errmsg == ""
        assert ctx.peak_bytes >= 0
        ctx.cancel()  # no run in progress: harmless
        assert "cpu" in repr(ctx)
    assert ctx._h is None
    with pytest.raises(ValueError):
        ctx.backend
    ctx.close()  # twice is fine
    assert vc.Context().n_threads >= 1  # 0 = all cores


def test_context_errmsg_after_failure():
    ctx = vc.Context(threads=1)
    try:
        ctx.tokenize("a cat")
    except vc.Error as e:
        assert ctx.errmsg == e.message
    else:
        assert ctx.errmsg == ""


def test_log_callback_receives_lines():
    lines = []
    ctx = vc.Context(threads=1, log_level=vc.LogLevel.DEBUG, log_callback=lambda lvl, msg: lines.append((lvl, msg)))
    try:
        ctx.tokenize(b"\xff\xfe not utf-8")  # any failure on a context logs it at debug level
    except vc.Error as e:
        assert any(e.message in m for _, m in lines), lines
        assert all(isinstance(l, vc.LogLevel) for l, _ in lines)
    else:
        pytest.fail("invalid UTF-8 was accepted")


def test_log_callback_exception_does_not_escape(capsys):
    def bad(level, msg):
        raise RuntimeError("boom in log callback")
    ctx = vc.Context(threads=1, log_level=vc.LogLevel.DEBUG, log_callback=bad)
    with pytest.raises(vc.Error):
        ctx.tokenize(b"\xff")
    assert "boom in log callback" in capsys.readouterr().err


def test_tensor_basics():
    t = vc.Tensor.zeros([2, 3, 4], vc.DType.F32)
    assert t.shape == (2, 3, 4) and t.ndim == 3 and t.numel == 24 and t.itemsize == 4 and t.nbytes == 96
    assert t.owned and t.dtype == vc.DType.F32 and len(t) == 2
    assert t.tolist() == [[[0.0] * 4] * 3] * 2
    u = vc.Tensor.from_list(range(6), [2, 3], vc.DType.I64)
    assert u.tolist() == [[0, 1, 2], [3, 4, 5]]
    assert u.memoryview().tolist() == [[0, 1, 2], [3, 4, 5]]
    b = vc.Tensor.from_bytes(bytes(range(12)), [4, 3], vc.DType.U8)
    assert b.tobytes() == bytes(range(12))
    with pytest.raises(ValueError):
        vc.Tensor.from_bytes(b"abc", [2, 2], vc.DType.U8)
    s = vc.Tensor.zeros([], vc.DType.F64)
    assert s.numel == 1 and s.tolist() == 0.0
    with pytest.raises(vc.InvalidArgument):
        vc.Tensor.zeros([-1, 2])
    b.close()
    with pytest.raises(ValueError):
        b.tobytes()


def test_numpy_view_is_zero_copy_and_frees_with_last_user():
    t = vc.Tensor.zeros([4, 5], vc.DType.F32)
    ptr = t._t.data
    gone = []
    weakref.finalize(t, gone.append, True)
    a = np.asarray(t)
    assert a.ctypes.data == ptr and a.shape == (4, 5) and a.dtype == np.float32
    a[1, 2] = 7.0
    assert t.tolist()[1][2] == 7.0
    t.close()            # a view exists: the buffer stays until the array goes
    assert a[1, 2] == 7.0
    del t
    gc.collect()
    assert not gone
    view = a[1:]
    del a
    gc.collect()
    assert not gone and view[0, 2] == 7.0
    del view
    gc.collect()
    assert gone


def test_npy_roundtrip_all_dtypes(tmp_path):
    for dt in [np.float32, np.float16, np.float64, np.int64, np.int32, np.uint8]:
        a = (np.arange(24).reshape(2, 3, 4) * 3 - 5).astype(dt) if dt != np.uint8 else np.arange(24, dtype=dt).reshape(2, 3, 4)
        p = str(tmp_path / f"{np.dtype(dt).name}.npy")
        vc.save_npy(p, a)
        back = vc.load_npy(p)
        assert back.dtype == a.dtype and back.shape == a.shape and np.array_equal(back, a)
        assert np.array_equal(np.load(p), a)  # numpy reads what the library wrote
    f = np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3))
    vc.save_npy(str(tmp_path / "f.npy"), f)  # non-contiguous input is made C-contiguous
    assert np.array_equal(np.load(str(tmp_path / "f.npy")), f)
    vc.save_npy(tmp_path / "pathlike.npy", np.zeros(3, np.float32))
    assert (tmp_path / "pathlike.npy").exists()


@pytest.mark.parametrize("name", ["t2v_512_v1/frames_uint8.npy", "t2v_512_v1/ddim5_timesteps.npy",
                                  "t2v_512_v1/ddim5_eta0_coefs.npy", "t2v_512_v1/vae_out_video.npy",
                                  "tokenizer/tokens.npy"])
def test_reference_npy_reads_like_numpy(name):
    p = data(*name.split("/"))
    a, want = vc.load_npy(p), np.load(p)
    assert a.dtype == want.dtype and np.array_equal(a, want)


def _run_py(code, env_extra, cwd=None):
    env = dict(os.environ, **env_extra)
    env["PYTHONPATH"] = os.path.join(ROOT, "bindings", "python")
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=cwd)


def test_without_numpy_returns_tensors(tmp_path):
    p = str(tmp_path / "x.npy")
    np.save(p, np.arange(6, dtype=np.float32).reshape(2, 3))
    code = ("import videocrafter as vc\n"
            "assert not vc.HAVE_NUMPY\n"
            f"t = vc.load_npy({p!r})\n"
            "assert isinstance(t, vc.Tensor), type(t)\n"
            "assert t.tolist() == [[0, 1, 2], [3, 4, 5]]\n"
            f"vc.save_npy({p!r} + '.2.npy', t)\n"
            f"assert vc.load_npy({p!r} + '.2.npy').tolist() == t.tolist()\n"
            "print('ok')\n")
    r = _run_py(code, {"VIDEOCRAFTER_NO_NUMPY": "1"})
    assert r.returncode == 0 and "ok" in r.stdout, r.stderr


def test_library_search_names_every_place(tmp_path):
    r = _run_py("import videocrafter", {"VIDEOCRAFTER_LIB": str(tmp_path / "missing.so"), "LD_LIBRARY_PATH": ""},
                cwd=str(tmp_path))
    if r.returncode == 0:
        pytest.skip("a libvideocrafter.so.1 is installed system-wide")
    err = r.stderr
    assert "LibraryNotFoundError" in err
    for place in ["$VIDEOCRAFTER_LIB", "missing.so", "beside the package", "find_library", "libvideocrafter.so.1"]:
        assert place in err, place


def test_library_found_beside_package(tmp_path):
    import shutil
    pkg = tmp_path / "videocrafter"
    shutil.copytree(os.path.join(ROOT, "bindings", "python", "videocrafter"), pkg)
    shutil.copy(os.path.join(BUILD, "libvideocrafter.so.1"), pkg / "libvideocrafter.so.1")
    env = dict(os.environ, PYTHONPATH=str(tmp_path), LD_LIBRARY_PATH="")
    env.pop("VIDEOCRAFTER_LIB", None)
    r = subprocess.run([sys.executable, "-c", "import videocrafter as vc; print(vc.LIBRARY_PATH, vc.version())"],
                       env=env, capture_output=True, text=True, cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[0] == str(pkg / "libvideocrafter.so.1")


def test_objects_free_without_gc():
    """No reference cycles: dropping the last reference frees the C object at once."""
    gone = []
    ctx = vc.Context(threads=1, log_callback=lambda level, msg: None)
    weakref.finalize(ctx, gone.append, "ctx")
    del ctx
    assert gone == ["ctx"]
