#!/bin/bash
# run.sh SECONDS - builds the libFuzzer targets (clang -fsanitize=fuzzer,address,undefined)
# from the reader sources, replays test/fuzz/regress/<target>/* and runs each target for
# SECONDS (0: replay only) on a working corpus seeded from test/fuzz/corpus/<target>/.
# New crash inputs are written to test/fuzz/regress/<target>/ (keep them: they are the
# regression tests). Skips with a message when clang's libFuzzer is unavailable.
set -u
secs=${1:-20}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
case "${BUILD:-build}" in /*) out=$BUILD/fuzz ;; *) out=$root/${BUILD:-build}/fuzz ;; esac
targets="fuzz_zip fuzz_pickle fuzz_safetensors fuzz_json fuzz_yaml fuzz_image fuzz_text fuzz_npy"
cc=${FUZZ_CC:-clang}
mkdir -p "$out"

if ! command -v "$cc" >/dev/null 2>&1; then
    echo "fuzz: skipped ($cc not found; apt-get install clang for libFuzzer)"; exit 0
fi
echo 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }' > "$out/probe.c"
if ! "$cc" -fsanitize=fuzzer,address,undefined "$out/probe.c" -o "$out/probe" >/dev/null 2>&1; then
    echo "fuzz: skipped ($cc cannot link -fsanitize=fuzzer: libFuzzer missing)"; exit 0
fi

srcs="$root/lib/io/json.c $root/lib/io/zip.c $root/lib/io/pickle.c $root/lib/io/weights.c
      $root/lib/io/safetensors.c $root/lib/io/ckpt_write.c $root/lib/io/npy.c $root/lib/core/tensor.c $here/fuzz_stubs.c"
flags="-std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer -I$root/include -I$root/lib -DVC_BUILD -w"
san="-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"

# Per-target libraries: fuzz_yaml and fuzz_image compile the sources they test
# themselves (#include) and need libyaml / libpng + libjpeg besides the readers;
# fuzz_text links the prompt path (lib/text) with utf8proc.
img_cflags=$(pkg-config --cflags libpng 2>/dev/null)
img_libs=$(pkg-config --libs libpng libjpeg 2>/dev/null || echo "-lpng16 -ljpeg")
utf8proc_libs=$(pkg-config --libs libutf8proc 2>/dev/null || echo "-lutf8proc")
text_srcs="$root/lib/text/clean.c $root/lib/text/ftfy_encoding.c $root/lib/text/tokenizer.c $root/lib/text/vocab_embed.c"
yaml_libs=$(pkg-config --libs yaml-0.1 2>/dev/null || echo "-lyaml")
target_flags() {
    case $1 in
        fuzz_yaml) echo "$yaml_libs" ;;
        fuzz_image) echo "$img_cflags $out/obj/preprocess.o $img_libs" ;;
        fuzz_text) echo "$text_objs $utf8proc_libs -lpthread" ;;
    esac
}

# Seeds (written by the library's own writers) when a corpus folder is missing.
if [ ! -d "$here/corpus/fuzz_zip" ]; then
    "$cc" $flags -fsanitize=address,undefined $srcs "$here/make_seeds.c" -o "$out/make_seeds" -lz -lm &&
        "$out/make_seeds" "$here/corpus" || { echo "fuzz: cannot make seeds"; exit 1; }
fi
if [ ! -d "$here/corpus/fuzz_image" ]; then
    "$cc" $flags $img_cflags "$here/make_image_seeds.c" -o "$out/make_image_seeds" $img_libs &&
        "$out/make_image_seeds" "$here/corpus/fuzz_image" || { echo "fuzz: cannot make image seeds"; exit 1; }
fi

# Library objects once (rebuilt when a source is newer), then one link per target.
objs=""
for s in $srcs; do
    o="$out/obj/$(basename "${s%.c}").o"
    mkdir -p "$out/obj"
    if [ ! -f "$o" ] || [ "$s" -nt "$o" ] || [ "$root/lib/io/readers.h" -nt "$o" ] || [ "$here/fuzz_common.h" -nt "$o" ]; then
        "$cc" $flags -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -c "$s" -o "$o" ||
            { echo "fuzz: compiling $s failed"; exit 1; }
    fi
    objs="$objs $o"
done

# the prompt path, instrumented, for fuzz_text only
text_objs=""
for s in $text_srcs; do
    o="$out/obj/text_$(basename "${s%.c}").o"
    if [ ! -f "$o" ] || [ -n "$(find "$root/lib/text" "$root/lib/core/internal.h" -newer "$o" | head -1)" ]; then
        "$cc" $flags -DVC_SOURCE_DIR="\"$root\"" -fsanitize=fuzzer-no-link,address,undefined \
            -fno-sanitize-recover=undefined -c "$s" -o "$o" || { echo "fuzz: compiling $s failed"; exit 1; }
    fi
    text_objs="$text_objs $o"
done

# fuzz_image's preprocessing: sanitized, not coverage-instrumented (see fuzz_image.c)
if [ ! -f "$out/obj/preprocess.o" ] || [ "$root/lib/image/preprocess.c" -nt "$out/obj/preprocess.o" ] ||
   [ "$root/lib/image/image.h" -nt "$out/obj/preprocess.o" ]; then
    "$cc" $flags -fsanitize=address,undefined -fno-sanitize-recover=undefined -c "$root/lib/image/preprocess.c" \
        -o "$out/obj/preprocess.o" || { echo "fuzz: compiling preprocess.c failed"; exit 1; }
fi

status=0
for t in $targets; do
    # relink only when a source (lib/, test/fuzz/) is newer than the binary
    if [ ! -x "$out/$t" ] || [ -n "$(find "$root/lib" "$here" -maxdepth 3 -name '*.[ch]' -newer "$out/$t" | head -1)" ] ||
       [ "$0" -nt "$out/$t" ]; then
        if ! "$cc" $flags $san "$here/$t.c" $objs -o "$out/$t" $(target_flags "$t") -lz -lm; then
            echo "fuzz: building $t failed"; exit 1
        fi
    fi
    mkdir -p "$here/regress/$t" "$out/corpus/$t"
    regs=$(find "$here/regress/$t" -type f ! -name '.*' 2>/dev/null | sort)
    if [ -n "$regs" ]; then
        if "$out/$t" -rss_limit_mb=2048 -timeout=20 $regs >"$out/$t.replay.log" 2>&1; then
            echo "fuzz: $t: $(echo "$regs" | wc -l) regression inputs pass"
        else
            echo "fuzz: $t: a regression input fails:"; tail -30 "$out/$t.replay.log"; status=1
        fi
    fi
    if [ "$secs" -gt 0 ]; then
        "$out/$t" -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 -timeout=20 -print_final_stats=1 \
            -artifact_prefix="$here/regress/$t/" "$out/corpus/$t" "$here/corpus/$t" >"$out/$t.log" 2>&1
        rc=$?
        runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$out/$t.log" | grep -o '[0-9]*$')
        if [ $rc -ne 0 ]; then
            echo "fuzz: $t FOUND A CRASH (input kept in test/fuzz/regress/$t/):"; tail -40 "$out/$t.log"; status=1
        else
            echo "fuzz: $t: ${runs:-?} runs in ${secs}s, no crash"
        fi
    fi
done
exit $status
