-- t2v.lua - text to video from LuaJIT, frames written as PNGs.
--
--   VIDEOCRAFTER_LIB=build/libvideocrafter.so.1 LUA_PATH='bindings/lua/?.lua;;' \
--       luajit examples/lua/t2v.lua model.ckpt "a red panda in the snow" out/ [config.yaml] [steps] [frames] [height] [width] [threads]
local vc = require("videocrafter")

local model_path, prompt, outdir, config = arg[1], arg[2], arg[3], arg[4]
if not outdir then
  io.stderr:write("usage: luajit t2v.lua MODEL PROMPT OUTDIR [CONFIG|-] [STEPS] [FRAMES] [HEIGHT] [WIDTH] [THREADS]\n")
  os.exit(2)
end
if config == "-" then config = nil end

local function check(v, msg, status)
  if v == nil then
    io.stderr:write("error: ", msg, " (", vc.status_str(status), ")\n")
    os.exit(status == vc.status.UNSUPPORTED and 77 or 1)
  end
  return v
end

local model = check(vc.model(model_path, { config = config, threads = tonumber(arg[9]) }))
local video = check(model:t2v{
  prompt = prompt,
  steps = tonumber(arg[5]), frames = tonumber(arg[6]), height = tonumber(arg[7]), width = tonumber(arg[8]),
  progress = function(p)
    io.stderr:write(("\r%s %d/%d%s"):format(p.stage, p.step, p.total, p.step == p.total and "\n" or ""))
    return false -- true cancels
  end,
})
local frames = check(vc.frames(video))     -- u8 [T,H,W,3]
check(vc.write_png(frames, outdir))
local d = frames:dims()
print(("wrote %d frames of %dx%d to %s"):format(d[1], d[3], d[2], outdir))
