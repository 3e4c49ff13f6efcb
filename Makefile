# libvideocrafter - build, test, install.
#   make                 library, CLI, encoder helpers (when FFmpeg dev packages exist)
#   make check           unit + parity tests (plain and ASan/UBSan), examples, bindings, fuzz regressions
#   make bench           benchmarks (bench/)
#   make fuzz            libFuzzer targets for FUZZ_SECONDS each
#   make install PREFIX=/usr/local
#   make CUDA=1          also the CUDA backend (libvideocrafter-cuda.so.1)

VERSION       := 0.1.0
SOVERSION     := 1
PREFIX        ?= /usr/local
BUILD         ?= build
SAN           ?= 0
CUDA          ?= 0
CC            ?= cc
CXX           ?= c++
NVCC          ?= nvcc
FUZZ_SECONDS  ?= 20
VC_TEST_DATA  ?= $(abspath ../shared/reference)
export VC_TEST_DATA

PKGS          := openblas yaml-0.1 libpng libjpeg zlib libutf8proc
PKG_CFLAGS    := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS      := $(shell pkg-config --libs $(PKGS))
FFMPEG_PKGS   := libavcodec libavformat libavutil libswscale
HAVE_FFMPEG   := $(shell pkg-config --exists $(FFMPEG_PKGS) && echo 1)

WARN          := -Wall -Wextra -Werror -Wno-unused-parameter
OPT           := -O2 -g
ifeq ($(SAN),1)
OPT           := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
endif
ifeq ($(SAN),tsan)
OPT           := -O1 -g -fno-omit-frame-pointer -fsanitize=thread
endif
CFLAGS_ALL    := -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) -fPIC -fvisibility=hidden -pthread \
                 -Iinclude -Ilib -DVC_BUILD -DVC_SOURCE_DIR=\"$(CURDIR)\" $(PKG_CFLAGS) $(CFLAGS)
LDFLAGS_ALL   := $(OPT) -pthread $(LDFLAGS)
LIBS          := $(PKG_LIBS) -lm -ldl

LIB_SRC       := $(filter-out lib/encode/% lib/backend/cuda/%,$(wildcard lib/*/*.c lib/*/*/*.c))
LIB_OBJ       := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_SRC       := $(wildcard examples/cli/*.c)
CLI_OBJ       := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TEST_SRC      := $(wildcard test/test_*.c)
TEST_BIN      := $(TEST_SRC:test/%.c=$(BUILD)/test/%)
TEST_SUPPORT  := $(filter-out $(TEST_SRC),$(wildcard test/*.c))
TEST_SUP_OBJ  := $(TEST_SUPPORT:%.c=$(BUILD)/obj/%.o)
ENC_SRC       := $(wildcard lib/encode/*.c)
ENC_OBJ       := $(ENC_SRC:%.c=$(BUILD)/obj/%.o)

SO            := $(BUILD)/libvideocrafter.so.$(VERSION)
SONAME        := libvideocrafter.so.$(SOVERSION)
AR_LIB        := $(BUILD)/libvideocrafter.a
CLI           := $(BUILD)/videocrafter
ENC_SO        := $(BUILD)/libvideocrafter-encode.so.$(VERSION)

TARGETS       := $(SO) $(AR_LIB) $(CLI) $(BUILD)/videocrafter.pc
ifeq ($(HAVE_FFMPEG),1)
TARGETS       += $(ENC_SO)
ENC_CFLAGS    := $(shell pkg-config --cflags $(FFMPEG_PKGS))
ENC_LIBS      := $(shell pkg-config --libs $(FFMPEG_PKGS))
endif
# `make` alone builds `all` (the check-cuda stand-in below would otherwise be the first rule)
.DEFAULT_GOAL := all
include test/cuda/emu/emu.mk
ifeq ($(CUDA),1)
include kernels/cuda.mk
else
check-cuda:
	$(MAKE) CUDA=1 check-cuda
devpack:
	$(MAKE) CUDA=1 devpack
endif

.SECONDARY:
.PHONY: all check check-unit check-asan check-isolated check-more bench fuzz install clean abi-check check-cuda check-cuda-emu check-cuda-emu-full devpack check-tsan abi-baseline
all: $(TARGETS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(BUILD)/obj/lib/encode/%.o: lib/encode/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(ENC_CFLAGS) -MMD -MP -c $< -o $@

$(AR_LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(SO): $(LIB_OBJ) lib/videocrafter.map
	$(CC) -shared -Wl,-soname,$(SONAME) -Wl,--version-script=lib/videocrafter.map -Wl,--no-undefined \
	    $(LDFLAGS_ALL) -o $@ $(LIB_OBJ) $(LIBS)
	ln -sf libvideocrafter.so.$(VERSION) $(BUILD)/$(SONAME)
	ln -sf $(SONAME) $(BUILD)/libvideocrafter.so

$(ENC_SO): $(ENC_OBJ) $(SO)
	$(CC) -shared -Wl,-soname,libvideocrafter-encode.so.$(SOVERSION) -Wl,--version-script=lib/videocrafter.map \
	    $(LDFLAGS_ALL) -o $@ $(ENC_OBJ) -L$(BUILD) -lvideocrafter $(ENC_LIBS) -lm
	ln -sf libvideocrafter-encode.so.$(VERSION) $(BUILD)/libvideocrafter-encode.so.$(SOVERSION)
	ln -sf libvideocrafter-encode.so.$(SOVERSION) $(BUILD)/libvideocrafter-encode.so

# The CLI uses the public API only, through the shared library.
$(CLI): $(CLI_OBJ) $(SO) $(if $(HAVE_FFMPEG),$(ENC_SO))
	$(CC) $(LDFLAGS_ALL) -o $@ $(CLI_OBJ) -L$(BUILD) -lvideocrafter $(if $(HAVE_FFMPEG),-lvideocrafter-encode) \
	    -Wl,-rpath,'$$ORIGIN' -lm

$(BUILD)/obj/examples/cli/%.o: CFLAGS_ALL += $(if $(HAVE_FFMPEG),-DVC_HAVE_ENCODE=1)

# Tests may use internals, so they link the static library.
$(BUILD)/test/%: $(BUILD)/obj/test/%.o $(TEST_SUP_OBJ) $(AR_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $< $(TEST_SUP_OBJ) $(AR_LIB) $(LIBS) $(shell pkg-config --libs cmocka)

$(BUILD)/videocrafter.pc: pkgconfig/videocrafter.pc.in
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' $< > $@

# ------------------------------------------------------------------ tests
check: check-unit check-asan check-isolated check-cuda-emu check-more abi-check
	@echo "make check: all passed"

check-unit: all $(TEST_BIN)
	@set -e; for t in $(TEST_BIN); do echo "== $$t"; $$t; done

check-asan:
	$(MAKE) BUILD=build/asan SAN=1 check-unit

# The parity tests again on the cpu-checked backend (lib/backend/checked.c):
# model code that touches backend memory on the host, or hands host memory to
# an op where a GPU needs device memory, fails here without a GPU.
ISOLATED_TESTS := test_text test_unet test_ddim test_vae test_image
check-isolated: all $(ISOLATED_TESTS:%=$(BUILD)/test/%)
	@set -e; for t in $(ISOLATED_TESTS); do echo "== $$t (cpu-checked)"; VC_TEST_BACKEND=cpu-checked $(BUILD)/test/$$t; done

check-more: all
	@set -e; for s in $(wildcard test/*.sh); do echo "== $$s"; BUILD=$(BUILD) bash $$s; done

# ABI guard (docs/abi.md): compare the .so and the header with the baseline in abi/.
abi-check: $(SO)
	@bash abi/check.sh $(BUILD)

# Rewrite the baseline once a release's API is final.
abi-baseline: $(SO)
	@bash abi/check.sh $(BUILD) --update

# One model shared by contexts in several threads, under ThreadSanitizer.
check-tsan:
	$(MAKE) BUILD=build/tsan SAN=tsan build/tsan/test/test_threads
	TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" build/tsan/test/test_threads

bench: all
	@$(MAKE) -C bench BUILD=$(abspath $(BUILD))

fuzz:
	@bash test/fuzz/run.sh $(FUZZ_SECONDS)

# ---------------------------------------------------------------- install
install: all
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig \
	    $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/videocrafter
	install -m 644 include/videocrafter.h $(DESTDIR)$(PREFIX)/include/
	install -m 755 $(SO) $(DESTDIR)$(PREFIX)/lib/
	ln -sf libvideocrafter.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(PREFIX)/lib/libvideocrafter.so
	install -m 644 $(AR_LIB) $(DESTDIR)$(PREFIX)/lib/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' pkgconfig/videocrafter.pc.in \
	    > $(DESTDIR)$(PREFIX)/lib/pkgconfig/videocrafter.pc
	install -m 644 vocab/bpe_simple_vocab_16e6.txt.gz vocab/LICENSE-open_clip $(DESTDIR)$(PREFIX)/share/videocrafter/
	install -m 755 $(CLI) $(DESTDIR)$(PREFIX)/bin/
	@if [ -f $(ENC_SO) ]; then \
	    if [ -f include/videocrafter-encode.h ]; then install -m 644 include/videocrafter-encode.h $(DESTDIR)$(PREFIX)/include/; fi; \
	    install -m 755 $(ENC_SO) $(DESTDIR)$(PREFIX)/lib/; \
	    ln -sf libvideocrafter-encode.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libvideocrafter-encode.so.$(SOVERSION); \
	    ln -sf libvideocrafter-encode.so.$(SOVERSION) $(DESTDIR)$(PREFIX)/lib/libvideocrafter-encode.so; fi

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(ENC_OBJ:.o=.d) $(TEST_BIN:$(BUILD)/test/%=$(BUILD)/obj/test/%.d)
