# kernels/cuda.mk - the CUDA backend, included by the Makefile when CUDA=1.
CUDA_HOME     ?= /usr/local/cuda
CUDA_ARCHS    ?= 80 90
NVCC_FLAGS    := -std=c++17 -O3 $(foreach a,$(CUDA_ARCHS),-gencode arch=compute_$(a),code=sm_$(a)) \
                 -Xcompiler -fPIC,-fvisibility=hidden,-Wall,-Wextra,-Werror -Werror all-warnings -Ikernels
CUDA_CU       := $(wildcard kernels/*.cu)
CUDA_CU_OBJ   := $(CUDA_CU:%.cu=$(BUILD)/obj/%.o)
CUDA_C_SRC    := $(wildcard lib/backend/cuda/*.c)
CUDA_C_OBJ    := $(CUDA_C_SRC:%.c=$(BUILD)/obj/%.o)
$(CUDA_C_OBJ): $(wildcard lib/backend/cuda/*.h) kernels/vc_kernels.h
CUDA_SO       := $(BUILD)/libvideocrafter-cuda.so.$(VERSION)
TARGETS       += $(CUDA_SO)

$(BUILD)/obj/kernels/%.o: kernels/%.cu kernels/vc_kernels.h $(wildcard kernels/*.cuh)
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCC_FLAGS) -c $< -o $@

$(BUILD)/obj/lib/backend/cuda/%.o: CFLAGS_ALL += -I$(CUDA_HOME)/include

$(CUDA_SO): $(CUDA_CU_OBJ) $(CUDA_C_OBJ)
	$(CC) -shared -Wl,-soname,libvideocrafter-cuda.so.$(SOVERSION) -Wl,--version-script=lib/videocrafter.map \
	    -Wl,--no-undefined $(LDFLAGS_ALL) -o $@ $^ -L$(CUDA_HOME)/lib64 -lcublasLt -lcublas -lcudart -lstdc++ -lm -ldl
	ln -sf libvideocrafter-cuda.so.$(VERSION) $(BUILD)/libvideocrafter-cuda.so.$(SOVERSION)

$(BUILD)/test/cuda/test_cuda_backend: test/cuda/test_cuda_backend.c $(AR_LIB) $(CUDA_SO)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(AR_LIB) $(LIBS)

# Kernel checks against the CPU backend, then the reference cases end to end
# on the GPU in float32 (1e-4) and fp16 mode (the contract's fp16 column); all
# skip, saying so, without a GPU.
CUDA_PARITY := test_text test_unet test_ddim test_vae test_image
check-cuda: all $(BUILD)/test/cuda/test_cuda_backend $(CUDA_PARITY:%=$(BUILD)/test/%)
	LD_LIBRARY_PATH=$(BUILD) $(BUILD)/test/cuda/test_cuda_backend
	@if LD_LIBRARY_PATH=$(BUILD) $(BUILD)/test/cuda/test_cuda_backend --probe; then \
	  set -e; for prec in fp32 fp16; do for t in $(CUDA_PARITY); do \
	    echo "== $$t (cuda $$prec)"; \
	    LD_LIBRARY_PATH=$(BUILD) VC_TEST_BACKEND=cuda VIDEOCRAFTER_CUDA_PRECISION=$$prec $(BUILD)/test/$$t; \
	  done; done; \
	else echo "SKIP: reference cases on cuda (no GPU)"; fi

# The bundle test/cuda/device_run.sh unpacks on a bare GPU machine (docs/cuda.md).
devpack: all $(BUILD)/test/cuda/test_cuda_backend $(CUDA_PARITY:%=$(BUILD)/test/%)
	$(MAKE) -C bench BUILD=$(abspath $(BUILD)) $(abspath $(BUILD))/bench/bench_model $(abspath $(BUILD))/bench/make_tiny_model
	BUILD=$(BUILD) SHARED=$(or $(VC_SHARED),../shared) bash test/cuda/devpack.sh
