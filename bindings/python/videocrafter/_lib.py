"""Low-level ctypes declarations of include/videocrafter.h.

Everything here mirrors the C header one to one (same names, same layouts).
The friendly API lives in ``videocrafter/__init__.py``; use this module only
to call a C function the high-level API does not cover.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import warnings
from ctypes import (CFUNCTYPE, POINTER, c_bool, c_char_p, c_double, c_float, c_int, c_int32,
                    c_int64, c_size_t, c_uint32, c_uint64, c_void_p)
from typing import Dict, List, Optional, Sequence, Tuple

# Version of the header these declarations were written against.
HEADER_VERSION_MAJOR = 0
HEADER_VERSION_MINOR = 1
HEADER_VERSION_NUMBER = HEADER_VERSION_MAJOR * 10000 + HEADER_VERSION_MINOR * 100

VC_TENSOR_MAX_DIMS = 8
VC_TENSOR_OWNED = 1
VC_TEXT_CONTEXT_LENGTH = 77
VC_ENCODE_IMAGE_TOKENS = 1
VC_COMPONENT_COUNT = 7

# C enums are int-sized on every ABI the library supports.
c_enum = c_int


class vc_tensor(ctypes.Structure):
    _fields_ = [
        ("dtype", c_enum),
        ("ndim", c_int32),
        ("shape", c_int64 * VC_TENSOR_MAX_DIMS),
        ("data", c_void_p),
        ("flags", c_uint32),
    ]


vc_log_callback = CFUNCTYPE(None, c_enum, c_char_p, c_void_p)


class vc_context_params(ctypes.Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("backend", c_char_p),
        ("device", c_int32),
        ("n_threads", c_int32),
        ("log_level", c_enum),
        ("log_callback", vc_log_callback),
        ("log_user_data", c_void_p),
        ("vocab_path", c_char_p),
    ]


class vc_model_params(ctypes.Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("config_path", c_char_p),
        ("weights_dtype", c_enum),
    ]


class vc_model_info(ctypes.Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("variant", c_char_p),
        ("image_conditioned", c_bool),
        ("fps_conditioned", c_bool),
        ("default_height", c_int32),
        ("default_width", c_int32),
        ("default_frames", c_int32),
        ("default_fps", c_int32),
        ("latent_channels", c_int32),
        ("latent_multiple", c_int32),
        ("context_length", c_int32),
        ("context_dim", c_int32),
        ("model_channels", c_int32),
        ("n_tensors", c_int32),
        ("params", c_int64 * VC_COMPONENT_COUNT),
        ("stored_dtype", c_enum),
        ("file_bytes", c_uint64),
        ("weight_bytes", c_uint64),
    ]


class vc_progress(ctypes.Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("stage", c_char_p),
        ("step", c_int32),
        ("total", c_int32),
        ("timestep", c_int32),
        ("elapsed_s", c_double),
        ("x0", POINTER(vc_tensor)),
    ]


vc_progress_callback = CFUNCTYPE(c_int, POINTER(vc_progress), c_void_p)


class vc_sampler_params(ctypes.Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("steps", c_int32),
        ("eta", c_float),
        ("guidance", c_float),
        ("fps", c_int32),
        ("seed", c_uint64),
        ("frames", c_int32),
        ("height", c_int32),
        ("width", c_int32),
        ("batch", c_int32),
        ("progress", vc_progress_callback),
        ("progress_user_data", c_void_p),
        ("preview_x0", c_bool),
        ("batch_guidance", c_bool),
    ]


class vc_sample_inputs(ctypes.Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("prompts", POINTER(c_char_p)),
        ("n_prompts", c_int32),
        ("negative_prompt", c_char_p),
        ("context", POINTER(vc_tensor)),
        ("uncond_context", POINTER(vc_tensor)),
        ("image", POINTER(vc_tensor)),
        ("init_noise", POINTER(vc_tensor)),
        ("step_noise", POINTER(vc_tensor)),
        ("steps_out", POINTER(vc_tensor)),
    ]


# Every public struct, for the layout test (compared with the C compiler's offsetof).
STRUCTS = {
    "vc_tensor": vc_tensor,
    "vc_context_params": vc_context_params,
    "vc_model_params": vc_model_params,
    "vc_model_info": vc_model_info,
    "vc_progress": vc_progress,
    "vc_sampler_params": vc_sampler_params,
    "vc_sample_inputs": vc_sample_inputs,
}

P = POINTER
T = P(vc_tensor)
# Opaque handles travel as void pointers.
handle = c_void_p

# name -> (restype, argtypes). The params-struct "default"/"init" functions
# take void* because the binding hands them a buffer with headroom (see
# videocrafter._defaults): the library writes its own sizeof(struct), which a
# newer library may make larger than the layout declared here.
FUNCTIONS: Dict[str, Tuple[object, List[object]]] = {
    "vc_version": (c_char_p, []),
    "vc_version_number": (c_int, []),
    "vc_status_str": (c_char_p, [c_enum]),
    "vc_last_error": (c_char_p, []),
    "vc_tensor_alloc": (c_enum, [T, c_enum, c_int32, P(c_int64)]),
    "vc_tensor_free": (None, [T]),
    "vc_tensor_numel": (c_int64, [T]),
    "vc_dtype_size": (c_size_t, [c_enum]),
    "vc_tensor_load_npy": (c_enum, [c_char_p, T]),
    "vc_tensor_save_npy": (c_enum, [c_char_p, T]),
    "vc_context_default_params": (None, [c_void_p]),
    "vc_context_create": (c_enum, [c_void_p, P(handle)]),
    "vc_context_free": (None, [handle]),
    "vc_context_errmsg": (c_char_p, [handle]),
    "vc_context_backend": (c_char_p, [handle]),
    "vc_context_n_threads": (c_int32, [handle]),
    "vc_context_cancel": (None, [handle]),
    "vc_context_peak_bytes": (c_uint64, [handle]),
    "vc_model_default_params": (None, [c_void_p]),
    "vc_model_load": (c_enum, [handle, c_char_p, c_void_p, P(handle)]),
    "vc_model_free": (None, [handle]),
    "vc_model_info_init": (None, [c_void_p]),
    "vc_model_get_info": (c_enum, [handle, c_void_p]),
    "vc_model_estimate_run_bytes": (c_uint64, [handle, c_int32, c_int32, c_int32]),
    "vc_tokenize": (c_enum, [handle, c_char_p, P(c_int64)]),
    "vc_encode_text": (c_enum, [handle, handle, P(c_char_p), c_int32, T]),
    "vc_image_load": (c_enum, [handle, c_char_p, T]),
    "vc_preprocess_image": (c_enum, [handle, T, c_int32, c_int32, T, T]),
    "vc_encode_image": (c_enum, [handle, handle, T, c_int32, c_int32, c_uint32, T]),
    "vc_unet_eps": (c_enum, [handle, handle, T, T, T, T, T]),
    "vc_sampler_default_params": (None, [handle, c_void_p]),
    "vc_sampler_create": (c_enum, [handle, handle, c_void_p, P(handle)]),
    "vc_sampler_free": (None, [handle]),
    "vc_sampler_n_steps": (c_int32, [handle]),
    "vc_sampler_get_timesteps": (c_enum, [handle, P(c_int64), c_int32]),
    "vc_sample_inputs_init": (None, [c_void_p]),
    "vc_sampler_run": (c_enum, [handle, P(vc_sample_inputs), T]),
    "vc_decode_latents": (c_enum, [handle, handle, T, T]),
    "vc_encode_images": (c_enum, [handle, handle, T, T]),
    "vc_video_to_frames": (c_enum, [handle, T, c_int32, T]),
    "vc_frames_write_png": (c_enum, [handle, T, c_char_p]),
}


class LibraryNotFoundError(ImportError):
    """libvideocrafter.so.1 could not be loaded; the message lists every place tried."""


def _candidates() -> List[Tuple[str, Optional[str]]]:
    """Places to look for the library, in the order of interface contract §7."""
    places: List[Tuple[str, Optional[str]]] = []
    env = os.environ.get("VIDEOCRAFTER_LIB")
    places.append(("$VIDEOCRAFTER_LIB", env or None))
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "libvideocrafter.so.1")
    places.append(("beside the package", here))
    try:
        found = ctypes.util.find_library("videocrafter")
    except Exception:  # find_library shells out; never let that break the import
        found = None
    places.append(('ctypes.util.find_library("videocrafter")', found))
    places.append(("the dynamic loader's search path", "libvideocrafter.so.1"))
    return places


def load_library() -> Tuple[ctypes.CDLL, str]:
    """Loads the shared library and declares every function; returns (lib, path)."""
    tried: List[str] = []
    env_failed = False
    for where, path in _candidates():
        if not path:
            tried.append(f"{where}: not set" if where.startswith("$") else f"{where}: nothing found")
            continue
        if os.sep in path and not os.path.exists(path):
            tried.append(f"{where}: {path} (no such file)")
            env_failed = env_failed or where.startswith("$")
            continue
        try:
            lib = ctypes.CDLL(path)
        except OSError as e:
            tried.append(f"{where}: {path} ({e})")
            env_failed = env_failed or where.startswith("$")
            continue
        if env_failed:
            warnings.warn("VIDEOCRAFTER_LIB could not be loaded; using " + path, RuntimeWarning, 2)
        _declare(lib, path)
        return lib, path
    raise LibraryNotFoundError("libvideocrafter.so.1 not found; tried:\n  " + "\n  ".join(tried) +
                               "\nBuild it with `make` and set VIDEOCRAFTER_LIB=/path/to/libvideocrafter.so.1")


def _declare(lib: ctypes.CDLL, path: str) -> None:
    missing = []
    for name, (restype, argtypes) in FUNCTIONS.items():
        try:
            fn = getattr(lib, name)
        except AttributeError:
            missing.append(name)
            continue
        fn.restype = restype
        fn.argtypes = argtypes
    if missing:
        raise LibraryNotFoundError(f"{path} lacks {', '.join(missing)} (a library older than these bindings)")
    number = lib.vc_version_number()
    if number // 10000 != HEADER_VERSION_MAJOR or number < HEADER_VERSION_NUMBER:
        raise LibraryNotFoundError(
            f"{path} is version {lib.vc_version().decode()} ({number}); these bindings need "
            f"{HEADER_VERSION_MAJOR}.x with x >= {HEADER_VERSION_MINOR}")


def declared_functions() -> Sequence[str]:
    """Names of every C function these declarations cover (for the coverage test)."""
    return list(FUNCTIONS)
