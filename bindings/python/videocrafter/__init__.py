"""videocrafter - Python bindings (ctypes) for libvideocrafter.

VideoCrafter1/2 text-to-video and image-to-video in-process, no PyTorch::

    import videocrafter as vc

    model = vc.Model("model.ckpt")                      # config detected, or Model(p, "x.yaml")
    video = model.t2v("a red panda in the snow", steps=25, seed=123)  # float [B,3,T,H,W]
    frames = vc.frames(video)                            # uint8 [T,H,W,3]
    vc.write_png(frames, "out/")

Arrays: with numpy installed, every tensor the library returns is a numpy
array that wraps the library's own buffer (no copy); the buffer is released
when the last array referring to it is garbage collected. Without numpy (or
with VIDEOCRAFTER_NO_NUMPY=1) the same functions return :class:`Tensor`.
Inputs may be numpy arrays (converted to the dtype the C function wants) or
:class:`Tensor` objects.

Errors: every failure raises :class:`Error` (a subclass per status, e.g.
:class:`Unsupported`, :class:`BadSize`, :class:`Cancelled`) carrying
``.status`` (a :class:`Status`) and ``.message`` (the library's text).

Threads: the library releases the GIL during every call. One :class:`Context`
is used by one thread at a time; a :class:`Model` may be shared by any number
of contexts and threads (pass ``context=`` to its methods).

The library is found per the interface contract: ``$VIDEOCRAFTER_LIB``, then
``libvideocrafter.so.1`` beside this file, then the system's search.
"""

from __future__ import annotations

import ctypes
import enum
import os
import sys
import threading
import weakref
from ctypes import POINTER, byref, c_char_p, c_int64, c_void_p
from dataclasses import dataclass
from typing import (Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union)

from . import _lib
from ._lib import LibraryNotFoundError

try:
    if os.environ.get("VIDEOCRAFTER_NO_NUMPY"):
        raise ImportError("disabled by VIDEOCRAFTER_NO_NUMPY")
    import numpy as np
    HAVE_NUMPY = True
except ImportError:  # numpy is optional
    np = None  # type: ignore[assignment]
    HAVE_NUMPY = False

_C, LIBRARY_PATH = _lib.load_library()

__all__ = [
    "version", "version_number", "status_str", "last_error", "Status", "DType", "LogLevel",
    "Component", "Error", "Cancelled", "Tensor", "Context", "Model", "ModelInfo", "Sampler",
    "Progress", "tokenize", "encode_text", "encode_image", "image_load", "preprocess_image",
    "unet_eps", "t2v", "i2v", "decode", "encode_images", "frames", "write_png", "load_npy",
    "save_npy", "LibraryNotFoundError", "LIBRARY_PATH", "HAVE_NUMPY",
]

#: Array-like input: a numpy array, a :class:`Tensor`, or (with numpy) anything np.asarray takes.
ArrayLike = Any


def _s(b: Optional[bytes]) -> str:
    return b.decode("utf-8", "replace") if b else ""


def _b(s: Union[str, bytes, os.PathLike, None]) -> Optional[bytes]:
    if s is None:
        return None
    if isinstance(s, bytes):
        return s
    return os.fsencode(s) if isinstance(s, os.PathLike) else s.encode("utf-8")


# ------------------------------------------------------------------ versions, enums


def version() -> str:
    """Run-time version string of the loaded library, e.g. ``"0.1.0"``."""
    return _s(_C.vc_version())


def version_number() -> int:
    """Run-time ``MAJOR*10000 + MINOR*100 + PATCH`` of the loaded library."""
    return int(_C.vc_version_number())


__version__ = version()


class Status(enum.IntEnum):
    """``vc_status``; the values are pinned by the ABI."""
    OK = 0
    INVALID_ARGUMENT = 1
    OUT_OF_MEMORY = 2
    IO_ERROR = 3
    BAD_FORMAT = 4
    UNSUPPORTED = 5
    MODEL_MISMATCH = 6
    BAD_SIZE = 7
    BAD_TEXT = 8
    CANCELLED = 9
    BACKEND_UNAVAILABLE = 10
    BACKEND_ERROR = 11
    LIMIT_EXCEEDED = 12
    INTERNAL = 13


class DType(enum.IntEnum):
    """``vc_dtype``."""
    F32 = 0
    F16 = 1
    BF16 = 2
    F64 = 3
    I64 = 4
    I32 = 5
    U8 = 6


class LogLevel(enum.IntEnum):
    """``vc_log_level``."""
    DEBUG = 0
    INFO = 1
    WARN = 2
    ERROR = 3
    NONE = 4


class Component(enum.IntEnum):
    """``vc_component`` (indices of :attr:`ModelInfo.params`)."""
    UNET = 0
    VAE_ENCODER = 1
    VAE_DECODER = 2
    TEXT = 3
    VISION = 4
    RESAMPLER = 5
    OTHER = 6


def status_str(status: int) -> str:
    """Static English name of a status (``vc_status_str``)."""
    return _s(_C.vc_status_str(int(status)))


def last_error() -> str:
    """Text of the last failure on the calling thread (``vc_last_error``); ``""`` if none."""
    return _s(_C.vc_last_error())


# ------------------------------------------------------------------ errors


class Error(Exception):
    """A libvideocrafter failure: ``.status`` (:class:`Status`) and ``.message`` (library text)."""

    status: Status = Status.INTERNAL

    def __init__(self, status: int, message: str = ""):
        try:
            self.status = Status(status)
        except ValueError:  # a status newer than these bindings
            self.status = status  # type: ignore[assignment]
        self.message = message or status_str(status)
        super().__init__(f"{self.message} [{status_str(status)}]")


class InvalidArgument(Error, ValueError):
    """VC_STATUS_INVALID_ARGUMENT"""


class OutOfMemory(Error, MemoryError):
    """VC_STATUS_OUT_OF_MEMORY"""


class IoError(Error):
    """VC_STATUS_IO_ERROR: missing file, unreadable, cannot write."""


class BadFormat(Error):
    """VC_STATUS_BAD_FORMAT: corrupt, truncated or hostile file."""


class Unsupported(Error):
    """VC_STATUS_UNSUPPORTED: valid input using a feature not implemented."""


class ModelMismatch(Error):
    """VC_STATUS_MODEL_MISMATCH: missing / unexpected / mis-shaped tensors."""


class BadSize(Error, ValueError):
    """VC_STATUS_BAD_SIZE: frames/height/width the model cannot run."""


class BadText(Error, ValueError):
    """VC_STATUS_BAD_TEXT: prompt is not valid UTF-8."""


class Cancelled(Error):
    """VC_STATUS_CANCELLED: a progress callback returned True, or Context.cancel()."""


class BackendUnavailable(Error):
    """VC_STATUS_BACKEND_UNAVAILABLE"""


class BackendError(Error):
    """VC_STATUS_BACKEND_ERROR"""


class LimitExceeded(Error):
    """VC_STATUS_LIMIT_EXCEEDED"""


class InternalError(Error):
    """VC_STATUS_INTERNAL: a bug in the library; please report it."""


_ERRORS = {
    Status.INVALID_ARGUMENT: InvalidArgument, Status.OUT_OF_MEMORY: OutOfMemory,
    Status.IO_ERROR: IoError, Status.BAD_FORMAT: BadFormat, Status.UNSUPPORTED: Unsupported,
    Status.MODEL_MISMATCH: ModelMismatch, Status.BAD_SIZE: BadSize, Status.BAD_TEXT: BadText,
    Status.CANCELLED: Cancelled, Status.BACKEND_UNAVAILABLE: BackendUnavailable,
    Status.BACKEND_ERROR: BackendError, Status.LIMIT_EXCEEDED: LimitExceeded,
    Status.INTERNAL: InternalError,
}
__all__ += [c.__name__ for c in _ERRORS.values()]


def _error(status: int, ctx: Optional["Context"] = None) -> Error:
    # vc_last_error is set by every failure on this thread, with or without a context.
    msg = last_error()
    if not msg and ctx is not None and ctx._h:
        msg = _s(_C.vc_context_errmsg(ctx._h))
    return _ERRORS.get(status, Error)(status, msg)  # type: ignore[arg-type]


def _check(status: int, ctx: Optional["Context"] = None) -> None:
    if status != Status.OK:
        raise _error(status, ctx)


def _defaults(struct_type: type, fill: Callable[..., None], *pre: Any) -> Any:
    """Runs a vc_*_default_params into a buffer with headroom and returns our struct.

    The library writes its own sizeof(struct) and a newer library may have a
    larger one; we then declare our (smaller) size so it reads only our fields.
    """
    size = ctypes.sizeof(struct_type)
    buf = (ctypes.c_char * (size + 1024))()
    fill(*pre, buf)
    s = struct_type.from_buffer_copy(buf, 0)
    s.struct_size = size
    return s


# ------------------------------------------------------------------ tensors

_TYPESTR = {DType.F32: "<f4", DType.F16: "<f2", DType.BF16: "<u2", DType.F64: "<f8",
            DType.I64: "<i8", DType.I32: "<i4", DType.U8: "|u1"}
_FROM_TYPESTR = {"<f4": DType.F32, "<f2": DType.F16, "<f8": DType.F64, "<i8": DType.I64,
                 "<i4": DType.I32, "|u1": DType.U8, "<u1": DType.U8}
_CTYPE = {DType.F32: ctypes.c_float, DType.F16: ctypes.c_uint16, DType.BF16: ctypes.c_uint16,
          DType.F64: ctypes.c_double, DType.I64: ctypes.c_int64, DType.I32: ctypes.c_int32,
          DType.U8: ctypes.c_uint8}
_MEMFMT = {DType.F32: "f", DType.F16: "e", DType.BF16: "H", DType.F64: "d", DType.I64: "q",
           DType.I32: "i", DType.U8: "B"}


class Tensor:
    """A dense C-ordered tensor owned by the library (``vc_tensor``).

    Returned by the library functions when numpy is not available. It frees
    its buffer when garbage collected (or on :meth:`close`, once no view made
    by :meth:`memoryview` or numpy's ``__array_interface__`` can still see it).
    ``np.asarray(tensor)`` is a zero-copy view that keeps the tensor alive.
    """

    __slots__ = ("_t", "_views", "_closed", "__weakref__")

    def __init__(self) -> None:
        self._t = _lib.vc_tensor()
        self._views = False
        self._closed = False

    # -- construction
    @classmethod
    def zeros(cls, shape: Sequence[int], dtype: DType = DType.F32) -> "Tensor":
        """A zero-filled owned tensor (``vc_tensor_alloc``)."""
        t = cls()
        dims = (c_int64 * max(1, len(shape)))(*[int(d) for d in shape])
        _check(_C.vc_tensor_alloc(byref(t._t), int(dtype), len(shape), dims))
        return t

    @classmethod
    def from_bytes(cls, data: Union[bytes, bytearray, memoryview], shape: Sequence[int],
                   dtype: DType = DType.F32) -> "Tensor":
        """An owned tensor holding a copy of raw little-endian C-ordered ``data``."""
        t = cls.zeros(shape, dtype)
        mv = memoryview(data).cast("B")
        if mv.nbytes != t.nbytes:
            raise ValueError(f"{mv.nbytes} bytes given, shape {tuple(shape)} of {DType(dtype).name} needs {t.nbytes}")
        if t.nbytes:
            ctypes.memmove(t._t.data, (ctypes.c_char * mv.nbytes).from_buffer_copy(mv), mv.nbytes)
        return t

    @classmethod
    def from_list(cls, values: Iterable[Any], shape: Sequence[int], dtype: DType = DType.F32) -> "Tensor":
        """An owned tensor from a flat list of numbers (C order)."""
        vals = list(values)
        t = cls.zeros(shape, dtype)
        if len(vals) != t.numel:
            raise ValueError(f"{len(vals)} values given, shape {tuple(shape)} has {t.numel}")
        if vals:
            (_CTYPE[t.dtype] * len(vals)).from_address(t._t.data)[:] = vals
        return t

    # -- properties
    @property
    def dtype(self) -> DType:
        return DType(self._t.dtype)

    @property
    def ndim(self) -> int:
        return int(self._t.ndim)

    @property
    def shape(self) -> Tuple[int, ...]:
        return tuple(int(self._t.shape[i]) for i in range(self._t.ndim))

    @property
    def numel(self) -> int:
        """Number of elements (``vc_tensor_numel``)."""
        return int(_C.vc_tensor_numel(byref(self._t)))

    @property
    def itemsize(self) -> int:
        """Bytes per element (``vc_dtype_size``)."""
        return int(_C.vc_dtype_size(self._t.dtype))

    @property
    def nbytes(self) -> int:
        return self.numel * self.itemsize

    @property
    def owned(self) -> bool:
        return bool(self._t.flags & _lib.VC_TENSOR_OWNED)

    def __len__(self) -> int:
        return self.shape[0] if self.ndim else 0

    def __repr__(self) -> str:
        return f"videocrafter.Tensor(shape={self.shape}, dtype={self.dtype.name})"

    # -- views and copies
    def _alive(self) -> None:
        if self._closed or (not self._t.data and self.numel):
            raise ValueError("tensor is closed")

    @property
    def __array_interface__(self) -> Dict[str, Any]:
        self._alive()
        self._views = True
        return {"version": 3, "shape": self.shape, "typestr": _TYPESTR[self.dtype],
                "data": (self._t.data or 0, False)}

    def numpy(self, copy: bool = False) -> Any:
        """A numpy array viewing (or, with ``copy=True``, copying) the data."""
        if not HAVE_NUMPY:
            raise RuntimeError("numpy is not available")
        a = np.asarray(self)
        return a.copy() if copy else a

    def memoryview(self) -> memoryview:
        """A typed, shaped memoryview of the data (keeps the tensor alive)."""
        self._alive()
        self._views = True
        raw = (ctypes.c_char * max(1, self.nbytes)).from_address(self._t.data)
        raw._vc_owner = self  # type: ignore[attr-defined]  # ctypes arrays take attributes
        mv = memoryview(raw).cast("B")[: self.nbytes]
        return mv.cast(_MEMFMT[self.dtype], self.shape) if self.ndim else mv.cast(_MEMFMT[self.dtype])

    def tobytes(self) -> bytes:
        self._alive()
        return ctypes.string_at(self._t.data, self.nbytes) if self.nbytes else b""

    def tolist(self) -> Any:
        """Nested Python lists (a scalar for ndim 0)."""
        self._alive()
        n = self.numel
        flat = list((_CTYPE[self.dtype] * n).from_address(self._t.data)) if n else []
        def nest(off: int, dims: Tuple[int, ...]) -> Any:
            if not dims:
                return flat[off]
            step = 1
            for d in dims[1:]:
                step *= d
            return [nest(off + i * step, dims[1:]) for i in range(dims[0])]
        return nest(0, self.shape)

    # -- lifetime
    def close(self) -> None:
        """Releases the buffer now unless a view still uses it (then when the last one dies)."""
        self._closed = True
        if not self._views:
            _C.vc_tensor_free(byref(self._t))

    def __enter__(self) -> "Tensor":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        t = getattr(self, "_t", None)
        if t is not None and _C is not None:
            _C.vc_tensor_free(byref(t))


def _wrap(t: Tensor) -> Any:
    """Library-owned result -> numpy array (zero-copy; frees with the array) or Tensor."""
    if HAVE_NUMPY:
        return np.asarray(t)
    return t


class _Borrowed:
    """Caller arrays lent to one C call as borrowed vc_tensor structs (kept alive here)."""

    def __init__(self) -> None:
        self._keep: List[Any] = []

    def __call__(self, x: ArrayLike, dtype: Optional[DType] = None,
                 what: str = "tensor") -> Optional["ctypes._Pointer"]:
        if x is None:
            return None
        if isinstance(x, Tensor):
            x._alive()
            if dtype is not None and x.dtype != dtype:
                raise TypeError(f"{what}: dtype {x.dtype.name}, expected {DType(dtype).name}")
            self._keep.append(x)
            return ctypes.pointer(x._t)
        if not HAVE_NUMPY:
            raise TypeError(f"{what}: expected a videocrafter.Tensor (numpy is not available)")
        a = np.asarray(x)
        if dtype is None:
            dt = _FROM_TYPESTR.get(a.dtype.str)
            if dt is None:
                a = a.astype(np.float32)
                dt = DType.F32
        else:
            dt = DType(dtype)
            a = a.astype(_TYPESTR[dt], copy=False)
        a = np.ascontiguousarray(a)
        if a.ndim > _lib.VC_TENSOR_MAX_DIMS:
            raise ValueError(f"{what}: {a.ndim} dimensions, at most {_lib.VC_TENSOR_MAX_DIMS}")
        t = _lib.vc_tensor()
        t.dtype = int(dt)
        t.ndim = a.ndim
        for i, d in enumerate(a.shape):
            t.shape[i] = d
        t.data = a.ctypes.data if a.size else None
        t.flags = 0
        self._keep += [a, t]
        return ctypes.pointer(t)


def load_npy(path: Union[str, os.PathLike]) -> Any:
    """Reads a .npy file with the library's reader (``vc_tensor_load_npy``)."""
    out = Tensor()
    _check(_C.vc_tensor_load_npy(_b(path), byref(out._t)))
    return _wrap(out)


def save_npy(path: Union[str, os.PathLike], array: ArrayLike) -> None:
    """Writes an array as .npy v1.0 (``vc_tensor_save_npy``; atomic rename)."""
    b = _Borrowed()
    _check(_C.vc_tensor_save_npy(_b(path), b(array, what="array")))


# ------------------------------------------------------------------ context


class Context:
    """Per-run state: backend, threads, scratch memory, last error (``vc_context``).

    Use one context from one thread at a time. ``log_callback(level, message)``
    receives every log line at or above ``log_level`` (default: stderr).
    """

    def __init__(self, backend: Optional[str] = None, threads: int = 0, *, device: int = 0,
                 log_level: LogLevel = LogLevel.WARN,
                 log_callback: Optional[Callable[[LogLevel, str], None]] = None,
                 vocab_path: Optional[Union[str, os.PathLike]] = None):
        self._h: Optional[int] = None
        p = _defaults(_lib.vc_context_params, _C.vc_context_default_params)
        self._backend_b = _b(backend)
        self._vocab_b = _b(vocab_path)
        p.backend = self._backend_b
        p.device = int(device)
        p.n_threads = int(threads)
        p.log_level = int(log_level)
        self._log_fn = log_callback
        self._log_cb = None
        if log_callback is not None:
            # a weak reference: a bound method here would make a cycle and delay the C free
            ref = weakref.ref(self)
            self._log_cb = _lib.vc_log_callback(lambda lvl, msg, ud: _call(ref, "_on_log", lvl, msg, ud))
            p.log_callback = self._log_cb
        p.vocab_path = self._vocab_b
        h = c_void_p()
        _check(_C.vc_context_create(byref(p), byref(h)))
        self._h = h.value

    def _on_log(self, level: int, message: bytes, user: Any) -> None:
        try:
            try:
                lvl = LogLevel(level)
            except ValueError:
                lvl = level  # type: ignore[assignment]
            self._log_fn(lvl, _s(message))  # type: ignore[misc]
        except BaseException:  # an exception cannot cross the C frames
            sys.excepthook(*sys.exc_info())

    def _handle(self) -> int:
        if not self._h:
            raise ValueError("context is closed")
        return self._h

    @property
    def backend(self) -> str:
        """Name of the backend in use (``"cpu"``, ``"cuda"``)."""
        return _s(_C.vc_context_backend(self._handle()))

    @property
    def n_threads(self) -> int:
        return int(_C.vc_context_n_threads(self._handle()))

    @property
    def errmsg(self) -> str:
        """Text of the last failure on this context (``""`` if none)."""
        return _s(_C.vc_context_errmsg(self._handle()))

    @property
    def peak_bytes(self) -> int:
        """Peak bytes of working memory the context has held."""
        return int(_C.vc_context_peak_bytes(self._handle()))

    def cancel(self) -> None:
        """Asks the run in progress on this context to stop (safe from any thread)."""
        _C.vc_context_cancel(self._handle())

    def tokenize(self, text: Union[str, bytes]) -> List[int]:
        """77 open_clip token ids of one prompt (SOT ... EOT, zero padded)."""
        ids = (c_int64 * _lib.VC_TEXT_CONTEXT_LENGTH)()
        _check(_C.vc_tokenize(self._handle(), _b(text), ids), self)
        return list(ids)

    def image_load(self, path: Union[str, os.PathLike]) -> Any:
        """Decodes a PNG or JPEG into uint8 [H,W,3] RGB."""
        out = Tensor()
        _check(_C.vc_image_load(self._handle(), _b(path), byref(out._t)), self)
        return _wrap(out)

    def preprocess_image(self, image: ArrayLike, height: int, width: int) -> Tuple[Any, Any]:
        """The original's image preprocessing: (resized f32 [1,3,h,w], CLIP input f32 [1,3,224,224])."""
        b = _Borrowed()
        resized, clip = Tensor(), Tensor()
        _check(_C.vc_preprocess_image(self._handle(), b(_image(self, image), DType.U8, "image"),
                                      int(height), int(width), byref(resized._t), byref(clip._t)), self)
        return _wrap(resized), _wrap(clip)

    def frames(self, video: ArrayLike, b: int = 0) -> Any:
        """Float video [B,3,T,H,W] -> uint8 frames [T,H,W,3] of batch element ``b``."""
        bw = _Borrowed()
        out = Tensor()
        _check(_C.vc_video_to_frames(self._handle(), bw(video, DType.F32, "video"), int(b), byref(out._t)), self)
        return _wrap(out)

    def write_png(self, frames: ArrayLike, directory: Union[str, os.PathLike]) -> None:
        """Writes uint8 frames [T,H,W,3] as directory/0000.png, 0001.png, ..."""
        bw = _Borrowed()
        _check(_C.vc_frames_write_png(self._handle(), bw(frames, DType.U8, "frames"), _b(directory)), self)

    def close(self) -> None:
        """Frees the context (also done by the garbage collector)."""
        if self._h:
            _C.vc_context_free(self._h)
            self._h = None

    def __enter__(self) -> "Context":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_h", None) and _C is not None:
            _C.vc_context_free(self._h)
            self._h = None

    def __repr__(self) -> str:
        if not self._h:
            return "videocrafter.Context(closed)"
        return f"videocrafter.Context(backend={self.backend!r}, threads={self.n_threads})"


def _call(ref: "weakref.ref[Any]", method: str, *args: Any) -> Any:
    obj = ref()
    return getattr(obj, method)(*args) if obj is not None else None


_tls = threading.local()


def default_context() -> Context:
    """This thread's default context (created on first use: CPU, all cores, warnings on stderr)."""
    ctx = getattr(_tls, "ctx", None)
    if ctx is None:
        ctx = _tls.ctx = Context()
    return ctx


def _image(ctx: Context, image: Union[ArrayLike, str, os.PathLike]) -> ArrayLike:
    if isinstance(image, (str, os.PathLike)):
        return ctx.image_load(image)
    return image


# ------------------------------------------------------------------ model


@dataclass(frozen=True)
class ModelInfo:
    """What a loaded model is (``vc_model_info``)."""
    variant: str
    image_conditioned: bool
    fps_conditioned: bool
    default_height: int
    default_width: int
    default_frames: int
    default_fps: int
    latent_channels: int
    latent_multiple: int
    context_length: int
    context_dim: int
    model_channels: int
    n_tensors: int
    params: Dict[Component, int]
    stored_dtype: DType
    file_bytes: int
    weight_bytes: int


@dataclass(frozen=True)
class Progress:
    """One progress report passed to a progress callback."""
    stage: str          #: "sample" or "decode"
    step: int           #: 1-based step just finished
    total: int
    timestep: int       #: DDPM timestep of the step (sample stage)
    elapsed_s: float
    x0: Any = None      #: predicted clean latent (a copy), when preview_x0 is set


ProgressCallback = Callable[[Progress], Optional[bool]]


class Model:
    """A loaded model (``vc_model``): read-only, shareable by contexts and threads.

    ``Model(path, config=None)`` loads ``model.ckpt`` or ``.safetensors``;
    ``config`` is the original ``inference_*.yaml`` (None: detect the variant).
    ``context`` is the default context of the model's methods (a fresh one if
    omitted); pass ``context=`` to a method to run it elsewhere (e.g. from
    another thread).
    """

    def __init__(self, path: Union[str, os.PathLike], config: Optional[Union[str, os.PathLike]] = None,
                 *, context: Optional[Context] = None, weights_dtype: DType = DType.F32):
        self._h: Optional[int] = None
        self.context = context if context is not None else Context()
        p = _defaults(_lib.vc_model_params, _C.vc_model_default_params)
        cfg = _b(config)
        p.config_path = cfg
        p.weights_dtype = int(weights_dtype)
        h = c_void_p()
        _check(_C.vc_model_load(self.context._handle(), _b(path), byref(p), byref(h)), self.context)
        self._h = h.value
        self.path = os.fspath(path)

    def _handle(self) -> int:
        if not self._h:
            raise ValueError("model is closed")
        return self._h

    def _ctx(self, context: Optional[Context]) -> Context:
        return context if context is not None else self.context

    @property
    def info(self) -> ModelInfo:
        """Variant, default sizes, parameter counts (``vc_model_get_info``)."""
        size = ctypes.sizeof(_lib.vc_model_info)
        buf = (ctypes.c_char * (size + 1024))()
        _C.vc_model_info_init(buf)
        ctypes.c_uint32.from_buffer(buf).value = size
        _check(_C.vc_model_get_info(self._handle(), buf))
        i = _lib.vc_model_info.from_buffer_copy(buf, 0)
        return ModelInfo(
            variant=_s(i.variant), image_conditioned=bool(i.image_conditioned),
            fps_conditioned=bool(i.fps_conditioned), default_height=i.default_height,
            default_width=i.default_width, default_frames=i.default_frames, default_fps=i.default_fps,
            latent_channels=i.latent_channels, latent_multiple=i.latent_multiple,
            context_length=i.context_length, context_dim=i.context_dim, model_channels=i.model_channels,
            n_tensors=i.n_tensors, params={Component(k): int(i.params[k]) for k in range(_lib.VC_COMPONENT_COUNT)},
            stored_dtype=DType(i.stored_dtype), file_bytes=int(i.file_bytes), weight_bytes=int(i.weight_bytes))

    def estimate_run_bytes(self, frames: int, height: int, width: int) -> int:
        """Estimated peak working memory of one sampling run (weights excluded)."""
        return int(_C.vc_model_estimate_run_bytes(self._handle(), int(frames), int(height), int(width)))

    def encode_text(self, prompts: Union[str, Sequence[str]], *, context: Optional[Context] = None) -> Any:
        """CLIP text context f32 [n,77,D] of one prompt or a list of prompts."""
        ctx = self._ctx(context)
        items = [prompts] if isinstance(prompts, (str, bytes)) else list(prompts)
        arr = (c_char_p * max(1, len(items)))(*[_b(p) for p in items])
        out = Tensor()
        _check(_C.vc_encode_text(ctx._handle(), self._handle(), arr, len(items), byref(out._t)), ctx)
        return _wrap(out)

    def encode_image(self, image: Union[ArrayLike, str, os.PathLike], height: int = 0, width: int = 0, *,
                     tokens: bool = False, context: Optional[Context] = None) -> Any:
        """I2V image conditioning f32 [1,16,D] (``tokens=True``: CLIP vision tokens [1,257,W]).

        ``image`` is uint8 [H,W,3] or a PNG/JPEG path; height/width: video size (0: default).
        """
        ctx = self._ctx(context)
        b = _Borrowed()
        out = Tensor()
        flags = _lib.VC_ENCODE_IMAGE_TOKENS if tokens else 0
        _check(_C.vc_encode_image(ctx._handle(), self._handle(), b(_image(ctx, image), DType.U8, "image"),
                                  int(height), int(width), flags, byref(out._t)), ctx)
        return _wrap(out)

    def unet_eps(self, x: ArrayLike, t: ArrayLike, context_emb: ArrayLike, fps: Optional[ArrayLike] = None, *,
                 context: Optional[Context] = None) -> Any:
        """One UNet call: eps f32 [B,4,T,h,w] from x [B,4,T,h,w], t [B] int64, context_emb [B,L,D], fps [B]."""
        ctx = self._ctx(context)
        b = _Borrowed()
        out = Tensor()
        _check(_C.vc_unet_eps(ctx._handle(), self._handle(), b(x, DType.F32, "x"), b(t, DType.I64, "t"),
                              b(context_emb, DType.F32, "context"), b(fps, DType.I64, "fps"),
                              byref(out._t)), ctx)
        return _wrap(out)

    def decode(self, z: ArrayLike, *, context: Optional[Context] = None) -> Any:
        """VAE-decodes sampler latents [B,4,T,h,w] -> float video [B,3,T,8h,8w]."""
        ctx = self._ctx(context)
        b = _Borrowed()
        out = Tensor()
        _check(_C.vc_decode_latents(ctx._handle(), self._handle(), b(z, DType.F32, "z"), byref(out._t)), ctx)
        return _wrap(out)

    def encode_images(self, images: ArrayLike, *, context: Optional[Context] = None) -> Any:
        """VAE-encodes images [N,3,H,W] in [-1,1] -> scaled posterior mode [N,4,H/8,W/8]."""
        ctx = self._ctx(context)
        b = _Borrowed()
        out = Tensor()
        _check(_C.vc_encode_images(ctx._handle(), self._handle(), b(images, DType.F32, "images"),
                                   byref(out._t)), ctx)
        return _wrap(out)

    def sampler(self, **params: Any) -> "Sampler":
        """A :class:`Sampler` for this model (keyword arguments as Sampler's)."""
        return Sampler(self, **params)

    def t2v(self, prompt: Union[str, Sequence[str]], negative_prompt: Optional[str] = None, *,
            decode: bool = True, init_noise: Optional[ArrayLike] = None, step_noise: Optional[ArrayLike] = None,
            context: Optional[Context] = None, **params: Any) -> Any:
        """Text to video: float video [B,3,T,H,W] in about [-1,1] (``decode=False``: the latent).

        Keyword arguments are :class:`Sampler`'s (steps, eta, guidance, fps, seed,
        frames, height, width, batch, progress, preview_x0, batch_guidance).
        """
        with Sampler(self, context=context, **params) as s:
            z = s.run(prompt, negative_prompt=negative_prompt, init_noise=init_noise, step_noise=step_noise)
        return self.decode(z, context=context) if decode else z

    def i2v(self, image: Union[ArrayLike, str, os.PathLike], prompt: Union[str, Sequence[str]],
            negative_prompt: Optional[str] = None, *, decode: bool = True, init_noise: Optional[ArrayLike] = None,
            step_noise: Optional[ArrayLike] = None, context: Optional[Context] = None, **params: Any) -> Any:
        """Image (uint8 [H,W,3] or a path) + text to video; as :meth:`t2v`."""
        ctx = self._ctx(context)
        img = _image(ctx, image)
        with Sampler(self, context=context, **params) as s:
            z = s.run(prompt, negative_prompt=negative_prompt, image=img, init_noise=init_noise,
                      step_noise=step_noise)
        return self.decode(z, context=context) if decode else z

    def close(self) -> None:
        """Frees the weights (also done by the garbage collector)."""
        if self._h:
            _C.vc_model_free(self._h)
            self._h = None

    def __enter__(self) -> "Model":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_h", None) and _C is not None:
            _C.vc_model_free(self._h)
            self._h = None

    def __repr__(self) -> str:
        return f"videocrafter.Model({self.path!r})" if self._h else "videocrafter.Model(closed)"


# ------------------------------------------------------------------ sampler

_SAMPLER_FIELDS = ("steps", "eta", "guidance", "fps", "seed", "frames", "height", "width", "batch",
                   "preview_x0", "batch_guidance")


class Sampler:
    """A DDIM sampler (``vc_sampler``) bound to a model and a context.

    Keyword arguments override the model's defaults (``vc_sampler_default_params``):
    steps (50), eta (1.0), guidance (12.0), fps (0: model default), seed (123),
    frames (16), height/width (0: model default), batch (1), preview_x0,
    batch_guidance. ``progress(p: Progress)`` is called after every step;
    returning True cancels the run, which then raises :class:`Cancelled`
    (an exception raised by the callback also stops the run and is re-raised).
    """

    def __init__(self, model: Model, *, context: Optional[Context] = None,
                 progress: Optional[ProgressCallback] = None, **params: Any):
        self._h: Optional[int] = None
        self.model = model
        self.context = model._ctx(context)
        unknown = set(params) - set(_SAMPLER_FIELDS)
        if unknown:
            raise TypeError(f"unknown sampler parameter(s): {', '.join(sorted(unknown))}")
        p = _defaults(_lib.vc_sampler_params, _C.vc_sampler_default_params, model._handle())
        for k, v in params.items():
            if v is not None:
                setattr(p, k, v)
        self.progress = progress
        self._cb_error: Optional[BaseException] = None
        ref = weakref.ref(self)
        self._cb = _lib.vc_progress_callback(lambda p, ud: _call(ref, "_on_progress", p, ud) or 0)
        p.progress = self._cb
        self.params: Dict[str, Any] = {k: getattr(p, k) for k in _SAMPLER_FIELDS}
        h = c_void_p()
        _check(_C.vc_sampler_create(self.context._handle(), model._handle(), byref(p), byref(h)), self.context)
        self._h = h.value

    def _on_progress(self, p: "ctypes._Pointer", user: Any) -> int:
        fn = self.progress
        if fn is None:
            return 0
        try:
            r = p.contents
            x0 = None
            if r.x0:
                src = r.x0.contents
                x0 = Tensor()
                dims = (c_int64 * max(1, src.ndim))(*[src.shape[i] for i in range(src.ndim)])
                _check(_C.vc_tensor_alloc(byref(x0._t), src.dtype, src.ndim, dims))
                if x0.nbytes:
                    ctypes.memmove(x0._t.data, src.data, x0.nbytes)
                x0 = _wrap(x0)
            info = Progress(stage=_s(r.stage), step=r.step, total=r.total, timestep=r.timestep,
                            elapsed_s=r.elapsed_s, x0=x0)
            return 1 if fn(info) else 0
        except BaseException as e:  # KeyboardInterrupt too: stop the run, re-raise after it
            self._cb_error = e
            return 1

    def _handle(self) -> int:
        if not self._h:
            raise ValueError("sampler is closed")
        return self._h

    @property
    def n_steps(self) -> int:
        """Number of executed DDIM steps."""
        return int(_C.vc_sampler_n_steps(self._handle()))

    @property
    def timesteps(self) -> List[int]:
        """DDPM timesteps of the executed steps, noisiest first."""
        n = self.n_steps
        buf = (c_int64 * max(1, n))()
        _check(_C.vc_sampler_get_timesteps(self._handle(), buf, n), self.context)
        return list(buf[:n])

    def run(self, prompt: Optional[Union[str, Sequence[str]]] = None, *, negative_prompt: Optional[str] = None,
            context_emb: Optional[ArrayLike] = None, uncond_context_emb: Optional[ArrayLike] = None,
            image: Optional[Union[ArrayLike, str, os.PathLike]] = None, init_noise: Optional[ArrayLike] = None,
            step_noise: Optional[ArrayLike] = None, return_steps: bool = False,
            progress: Optional[ProgressCallback] = None) -> Any:
        """Runs DDIM and returns the latent f32 [B,4,T,h,w] (``return_steps``: (latent, steps [K,B,4,T,h,w])).

        Give ``prompt`` (a string or a list), or precomputed ``context_emb`` [B,L,D];
        ``image`` (uint8 [H,W,3] or a path) for I2V; ``init_noise`` x_T and
        ``step_noise`` [K,B,4,T,h,w] replace the seeded noise.
        """
        b = _Borrowed()
        inp = _defaults(_lib.vc_sample_inputs, _C.vc_sample_inputs_init)
        if prompt is not None:
            items = [prompt] if isinstance(prompt, (str, bytes)) else list(prompt)
            arr = (c_char_p * max(1, len(items)))(*[_b(p) for p in items])
            b._keep.append(arr)
            inp.prompts = ctypes.cast(arr, POINTER(c_char_p))
            inp.n_prompts = len(items)
        neg = _b(negative_prompt)
        inp.negative_prompt = neg
        inp.context = b(context_emb, DType.F32, "context_emb")
        inp.uncond_context = b(uncond_context_emb, DType.F32, "uncond_context_emb")
        if image is not None:
            inp.image = b(_image(self.context, image), DType.U8, "image")
        inp.init_noise = b(init_noise, DType.F32, "init_noise")
        inp.step_noise = b(step_noise, DType.F32, "step_noise")
        steps = Tensor() if return_steps else None
        if steps is not None:
            inp.steps_out = ctypes.pointer(steps._t)
        out = Tensor()
        saved = self.progress
        if progress is not None:
            self.progress = progress
        self._cb_error = None
        try:
            st = _C.vc_sampler_run(self._handle(), byref(inp), byref(out._t))
        finally:
            self.progress = saved
        if self._cb_error is not None:
            err, self._cb_error = self._cb_error, None
            raise err
        _check(st, self.context)
        z = _wrap(out)
        return (z, _wrap(steps)) if steps is not None else z

    def close(self) -> None:
        if self._h:
            _C.vc_sampler_free(self._h)
            self._h = None

    def __enter__(self) -> "Sampler":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_h", None) and _C is not None:
            _C.vc_sampler_free(self._h)
            self._h = None


# ------------------------------------------------------------------ module-level shortcuts


def tokenize(text: Union[str, bytes], *, context: Optional[Context] = None) -> List[int]:
    """77 open_clip token ids of one prompt (see :meth:`Context.tokenize`)."""
    return (context or default_context()).tokenize(text)


def encode_text(model: Model, prompts: Union[str, Sequence[str]], **kw: Any) -> Any:
    """See :meth:`Model.encode_text`."""
    return model.encode_text(prompts, **kw)


def encode_image(model: Model, image: Union[ArrayLike, str, os.PathLike], height: int = 0, width: int = 0,
                 **kw: Any) -> Any:
    """See :meth:`Model.encode_image`."""
    return model.encode_image(image, height, width, **kw)


def image_load(path: Union[str, os.PathLike], *, context: Optional[Context] = None) -> Any:
    """See :meth:`Context.image_load`."""
    return (context or default_context()).image_load(path)


def preprocess_image(image: ArrayLike, height: int, width: int, *, context: Optional[Context] = None) -> Tuple[Any, Any]:
    """See :meth:`Context.preprocess_image`."""
    return (context or default_context()).preprocess_image(image, height, width)


def unet_eps(model: Model, x: ArrayLike, t: ArrayLike, context_emb: ArrayLike, fps: Optional[ArrayLike] = None,
             **kw: Any) -> Any:
    """See :meth:`Model.unet_eps`."""
    return model.unet_eps(x, t, context_emb, fps, **kw)


def t2v(model: Model, prompt: Union[str, Sequence[str]], **kw: Any) -> Any:
    """See :meth:`Model.t2v`."""
    return model.t2v(prompt, **kw)


def i2v(model: Model, image: Union[ArrayLike, str, os.PathLike], prompt: Union[str, Sequence[str]], **kw: Any) -> Any:
    """See :meth:`Model.i2v`."""
    return model.i2v(image, prompt, **kw)


def decode(model: Model, z: ArrayLike, **kw: Any) -> Any:
    """See :meth:`Model.decode`."""
    return model.decode(z, **kw)


def encode_images(model: Model, images: ArrayLike, **kw: Any) -> Any:
    """See :meth:`Model.encode_images`."""
    return model.encode_images(images, **kw)


def frames(video: ArrayLike, b: int = 0, *, context: Optional[Context] = None) -> Any:
    """See :meth:`Context.frames`."""
    return (context or default_context()).frames(video, b)


def write_png(frames: ArrayLike, directory: Union[str, os.PathLike], *, context: Optional[Context] = None) -> None:
    """See :meth:`Context.write_png`."""
    (context or default_context()).write_png(frames, directory)
