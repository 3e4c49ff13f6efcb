# test/cuda/emu/emu.mk - the CUDA backend built against the CPU emulation of
# test/cuda/emu/ (no nvcc, no GPU): its kernels and glue run in make check.
EMU_DIR      := $(BUILD)/emu
EMU_ARCH     := $(shell uname -m)
EMU_CXXFLAGS := -std=c++17 $(OPT) -ffp-contract=off -fPIC -fvisibility=hidden -pthread -Wall -Wextra -Werror \
                -Wno-unknown-pragmas -Wno-unused-parameter -Itest/cuda/emu/include -Ikernels
EMU_CU       := $(wildcard kernels/*.cu)
EMU_OBJ      := $(EMU_CU:kernels/%.cu=$(EMU_DIR)/obj/%.o) $(EMU_DIR)/obj/emu.o \
                $(patsubst lib/backend/cuda/%.c,$(EMU_DIR)/obj/%.o,$(wildcard lib/backend/cuda/*.c))
EMU_SO       := $(EMU_DIR)/libvideocrafter-cuda.so.1
EMU_CUDNN    := $(EMU_DIR)/libcudnn.so.9

$(EMU_DIR)/gen/%.cc: kernels/%.cu test/cuda/emu/cu2cpp.py
	@mkdir -p $(dir $@)
	python3 test/cuda/emu/cu2cpp.py $< $@

# The kernels check the alignment of every access they make: a GPU faults on a
# misaligned vector (uint4, __half2) or scalar access, which x86 executes.
EMU_KERNEL_FLAGS := -fsanitize=alignment -fno-sanitize-recover=alignment

$(EMU_DIR)/obj/%.o: $(EMU_DIR)/gen/%.cc kernels/vc_kernels.h $(wildcard kernels/*.cuh) $(wildcard test/cuda/emu/include/*.h)
	@mkdir -p $(dir $@)
	$(CXX) $(EMU_CXXFLAGS) $(EMU_KERNEL_FLAGS) -c $< -o $@

$(EMU_DIR)/obj/emu.o: test/cuda/emu/emu.cc $(wildcard test/cuda/emu/include/*.h)
	@mkdir -p $(dir $@)
	$(CXX) $(EMU_CXXFLAGS) $(PKG_CFLAGS) -c $< -o $@

$(EMU_DIR)/obj/%.o: lib/backend/cuda/%.c $(wildcard lib/backend/cuda/*.h) kernels/vc_kernels.h \
                    $(wildcard test/cuda/emu/include/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Itest/cuda/emu/include -c $< -o $@

$(EMU_SO): $(EMU_OBJ) test/cuda/emu/emu.map
	$(CC) -shared -Wl,-soname,libvideocrafter-cuda.so.1 -Wl,--version-script=test/cuda/emu/emu.map \
	    -Wl,--no-undefined $(LDFLAGS_ALL) $(EMU_KERNEL_FLAGS) -o $@ $(EMU_OBJ) $(LIBS) -lstdc++ -lm -ldl -pthread

# the emulator's self-test: each hazard it is to reveal, planted in a kernel
$(EMU_DIR)/gen/test_emu.cc: test/cuda/emu/test_emu.cu test/cuda/emu/cu2cpp.py
	@mkdir -p $(dir $@)
	python3 test/cuda/emu/cu2cpp.py $< $@

$(EMU_DIR)/test_emu: $(EMU_DIR)/gen/test_emu.cc $(EMU_DIR)/obj/emu.o $(wildcard test/cuda/emu/include/*.h)
	$(CXX) $(EMU_CXXFLAGS) $(EMU_KERNEL_FLAGS) -o $@ $< $(EMU_DIR)/obj/emu.o $(LIBS) -lm -pthread

# the emulated cuDNN, which the backend opens through VIDEOCRAFTER_CUDNN; it
# reaches the emulator's device-memory records in the backend library
$(EMU_CUDNN): test/cuda/emu/cudnn_emu.cc $(EMU_SO) $(wildcard test/cuda/emu/include/*.h)
	$(CXX) $(EMU_CXXFLAGS) -shared -Wl,-soname,libcudnn.so.9 -Wl,--no-undefined -o $@ $< \
	    -L$(EMU_DIR) -l:libvideocrafter-cuda.so.1 -Wl,-rpath,'$$ORIGIN'

# beside its backend library, which the registry tries first
$(EMU_DIR)/test_cuda_backend $(EMU_DIR)/test_cuda_memory: $(EMU_DIR)/%: test/cuda/%.c $(AR_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(AR_LIB) $(LIBS)

# The backend's host code (lib/backend/cuda/*.c: the weight cache, the plan
# caches, the ops' glue) and the test programs once more under
# AddressSanitizer and UBSan. The kernels and the emulator, whose fibers
# switch stacks, stay as they are.
EMU_ASAN_DIR  := $(EMU_DIR)/asan
EMU_SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer

$(EMU_ASAN_DIR)/obj/%.o: lib/backend/cuda/%.c $(wildcard lib/backend/cuda/*.h) kernels/vc_kernels.h \
                         $(wildcard test/cuda/emu/include/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(EMU_SAN_FLAGS) -Itest/cuda/emu/include -c $< -o $@

EMU_HOST_OBJ := $(patsubst lib/backend/cuda/%.c,%.o,$(wildcard lib/backend/cuda/*.c))
$(EMU_ASAN_DIR)/libvideocrafter-cuda.so.1: $(filter-out $(EMU_HOST_OBJ:%=$(EMU_DIR)/obj/%),$(EMU_OBJ)) \
                                           $(EMU_HOST_OBJ:%=$(EMU_ASAN_DIR)/obj/%) test/cuda/emu/emu.map
	$(CC) -shared -Wl,-soname,libvideocrafter-cuda.so.1 -Wl,--version-script=test/cuda/emu/emu.map \
	    $(LDFLAGS_ALL) $(EMU_SAN_FLAGS) $(EMU_KERNEL_FLAGS) -o $@ $(filter %.o,$^) $(LIBS) -lstdc++ -lm -ldl -pthread

$(EMU_ASAN_DIR)/test_cuda_backend $(EMU_ASAN_DIR)/test_cuda_memory: $(EMU_ASAN_DIR)/%: test/cuda/%.c $(AR_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(EMU_SAN_FLAGS) -o $@ $< $(AR_LIB) $(LIBS)

EMU_ASAN := $(EMU_ASAN_DIR)/libvideocrafter-cuda.so.1 $(EMU_ASAN_DIR)/test_cuda_backend $(EMU_ASAN_DIR)/test_cuda_memory

# make check: every kernel at reduced shapes in both modes, in both schedule
# orders, and the text tower's reference cases through the emulated backend
# (seconds). The other parity
# tests take many minutes emulated: check-cuda-emu-full.
EMU_RUN := OPENBLAS_NUM_THREADS=1 VIDEOCRAFTER_CUDNN=$(abspath $(EMU_CUDNN))
EMU_ENV := $(EMU_RUN) LD_LIBRARY_PATH=$(EMU_DIR) VC_TEST_BACKEND=cuda
ifneq ($(EMU_ARCH),x86_64)
check-cuda-emu check-cuda-emu-full:
	@echo "SKIP: the CUDA emulation switches fibers with x86-64 assembly (this is $(EMU_ARCH))"
else
check-cuda-emu: all $(EMU_SO) $(EMU_CUDNN) $(EMU_DIR)/test_emu $(EMU_DIR)/test_cuda_backend $(EMU_DIR)/test_cuda_memory \
                $(EMU_ASAN) $(BUILD)/test/test_text
	$(EMU_DIR)/test_emu
	$(EMU_RUN) $(EMU_DIR)/test_cuda_backend --small --expect-cudnn
	@echo "== test_cuda_backend, threads and blocks in reverse order (a missing barrier reads stale data in one order)"
	$(EMU_RUN) VCEMU_SCHEDULE=reverse $(EMU_DIR)/test_cuda_backend --small --expect-cudnn
	$(EMU_RUN) VCEMU_DEVICE_MB=96 $(EMU_DIR)/test_cuda_memory
	@echo "== the backend's host code under AddressSanitizer and UBSan"
	$(EMU_RUN) $(EMU_ASAN_DIR)/test_cuda_backend --small --expect-cudnn
	$(EMU_RUN) VCEMU_DEVICE_MB=96 $(EMU_ASAN_DIR)/test_cuda_memory
	@set -e; for prec in fp32 fp16; do echo "== test_text (emulated cuda $$prec)"; \
	    $(EMU_ENV) VIDEOCRAFTER_CUDA_PRECISION=$$prec $(BUILD)/test/test_text; done

EMU_PARITY := test_text test_unet test_ddim test_vae test_image
check-cuda-emu-full: all $(EMU_SO) $(EMU_CUDNN) $(EMU_DIR)/test_cuda_backend $(EMU_PARITY:%=$(BUILD)/test/%)
	$(EMU_RUN) $(EMU_DIR)/test_cuda_backend --small --expect-cudnn
	@set -e; for prec in fp32 fp16; do for t in $(EMU_PARITY); do \
	    echo "== $$t (emulated cuda $$prec)"; \
	    $(EMU_ENV) VIDEOCRAFTER_CUDA_PRECISION=$$prec $(BUILD)/test/$$t; \
	done; done
endif
