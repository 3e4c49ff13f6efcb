// t2v.cpp - the C API from C++ with small RAII wrappers (kept here, not in the library).
//
//   c++ -std=c++11 t2v.cpp $(pkg-config --cflags --libs videocrafter) -o t2v_cpp
//   ./t2v_cpp model.ckpt "a red panda in the snow" out/ [config.yaml] [steps] [frames] [height] [width] [threads]
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "videocrafter.h"

namespace vcpp {

// A failed call: the status and the library's message.
struct error : std::runtime_error {
    vc_status status;
    error(vc_status s, const std::string &msg) : std::runtime_error(msg + " (" + vc_status_str(s) + ")"), status(s) {}
};

inline void check(vc_status s, const vc_context *ctx = nullptr)
{
    if (s != VC_STATUS_OK) throw error(s, ctx ? vc_context_errmsg(ctx) : vc_last_error());
}

// Owned handles: unique_ptr with the matching vc_*_free.
struct context_free { void operator()(vc_context *c) const { vc_context_free(c); } };
struct model_free { void operator()(vc_model *m) const { vc_model_free(m); } };
struct sampler_free { void operator()(vc_sampler *s) const { vc_sampler_free(s); } };
using context_ptr = std::unique_ptr<vc_context, context_free>;
using model_ptr = std::unique_ptr<vc_model, model_free>;
using sampler_ptr = std::unique_ptr<vc_sampler, sampler_free>;

// A tensor the library filled; move-only, freed on destruction.
class tensor {
public:
    tensor() : t_() {}
    ~tensor() { vc_tensor_free(&t_); }
    tensor(tensor &&o) noexcept : t_(o.t_) { o.t_ = vc_tensor(); }
    tensor &operator=(tensor &&o) noexcept { std::swap(t_, o.t_); return *this; }
    tensor(const tensor &) = delete;
    tensor &operator=(const tensor &) = delete;
    vc_tensor *out() { vc_tensor_free(&t_); return &t_; }  // for output parameters
    const vc_tensor *get() const { return &t_; }
    int64_t dim(int i) const { return t_.shape[i]; }
private:
    vc_tensor t_;
};

inline context_ptr make_context(int threads = 0)
{
    vc_context_params p;
    vc_context_default_params(&p);
    p.n_threads = threads;
    vc_context *c = nullptr;
    check(vc_context_create(&p, &c));
    return context_ptr(c);
}

inline model_ptr load_model(vc_context *ctx, const std::string &path, const char *config)
{
    vc_model_params p;
    vc_model_default_params(&p);
    p.config_path = config;
    vc_model *m = nullptr;
    check(vc_model_load(ctx, path.c_str(), &p, &m), ctx);
    return model_ptr(m);
}

} // namespace vcpp

int main(int argc, char **argv)
{
    if (argc < 4) {
        std::fprintf(stderr, "usage: %s MODEL PROMPT OUTDIR [CONFIG|-] [STEPS] [FRAMES] [HEIGHT] [WIDTH] [THREADS]\n", argv[0]);
        return 2;
    }
    const char *config = argc > 4 && std::string(argv[4]) != "-" ? argv[4] : nullptr;
    try {
        vcpp::context_ptr ctx = vcpp::make_context(argc > 9 ? std::atoi(argv[9]) : 0);
        vcpp::model_ptr model = vcpp::load_model(ctx.get(), argv[1], config);

        vc_sampler_params sp;
        vc_sampler_default_params(model.get(), &sp);
        if (argc > 5) sp.steps = std::atoi(argv[5]);
        if (argc > 6) sp.frames = std::atoi(argv[6]);
        if (argc > 7) sp.height = std::atoi(argv[7]);
        if (argc > 8) sp.width = std::atoi(argv[8]);
        vc_sampler *s = nullptr;
        vcpp::check(vc_sampler_create(ctx.get(), model.get(), &sp, &s), ctx.get());
        vcpp::sampler_ptr sampler(s);

        std::vector<const char *> prompts{argv[2]};
        vc_sample_inputs in;
        vc_sample_inputs_init(&in);
        in.prompts = prompts.data();
        in.n_prompts = static_cast<int32_t>(prompts.size());

        vcpp::tensor z, video, frames;
        vcpp::check(vc_sampler_run(sampler.get(), &in, z.out()), ctx.get());
        vcpp::check(vc_decode_latents(ctx.get(), model.get(), z.get(), video.out()), ctx.get());
        vcpp::check(vc_video_to_frames(ctx.get(), video.get(), 0, frames.out()), ctx.get());
        vcpp::check(vc_frames_write_png(ctx.get(), frames.get(), argv[3]), ctx.get());
        std::printf("wrote %lld frames to %s\n", static_cast<long long>(frames.dim(0)), argv[3]);
    } catch (const vcpp::error &e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return e.status == VC_STATUS_UNSUPPORTED ? 77 : 1;
    }
    return 0;
}
