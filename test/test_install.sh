#!/usr/bin/env bash
# make install into a scratch prefix, then build a program with pkg-config
# against the installed copy and run it; checks the exported symbols too.
set -euo pipefail
BUILD=${BUILD:-build}
prefix=$(mktemp -d /tmp/vc-install.XXXXXX)
trap 'rm -rf "$prefix"' EXIT
MAKEFLAGS= make -s BUILD="$BUILD" PREFIX="$prefix" install >/dev/null
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
cflags=$(pkg-config --cflags videocrafter)
libs=$(pkg-config --libs videocrafter)
cat > "$prefix/hello.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <videocrafter.h>
int main(void)
{
    vc_context_params p;
    vc_context_default_params(&p);
    vc_context *ctx = NULL;
    if (vc_context_create(&p, &ctx) != VC_STATUS_OK) return 1;
    printf("%s %s\n", vc_version(), vc_context_backend(ctx));
    vc_context_free(ctx);
    return strcmp(vc_version(), VC_VERSION_STRING) != 0;
}
C
cc -std=c99 -pedantic -Wall -Wextra -Werror $cflags "$prefix/hello.c" -o "$prefix/hello" $libs
out=$(LD_LIBRARY_PATH="$prefix/lib" "$prefix/hello")
echo "installed library says: $out"
[ "$out" = "0.1.0 cpu" ] || { echo "unexpected output"; exit 1; }
test -f "$prefix/share/videocrafter/bpe_simple_vocab_16e6.txt.gz"
# only vc_* leave the shared objects (VC_1 is the version node)
for so in "$prefix"/lib/libvideocrafter*.so.1; do
    extra=$(nm -D --defined-only "$so" | awk '{print $3}' | sed 's/@.*//' | grep -v -E '^(vc_|VC_1$)' || true)
    if [ -n "$extra" ]; then echo "$so exports non-vc_ symbols: $extra"; exit 1; fi
done
echo "install + pkg-config + exports: ok"
