#!/bin/sh
# tools/build_variant.sh DIR
#
# Copy the checkout (every top-level file and directory but build/, .venv,
# .git and caches: the sources, tests/, fuzz/, tools/, docs/...) to DIR/src
# and build tlsfast._tls_c in place *there*, with CC / CFLAGS / LDFLAGS taken
# from the environment (sanitizers, coverage).  The checkout's own
# tlsfast/_tls_c*.so is never touched, so other people's runs keep using the
# normal build.  Used by `make fuzz`, `make asan`, `make valgrind`.
#
#   CC=clang CFLAGS="-fsanitize=fuzzer-no-link" tools/build_variant.sh build/hardening/fuzz
set -eu
dir=$1
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
src="$dir/src"
py=${PYTHON:-python3}
rm -rf "$src.new"
mkdir -p "$src.new"
for entry in "$root"/*; do
    name=$(basename "$entry")
    case "$name" in build|dist|.venv|__pycache__|*.egg-info) continue ;; esac
    case "$dir/" in "$entry"/*) continue ;; esac      # DIR itself lives in the checkout
    cp -r "$entry" "$src.new/"
done
find "$src.new" -name '__pycache__' -prune -exec rm -rf {} +
rm -f "$src.new"/tlsfast/*.so "$src.new/tlsfast/_tls_c.c" "$src.new/tlsfast/_tls_c.html"
rm -rf "$src"
mv "$src.new" "$src"
echo "build_variant: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')" \
     "CC=${CC:-default} CFLAGS=${CFLAGS:-} -> $src" >&2
cd "$src"
TLSFAST_BUILD=c "$py" setup.py -q build_ext --inplace --force
ls "$src"/tlsfast/_tls_c*.so
