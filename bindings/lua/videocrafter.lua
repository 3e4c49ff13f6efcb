--- videocrafter.lua - LuaJIT FFI bindings for libvideocrafter.
--
--   local vc = require("videocrafter")
--   local model = assert(vc.model("model.ckpt"))          -- or vc.model(path, {config = "x.yaml"})
--   local video = assert(model:t2v{prompt = "a red panda in the snow", steps = 25, seed = 123})
--   local frames = assert(vc.frames(video))               -- u8 [T,H,W,3]
--   assert(vc.write_png(frames, "out/"))
--
-- Conventions:
--  * Functions that can fail return `nil, message, status` (status: a vc.status value);
--    on success the first value is the result (or `true`).
--  * Handles and tensors free themselves when collected (ffi.gc); :close() / :free() frees now.
--  * Params are tables with the C field names (steps, eta, guidance, seed, frames, ...);
--    absent fields keep the library's defaults.
--  * Tensors are `vc_tensor` cdata (fields dtype, ndim, shape[0..], data) with methods
--    t:dims() (the shape as a Lua table), t:numel(), t:get(i) / t:set(i, v) (1-based, flat C
--    order), t:totable(), t:ptr() (typed pointer), t:save_npy(path), t:free().
--  * Threads: one context per Lua state/thread at a time; callbacks run on the calling thread.
--
-- The library is found as the interface contract §7 says: $VIDEOCRAFTER_LIB, then
-- ffi.load("videocrafter").

local ffi = require("ffi")
local bit = require("bit")

ffi.cdef [[
typedef enum vc_status {
    VC_STATUS_OK = 0, VC_STATUS_INVALID_ARGUMENT = 1, VC_STATUS_OUT_OF_MEMORY = 2,
    VC_STATUS_IO_ERROR = 3, VC_STATUS_BAD_FORMAT = 4, VC_STATUS_UNSUPPORTED = 5,
    VC_STATUS_MODEL_MISMATCH = 6, VC_STATUS_BAD_SIZE = 7, VC_STATUS_BAD_TEXT = 8,
    VC_STATUS_CANCELLED = 9, VC_STATUS_BACKEND_UNAVAILABLE = 10, VC_STATUS_BACKEND_ERROR = 11,
    VC_STATUS_LIMIT_EXCEEDED = 12, VC_STATUS_INTERNAL = 13
} vc_status;
typedef enum vc_dtype {
    VC_DTYPE_F32 = 0, VC_DTYPE_F16 = 1, VC_DTYPE_BF16 = 2, VC_DTYPE_F64 = 3, VC_DTYPE_I64 = 4,
    VC_DTYPE_I32 = 5, VC_DTYPE_U8 = 6
} vc_dtype;
typedef struct vc_tensor {
    vc_dtype dtype;
    int32_t ndim;
    int64_t shape[8];
    void *data;
    uint32_t flags;
} vc_tensor;
typedef struct vc_context vc_context;
typedef struct vc_model vc_model;
typedef struct vc_sampler vc_sampler;
typedef enum vc_log_level {
    VC_LOG_DEBUG = 0, VC_LOG_INFO = 1, VC_LOG_WARN = 2, VC_LOG_ERROR = 3, VC_LOG_NONE = 4
} vc_log_level;
typedef void (*vc_log_callback)(vc_log_level level, const char *message, void *user_data);
typedef struct vc_context_params {
    uint32_t struct_size;
    const char *backend;
    int32_t device;
    int32_t n_threads;
    vc_log_level log_level;
    vc_log_callback log_callback;
    void *log_user_data;
    const char *vocab_path;
} vc_context_params;
typedef struct vc_model_params {
    uint32_t struct_size;
    const char *config_path;
    vc_dtype weights_dtype;
} vc_model_params;
typedef enum vc_component {
    VC_COMPONENT_UNET = 0, VC_COMPONENT_VAE_ENCODER = 1, VC_COMPONENT_VAE_DECODER = 2,
    VC_COMPONENT_TEXT = 3, VC_COMPONENT_VISION = 4, VC_COMPONENT_RESAMPLER = 5,
    VC_COMPONENT_OTHER = 6, VC_COMPONENT_COUNT = 7
} vc_component;
typedef struct vc_model_info {
    uint32_t struct_size;
    const char *variant;
    bool image_conditioned;
    bool fps_conditioned;
    int32_t default_height, default_width, default_frames, default_fps;
    int32_t latent_channels;
    int32_t latent_multiple;
    int32_t context_length;
    int32_t context_dim;
    int32_t model_channels;
    int32_t n_tensors;
    int64_t params[7];
    vc_dtype stored_dtype;
    uint64_t file_bytes;
    uint64_t weight_bytes;
} vc_model_info;
typedef struct vc_progress {
    uint32_t struct_size;
    const char *stage;
    int32_t step;
    int32_t total;
    int32_t timestep;
    double elapsed_s;
    const vc_tensor *x0;
} vc_progress;
typedef int (*vc_progress_callback)(const vc_progress *progress, void *user_data);
typedef struct vc_sampler_params {
    uint32_t struct_size;
    int32_t steps;
    float eta;
    float guidance;
    int32_t fps;
    uint64_t seed;
    int32_t frames;
    int32_t height, width;
    int32_t batch;
    vc_progress_callback progress;
    void *progress_user_data;
    bool preview_x0;
    bool batch_guidance;
} vc_sampler_params;
typedef struct vc_sample_inputs {
    uint32_t struct_size;
    const char *const *prompts;
    int32_t n_prompts;
    const char *negative_prompt;
    const vc_tensor *context;
    const vc_tensor *uncond_context;
    const vc_tensor *image;
    const vc_tensor *init_noise;
    const vc_tensor *step_noise;
    vc_tensor *steps_out;
} vc_sample_inputs;

const char *vc_version(void);
int vc_version_number(void);
const char *vc_status_str(vc_status status);
const char *vc_last_error(void);
vc_status vc_tensor_alloc(vc_tensor *out, vc_dtype dtype, int32_t ndim, const int64_t *shape);
void vc_tensor_free(vc_tensor *t);
int64_t vc_tensor_numel(const vc_tensor *t);
size_t vc_dtype_size(vc_dtype dtype);
vc_status vc_tensor_load_npy(const char *path, vc_tensor *out);
vc_status vc_tensor_save_npy(const char *path, const vc_tensor *t);
void vc_context_default_params(void *params);
vc_status vc_context_create(const vc_context_params *params, vc_context **out);
void vc_context_free(vc_context *ctx);
const char *vc_context_errmsg(const vc_context *ctx);
const char *vc_context_backend(const vc_context *ctx);
int32_t vc_context_n_threads(const vc_context *ctx);
void vc_context_cancel(vc_context *ctx);
uint64_t vc_context_peak_bytes(const vc_context *ctx);
void vc_model_default_params(void *params);
vc_status vc_model_load(vc_context *ctx, const char *path, const vc_model_params *params, vc_model **out);
void vc_model_free(vc_model *model);
void vc_model_info_init(void *info);
vc_status vc_model_get_info(const vc_model *model, void *info);
uint64_t vc_model_estimate_run_bytes(const vc_model *model, int32_t frames, int32_t height, int32_t width);
vc_status vc_tokenize(vc_context *ctx, const char *utf8_text, int64_t tokens[77]);
vc_status vc_encode_text(vc_context *ctx, const vc_model *model, const char *const *prompts,
                         int32_t n_prompts, vc_tensor *out);
vc_status vc_image_load(vc_context *ctx, const char *path, vc_tensor *out);
vc_status vc_preprocess_image(vc_context *ctx, const vc_tensor *image, int32_t height,
                              int32_t width, vc_tensor *resized, vc_tensor *clip_input);
vc_status vc_encode_image(vc_context *ctx, const vc_model *model, const vc_tensor *image,
                          int32_t height, int32_t width, uint32_t flags, vc_tensor *out);
vc_status vc_unet_eps(vc_context *ctx, const vc_model *model, const vc_tensor *x,
                      const vc_tensor *t, const vc_tensor *context, const vc_tensor *fps, vc_tensor *eps);
void vc_sampler_default_params(const vc_model *model, void *params);
vc_status vc_sampler_create(vc_context *ctx, const vc_model *model,
                            const vc_sampler_params *params, vc_sampler **out);
void vc_sampler_free(vc_sampler *sampler);
int32_t vc_sampler_n_steps(const vc_sampler *sampler);
vc_status vc_sampler_get_timesteps(const vc_sampler *sampler, int64_t *timesteps, int32_t capacity);
void vc_sample_inputs_init(void *inputs);
vc_status vc_sampler_run(vc_sampler *sampler, const vc_sample_inputs *inputs, vc_tensor *latent);
vc_status vc_decode_latents(vc_context *ctx, const vc_model *model, const vc_tensor *z, vc_tensor *video);
vc_status vc_encode_images(vc_context *ctx, const vc_model *model, const vc_tensor *images, vc_tensor *latent);
vc_status vc_video_to_frames(vc_context *ctx, const vc_tensor *video, int32_t b, vc_tensor *frames);
vc_status vc_frames_write_png(vc_context *ctx, const vc_tensor *frames, const char *dir);
]]
-- The *_default_params / *_init functions take void* here: the library writes its own
-- sizeof(struct), which a newer library may make larger, so they get a buffer with headroom.

local HEADER_MAJOR, HEADER_MINOR = 0, 1

local function load_library()
  local tried = {}
  local env = os.getenv("VIDEOCRAFTER_LIB")
  if env and env ~= "" then
    local ok, lib = pcall(ffi.load, env)
    if ok then return lib end
    tried[#tried + 1] = "$VIDEOCRAFTER_LIB: " .. env .. " (" .. tostring(lib) .. ")"
  else
    tried[#tried + 1] = "$VIDEOCRAFTER_LIB: not set"
  end
  local ok, lib = pcall(ffi.load, "videocrafter")
  if ok then return lib end
  tried[#tried + 1] = 'ffi.load("videocrafter"): ' .. tostring(lib)
  error("libvideocrafter not found; tried:\n  " .. table.concat(tried, "\n  ") ..
        "\nBuild it with `make` and set VIDEOCRAFTER_LIB=/path/to/libvideocrafter.so.1", 2)
end

local C = load_library()

local vc = {}
vc.C = C   -- the raw FFI namespace, for anything the wrappers do not cover

do
  local n = C.vc_version_number()
  if math.floor(n / 10000) ~= HEADER_MAJOR or n < HEADER_MAJOR * 10000 + HEADER_MINOR * 100 then
    error(("libvideocrafter %s is not compatible with these bindings (need %d.x, x >= %d)")
          :format(ffi.string(C.vc_version()), HEADER_MAJOR, HEADER_MINOR), 2)
  end
end

vc.status = {
  OK = 0, INVALID_ARGUMENT = 1, OUT_OF_MEMORY = 2, IO_ERROR = 3, BAD_FORMAT = 4, UNSUPPORTED = 5,
  MODEL_MISMATCH = 6, BAD_SIZE = 7, BAD_TEXT = 8, CANCELLED = 9, BACKEND_UNAVAILABLE = 10,
  BACKEND_ERROR = 11, LIMIT_EXCEEDED = 12, INTERNAL = 13,
}
vc.dtype = { F32 = 0, F16 = 1, BF16 = 2, F64 = 3, I64 = 4, I32 = 5, U8 = 6 }
vc.log_level = { DEBUG = 0, INFO = 1, WARN = 2, ERROR = 3, NONE = 4 }
vc.component = { UNET = 0, VAE_ENCODER = 1, VAE_DECODER = 2, TEXT = 3, VISION = 4, RESAMPLER = 5, OTHER = 6 }
vc.TENSOR_MAX_DIMS = 8
vc.TEXT_CONTEXT_LENGTH = 77
vc.ENCODE_IMAGE_TOKENS = 1
vc.TENSOR_OWNED = 1

local dtype_names = {}
for k, v in pairs(vc.dtype) do dtype_names[v] = k end
local level_names = {}
for k, v in pairs(vc.log_level) do level_names[v] = k end
local ctype_of = { [0] = "float", "uint16_t", "uint16_t", "double", "int64_t", "int32_t", "uint8_t" }

local function str(p) return p ~= nil and ffi.string(p) or "" end

--- Run-time version string of the loaded library ("0.1.0").
function vc.version() return ffi.string(C.vc_version()) end
--- Run-time MAJOR*10000 + MINOR*100 + PATCH of the loaded library.
function vc.version_number() return tonumber(C.vc_version_number()) end
--- Static English name of a status.
function vc.status_str(s) return ffi.string(C.vc_status_str(s)) end
--- Text of the last failure on the calling thread ("" if none).
function vc.last_error() return str(C.vc_last_error()) end

-- nil, message, status for a failed status (the library's own message).
local function fail(st, ctx)
  st = tonumber(st)
  local msg = str(C.vc_last_error())
  if msg == "" and ctx ~= nil then msg = str(C.vc_context_errmsg(ctx)) end
  if msg == "" then msg = vc.status_str(st) end
  return nil, msg, st
end

-- A params struct filled by its default function into a buffer with headroom; our size declared.
local function defaults(ctype, fill, pre)
  local size = ffi.sizeof(ctype)
  local buf = ffi.new("uint8_t[?]", size + 1024)
  if pre ~= nil then fill(pre, buf) else fill(buf) end
  local p = ffi.new(ctype)
  ffi.copy(p, buf, size)
  p.struct_size = size
  return p
end

local function dtype_arg(d)
  if d == nil then return vc.dtype.F32 end
  if type(d) == "string" then
    local v = vc.dtype[d:upper()]
    if not v then error("unknown dtype " .. d, 3) end
    return v
  end
  return d
end

------------------------------------------------------------------------------- tensors

local tensor_mt = {}
tensor_mt.__index = tensor_mt

--- Shape as a Lua table {d1, d2, ...} (t.shape is the raw C array).
function tensor_mt.dims(t)
  local s = {}
  for i = 0, t.ndim - 1 do s[i + 1] = tonumber(t.shape[i]) end
  return s
end
--- Number of elements.
function tensor_mt.numel(t) return tonumber(C.vc_tensor_numel(t)) end
--- Bytes of data.
function tensor_mt.nbytes(t) return tonumber(C.vc_tensor_numel(t)) * tonumber(C.vc_dtype_size(t.dtype)) end
--- dtype name ("F32", "U8", ...).
function tensor_mt.dtype_name(t) return dtype_names[tonumber(t.dtype)] end
--- Typed pointer to the data (valid while the tensor lives).
function tensor_mt.ptr(t) return ffi.cast(ctype_of[tonumber(t.dtype)] .. "*", t.data) end
--- Element i (1-based, flat C order).
function tensor_mt.get(t, i)
  local n = t:numel()
  if i < 1 or i > n then error(("index %d out of range 1..%d"):format(i, n), 2) end
  return tonumber(t:ptr()[i - 1])
end
function tensor_mt.set(t, i, v)
  local n = t:numel()
  if i < 1 or i > n then error(("index %d out of range 1..%d"):format(i, n), 2) end
  t:ptr()[i - 1] = v
end
--- All elements as a flat Lua table (C order).
function tensor_mt.totable(t)
  local out, p = {}, t:ptr()
  for i = 0, t:numel() - 1 do out[i + 1] = tonumber(p[i]) end
  return out
end
--- The raw bytes as a Lua string.
function tensor_mt.tostring(t) return ffi.string(t.data, t:nbytes()) end
--- Saves as .npy (atomic); true or nil, err, status.
function tensor_mt.save_npy(t, path) return vc.save_npy(path, t) end
--- Frees the data now (also done when collected).
function tensor_mt.free(t) C.vc_tensor_free(t) end
tensor_mt.__gc = function(t) C.vc_tensor_free(t) end
tensor_mt.__len = function(t) return t.ndim > 0 and tonumber(t.shape[0]) or 0 end
tensor_mt.__tostring = function(t)
  return ("vc_tensor(%s, {%s})"):format(t:dtype_name() or "?", table.concat(t:dims(), ","))
end
ffi.metatype("vc_tensor", tensor_mt)

local function new_tensor() return ffi.new("vc_tensor") end

--- A zero-filled owned tensor: vc.tensor("F32", {2,3}) (values: optional flat table).
function vc.tensor(dtype, shape, values)
  local t = new_tensor()
  local dims = ffi.new("int64_t[?]", math.max(1, #shape))
  for i = 1, #shape do dims[i - 1] = shape[i] end
  local st = C.vc_tensor_alloc(t, dtype_arg(dtype), #shape, dims)
  if st ~= 0 then return fail(st) end
  if values then
    if #values ~= t:numel() then
      return nil, ("%d values for a tensor of %d elements"):format(#values, t:numel()), vc.status.INVALID_ARGUMENT
    end
    local p = t:ptr()
    for i = 1, #values do p[i - 1] = values[i] end
  end
  return t
end

--- Reads a .npy file; tensor or nil, err, status.
function vc.load_npy(path)
  local t = new_tensor()
  local st = C.vc_tensor_load_npy(path, t)
  if st ~= 0 then return fail(st) end
  return t
end

--- Writes a tensor as .npy v1.0; true or nil, err, status.
function vc.save_npy(path, t)
  local st = C.vc_tensor_save_npy(path, t)
  if st ~= 0 then return fail(st) end
  return true
end

--- Size of one element of a dtype.
function vc.dtype_size(d) return tonumber(C.vc_dtype_size(dtype_arg(d))) end

------------------------------------------------------------------------------- callbacks
-- One log and one progress callback for the whole module (LuaJIT has a limited number of
-- callback slots, and a per-object closure would pin its object forever). user_data carries
-- an id that maps, weakly, to the Lua object whose callback should run.
local registry = setmetatable({}, { __mode = "v" })
local next_id = 0
local function register(obj)
  next_id = next_id + 1
  registry[next_id] = obj
  return next_id
end
local function owner(ud) return registry[tonumber(ffi.cast("intptr_t", ud))] end

local log_trampoline = ffi.cast("vc_log_callback", function(level, msg, ud)
  local ctx = owner(ud)
  if not (ctx and ctx.log_callback) then return end
  -- a Lua error must not unwind through C frames
  local ok, err = pcall(ctx.log_callback, level_names[tonumber(level)] or tonumber(level), str(msg))
  if not ok then io.stderr:write("videocrafter: error in log callback: ", tostring(err), "\n") end
end)

local progress_trampoline = ffi.cast("vc_progress_callback", function(pr, ud)
  local s = owner(ud)
  local fn = s and s.progress
  if not fn then return 0 end
  local x0
  if pr.x0 ~= nil then
    local src = pr.x0
    local shape = {}
    for i = 0, src.ndim - 1 do shape[i + 1] = tonumber(src.shape[i]) end
    x0 = vc.tensor(tonumber(src.dtype), shape)
    if x0 then ffi.copy(x0.data, src.data, x0:nbytes()) end
  end
  local ok, r = pcall(fn, { stage = str(pr.stage), step = pr.step, total = pr.total, timestep = pr.timestep,
                            elapsed_s = pr.elapsed_s, x0 = x0 })
  if not ok then s._cb_error = r; return 1 end
  return r and 1 or 0
end)

------------------------------------------------------------------------------- context

local Context = {}
Context.__index = Context

--- Creates a context: vc.context{backend="cpu", threads=0, device=0, log_level="WARN",
--- log_callback=function(level_name, message) end, vocab_path=nil}. context or nil, err, status.
function vc.context(opts)
  opts = opts or {}
  local p = defaults("vc_context_params", C.vc_context_default_params)
  local self = setmetatable({ _keep = {} }, Context)
  if opts.backend then p.backend = opts.backend; self._keep[#self._keep + 1] = opts.backend end
  p.device = opts.device or 0
  p.n_threads = opts.threads or opts.n_threads or 0
  if opts.log_level ~= nil then
    p.log_level = type(opts.log_level) == "string" and vc.log_level[opts.log_level:upper()] or opts.log_level
  end
  if opts.vocab_path then p.vocab_path = opts.vocab_path; self._keep[#self._keep + 1] = opts.vocab_path end
  if opts.log_callback then
    self.log_callback = opts.log_callback
    self._id = register(self)
    p.log_callback = log_trampoline
    p.log_user_data = ffi.cast("void*", self._id)
  end
  local out = ffi.new("vc_context*[1]")
  local st = C.vc_context_create(p, out)
  if st ~= 0 then return fail(st) end
  self.h = ffi.gc(out[0], C.vc_context_free)
  return self
end

function Context:_h()
  if self.h == nil then error("context is closed", 3) end
  return self.h
end
--- Name of the backend in use.
function Context:backend() return ffi.string(C.vc_context_backend(self:_h())) end
--- Threads the context uses.
function Context:n_threads() return tonumber(C.vc_context_n_threads(self:_h())) end
--- Text of the last failure on this context.
function Context:errmsg() return str(C.vc_context_errmsg(self:_h())) end
--- Peak working-memory bytes.
function Context:peak_bytes() return tonumber(C.vc_context_peak_bytes(self:_h())) end
--- Asks the run in progress to stop.
function Context:cancel() C.vc_context_cancel(self:_h()) end

--- 77 token ids of a prompt as a Lua table; or nil, err, status.
function Context:tokenize(text)
  local ids = ffi.new("int64_t[77]")
  local st = C.vc_tokenize(self:_h(), text, ids)
  if st ~= 0 then return fail(st, self.h) end
  local out = {}
  for i = 0, 76 do out[i + 1] = tonumber(ids[i]) end
  return out
end

--- Decodes a PNG/JPEG into u8 [H,W,3].
function Context:image_load(path)
  local t = new_tensor()
  local st = C.vc_image_load(self:_h(), path, t)
  if st ~= 0 then return fail(st, self.h) end
  return t
end

local function as_image(ctx, image)
  if type(image) == "string" then return ctx:image_load(image) end
  return image
end

--- Image preprocessing: resized f32 [1,3,h,w], clip input f32 [1,3,224,224]; or nil, err, status.
function Context:preprocess_image(image, height, width)
  local img, e, s = as_image(self, image)
  if not img then return nil, e, s end
  local r, c = new_tensor(), new_tensor()
  local st = C.vc_preprocess_image(self:_h(), img, height or 0, width or 0, r, c)
  if st ~= 0 then return fail(st, self.h) end
  return r, c
end

--- Float video [B,3,T,H,W] -> u8 frames [T,H,W,3] of batch element b (0-based, default 0).
function Context:frames(video, b)
  local t = new_tensor()
  local st = C.vc_video_to_frames(self:_h(), video, b or 0, t)
  if st ~= 0 then return fail(st, self.h) end
  return t
end

--- Writes frames [T,H,W,3] u8 as dir/0000.png ...; true or nil, err, status.
function Context:write_png(frames, dir)
  local st = C.vc_frames_write_png(self:_h(), frames, dir)
  if st ~= 0 then return fail(st, self.h) end
  return true
end

--- Frees the context now (else when collected).
function Context:close()
  if self.h ~= nil then
    C.vc_context_free(ffi.gc(self.h, nil))
    self.h = nil
  end
end
Context.__gc = Context.close  -- only effective on Lua 5.2+; ffi.gc covers LuaJIT
Context.__tostring = function(self)
  if self.h == nil then return "vc.context(closed)" end
  return ("vc.context(%s, %d threads)"):format(self:backend(), self:n_threads())
end

local default_ctx
--- The module's default context (created on first use).
function vc.default_context()
  if not default_ctx then default_ctx = assert(vc.context()) end
  return default_ctx
end

function vc.tokenize(text, ctx) return (ctx or vc.default_context()):tokenize(text) end
function vc.image_load(path, ctx) return (ctx or vc.default_context()):image_load(path) end
function vc.preprocess_image(img, h, w, ctx) return (ctx or vc.default_context()):preprocess_image(img, h, w) end
function vc.frames(video, b, ctx) return (ctx or vc.default_context()):frames(video, b) end
function vc.write_png(frames, dir, ctx) return (ctx or vc.default_context()):write_png(frames, dir) end

------------------------------------------------------------------------------- model

local Model = {}
Model.__index = Model

--- Loads a model: vc.model(path, {config=yaml, context=ctx, weights_dtype="F32"}).
--- model or nil, err, status. The model is read-only and may be shared by contexts.
function vc.model(path, opts)
  if type(opts) == "string" then opts = { config = opts } end
  opts = opts or {}
  local ctx = opts.context
  if not ctx then
    local e, s
    ctx, e, s = vc.context{ threads = opts.threads }
    if not ctx then return nil, e, s end
  end
  local p = defaults("vc_model_params", C.vc_model_default_params)
  p.config_path = opts.config
  p.weights_dtype = dtype_arg(opts.weights_dtype)
  local out = ffi.new("vc_model*[1]")
  local st = C.vc_model_load(ctx:_h(), path, p, out)
  if st ~= 0 then return fail(st, ctx.h) end
  return setmetatable({ h = ffi.gc(out[0], C.vc_model_free), context = ctx, path = path }, Model)
end

function Model:_h()
  if self.h == nil then error("model is closed", 3) end
  return self.h
end
function Model:_ctx(ctx) return ctx or self.context end

--- Model facts as a table (variant, default sizes, params per component, ...).
function Model:info()
  local size = ffi.sizeof("vc_model_info")
  local buf = ffi.new("uint8_t[?]", size + 1024)
  C.vc_model_info_init(buf)
  ffi.cast("uint32_t*", buf)[0] = size
  local st = C.vc_model_get_info(self:_h(), buf)
  if st ~= 0 then return fail(st) end
  local i = ffi.cast("vc_model_info*", buf)
  local params = {}
  for k, v in pairs(vc.component) do params[k] = tonumber(i.params[v]) end
  return {
    variant = str(i.variant), image_conditioned = i.image_conditioned, fps_conditioned = i.fps_conditioned,
    default_height = i.default_height, default_width = i.default_width, default_frames = i.default_frames,
    default_fps = i.default_fps, latent_channels = i.latent_channels, latent_multiple = i.latent_multiple,
    context_length = i.context_length, context_dim = i.context_dim, model_channels = i.model_channels,
    n_tensors = i.n_tensors, params = params, stored_dtype = dtype_names[tonumber(i.stored_dtype)],
    file_bytes = tonumber(i.file_bytes), weight_bytes = tonumber(i.weight_bytes),
  }
end

--- Estimated peak working memory of one sampling run.
function Model:estimate_run_bytes(frames, height, width)
  return tonumber(C.vc_model_estimate_run_bytes(self:_h(), frames, height, width))
end

local function prompt_array(prompts)
  if type(prompts) == "string" then prompts = { prompts } end
  local arr = ffi.new("const char*[?]", math.max(1, #prompts))
  for i = 1, #prompts do arr[i - 1] = prompts[i] end
  return arr, #prompts, prompts   -- keep `prompts` referenced while arr is used
end

--- CLIP text context f32 [n,77,D] of a prompt or a table of prompts.
function Model:encode_text(prompts, ctx)
  ctx = self:_ctx(ctx)
  local arr, n, keep = prompt_array(prompts)
  local t = new_tensor()
  local st = C.vc_encode_text(ctx:_h(), self:_h(), arr, n, t)
  local _ = keep
  if st ~= 0 then return fail(st, ctx.h) end
  return t
end

--- I2V conditioning of an image (u8 [H,W,3] tensor or a path): f32 [1,16,D];
--- opts: {height=, width=, tokens=true (CLIP vision tokens instead), context=}.
function Model:encode_image(image, opts)
  opts = opts or {}
  local ctx = self:_ctx(opts.context)
  local img, e, s = as_image(ctx, image)
  if not img then return nil, e, s end
  local t = new_tensor()
  local st = C.vc_encode_image(ctx:_h(), self:_h(), img, opts.height or 0, opts.width or 0,
                               opts.tokens and vc.ENCODE_IMAGE_TOKENS or 0, t)
  if st ~= 0 then return fail(st, ctx.h) end
  return t
end

--- One UNet call: eps = UNet(x, t, context_emb, fps or nil).
function Model:unet_eps(x, t, context_emb, fps, ctx)
  ctx = self:_ctx(ctx)
  local out = new_tensor()
  local st = C.vc_unet_eps(ctx:_h(), self:_h(), x, t, context_emb, fps, out)
  if st ~= 0 then return fail(st, ctx.h) end
  return out
end

--- Latents [B,4,T,h,w] -> float video [B,3,T,8h,8w].
function Model:decode(z, ctx)
  ctx = self:_ctx(ctx)
  local out = new_tensor()
  local st = C.vc_decode_latents(ctx:_h(), self:_h(), z, out)
  if st ~= 0 then return fail(st, ctx.h) end
  return out
end

--- Images [N,3,H,W] in [-1,1] -> scaled posterior mode [N,4,H/8,W/8].
function Model:encode_images(images, ctx)
  ctx = self:_ctx(ctx)
  local out = new_tensor()
  local st = C.vc_encode_images(ctx:_h(), self:_h(), images, out)
  if st ~= 0 then return fail(st, ctx.h) end
  return out
end

--- Frees the weights now (else when collected).
function Model:close()
  if self.h ~= nil then
    C.vc_model_free(ffi.gc(self.h, nil))
    self.h = nil
  end
end
Model.__tostring = function(self) return ("vc.model(%s)"):format(self.path) end

------------------------------------------------------------------------------- sampler

local Sampler = {}
Sampler.__index = Sampler
local sampler_fields = { "steps", "eta", "guidance", "fps", "seed", "frames", "height", "width", "batch",
                         "preview_x0", "batch_guidance" }

--- A DDIM sampler: model:sampler{steps=50, eta=1, guidance=12, fps=0, seed=123, frames=16,
--- height=0, width=0, batch=1, preview_x0=false, batch_guidance=true,
--- progress=function(p) return true --[[cancel]] end, context=ctx}. sampler or nil, err, status.
function Model:sampler(opts)
  opts = opts or {}
  local ctx = self:_ctx(opts.context)
  local p = defaults("vc_sampler_params", C.vc_sampler_default_params, self:_h())
  for _, k in ipairs(sampler_fields) do
    if opts[k] ~= nil then p[k] = opts[k] end
  end
  local s = setmetatable({ model = self, context = ctx, progress = opts.progress }, Sampler)
  s._id = register(s)
  p.progress = progress_trampoline
  p.progress_user_data = ffi.cast("void*", s._id)
  local out = ffi.new("vc_sampler*[1]")
  local st = C.vc_sampler_create(ctx:_h(), self:_h(), p, out)
  if st ~= 0 then return fail(st, ctx.h) end
  s.h = ffi.gc(out[0], C.vc_sampler_free)
  return s
end

function Sampler:_h()
  if self.h == nil then error("sampler is closed", 3) end
  return self.h
end
--- Number of executed steps.
function Sampler:n_steps() return tonumber(C.vc_sampler_n_steps(self:_h())) end
--- DDPM timesteps of the executed steps, noisiest first (a table).
function Sampler:timesteps()
  local n = self:n_steps()
  local buf = ffi.new("int64_t[?]", math.max(1, n))
  local st = C.vc_sampler_get_timesteps(self:_h(), buf, n)
  if st ~= 0 then return fail(st) end
  local out = {}
  for i = 0, n - 1 do out[i + 1] = tonumber(buf[i]) end
  return out
end

--- Runs DDIM: sampler:run{prompt="..." or {...}, negative_prompt=, context_emb=, uncond_context_emb=,
--- image= (u8 tensor or path), init_noise=, step_noise=, return_steps=true, progress=fn}.
--- latent [B,4,T,h,w] (and steps [K,B,4,T,h,w] with return_steps), or nil, err, status.
--- A progress callback returning true cancels: nil, msg, vc.status.CANCELLED.
--- A Lua error raised in the callback stops the run and is re-raised.
function Sampler:run(opts)
  opts = opts or {}
  local inp = defaults("vc_sample_inputs", C.vc_sample_inputs_init)
  local keep = {}
  if opts.prompt then
    local arr, n, k = prompt_array(opts.prompt)
    inp.prompts, inp.n_prompts = arr, n
    keep[#keep + 1], keep[#keep + 2] = arr, k
  end
  inp.negative_prompt = opts.negative_prompt
  inp.context = opts.context_emb
  inp.uncond_context = opts.uncond_context_emb
  if opts.image then
    local img, e, s = as_image(self.context, opts.image)
    if not img then return nil, e, s end
    keep[#keep + 1] = img
    inp.image = img
  end
  inp.init_noise = opts.init_noise
  inp.step_noise = opts.step_noise
  local steps
  if opts.return_steps then steps = new_tensor(); inp.steps_out = steps end
  local saved = self.progress
  if opts.progress then self.progress = opts.progress end
  self._cb_error = nil
  local z = new_tensor()
  local st = C.vc_sampler_run(self:_h(), inp, z)
  self.progress = saved
  local _ = keep
  if self._cb_error ~= nil then
    local e = self._cb_error
    self._cb_error = nil
    error(e, 0)
  end
  if st ~= 0 then return fail(st, self.context.h) end
  if steps then return z, steps end
  return z
end

--- Frees the sampler now (else when collected).
function Sampler:close()
  if self.h ~= nil then
    C.vc_sampler_free(ffi.gc(self.h, nil))
    self.h = nil
  end
end

-- t2v / i2v: opts = sampler fields + run fields + decode (default true) + context.
local function generate(model, opts)
  local s, e, st = model:sampler(opts)
  if not s then return nil, e, st end
  local z, steps_or_err, st2 = s:run(opts)
  s:close()
  if not z then return nil, steps_or_err, st2 end
  if opts.decode == false then return z end
  return model:decode(z, opts.context)
end

--- Text to video: model:t2v{prompt=, negative_prompt=, steps=, seed=, ..., decode=true}
--- -> float video [B,3,T,H,W] (decode=false: the latent), or nil, err, status.
function Model:t2v(opts)
  if type(opts) == "string" then opts = { prompt = opts } end
  return generate(self, opts)
end

--- Image + text to video: model:i2v{image= (u8 tensor or path), prompt=, ...}; as t2v.
function Model:i2v(opts) return generate(self, opts) end

-- Functions that can call back into Lua (log or progress callbacks) must not run from a
-- compiled trace (LuaJIT FFI semantics), so keep the wrappers interpreted.
for _, tbl in ipairs({ Context, Model, Sampler }) do
  for _, fn in pairs(tbl) do
    if type(fn) == "function" then jit.off(fn) end
  end
end
jit.off(generate)
for _, name in ipairs({ "tokenize", "image_load", "preprocess_image", "frames", "write_png", "load_npy",
                        "save_npy", "tensor", "context", "model" }) do
  jit.off(vc[name])
end

-- Module-level shortcuts mirroring the Python package.
function vc.t2v(model, opts) return model:t2v(opts) end
function vc.i2v(model, opts) return model:i2v(opts) end
function vc.decode(model, z, ctx) return model:decode(z, ctx) end
function vc.encode_text(model, prompts, ctx) return model:encode_text(prompts, ctx) end
function vc.encode_image(model, image, opts) return model:encode_image(image, opts) end
function vc.encode_images(model, images, ctx) return model:encode_images(images, ctx) end
function vc.unet_eps(model, x, t, c, fps, ctx) return model:unet_eps(x, t, c, fps, ctx) end

vc._VERSION = vc.version()
vc.bit = bit -- (re-exported for flag tests)

return vc
