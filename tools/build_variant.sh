#!/bin/sh
# tools/build_variant.sh DIR
#
# Copy the checkout's sources (tlsfast/, tests/, fuzz/, tools/, setup.py, ...)
# to DIR/src and build tlsfast._tls_c in place *there*, with CC / CFLAGS /
# LDFLAGS taken from the environment (sanitizers, coverage).  The checkout's
# own tlsfast/_tls_c*.so is never touched, so other people's runs keep using
# the normal build.  Used by `make fuzz`, `make asan`, `make valgrind`.
#
#   CC=clang CFLAGS="-fsanitize=fuzzer-no-link" tools/build_variant.sh build/hardening/fuzz
set -eu
dir=$1
root=$(cd "$(dirname "$0")/.." && pwd)
src="$dir/src"
py=${PYTHON:-python3}
mkdir -p "$src"
# fresh copy of the sources; keep the C file and objects only if unchanged
for d in tlsfast tests fuzz tools; do
    rm -rf "$src/$d.new"
    cp -r "$root/$d" "$src/$d.new"
    find "$src/$d.new" -name '__pycache__' -prune -exec rm -rf {} +
    rm -f "$src/$d.new"/*.so
done
rm -f "$src/tlsfast.new/_tls_c.c" "$src/tlsfast.new/_tls_c.html"
for d in tlsfast tests fuzz tools; do
    rm -rf "$src/$d"
    mv "$src/$d.new" "$src/$d"
done
cp "$root/setup.py" "$root/pyproject.toml" "$root/README.md" "$src/"
echo "build_variant: CC=${CC:-default} CFLAGS=${CFLAGS:-} -> $src" >&2
cd "$src"
rm -rf build
TLSFAST_BUILD=c "$py" setup.py -q build_ext --inplace --force
ls "$src"/tlsfast/_tls_c*.so
