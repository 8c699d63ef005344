#!/usr/bin/env bash
# Installs sairing's C and C++ interface under a prefix:
#   PREFIX/lib[/MULTIARCH]/libsairing.so.1 (+ libsairing.so), libsairing.a,
#   PREFIX/include/sairing.h and sairing.hpp,
#   .../pkgconfig/sairing.pc and .../cmake/sairing/sairingConfig.cmake.
# Usage: scripts/install.sh --prefix DIR [--libdir lib/x86_64-linux-gnu] [--debug] [--no-build]
# Then: PKG_CONFIG_PATH=DIR/lib/pkgconfig pkg-config --cflags --libs sairing
set -euo pipefail
cd "$(dirname "$0")/.."
prefix="" libdir="lib" profile=release build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix="$2"; shift 2 ;;
    --libdir) libdir="$2"; shift 2 ;;
    --debug) profile=debug; shift ;;
    --no-build) build=0; shift ;;
    *) echo "install.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -n "$prefix" ] || { echo "install.sh: --prefix DIR is required" >&2; exit 2; }
target="${CARGO_TARGET_DIR:-target}/$profile"
if [ "$build" = 1 ]; then
  flag=(); [ "$profile" = release ] && flag=(--release)
  cargo build --quiet "${flag[@]}" -p sairing-capi --lib
fi
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
mkdir -p "$prefix/$libdir/pkgconfig" "$prefix/$libdir/cmake/sairing" "$prefix/include"
install -m 0644 "$target/libsairing.so" "$prefix/$libdir/libsairing.so.$version"
ln -sf "libsairing.so.$version" "$prefix/$libdir/libsairing.so.1"
ln -sf "libsairing.so.1" "$prefix/$libdir/libsairing.so"
install -m 0644 "$target/libsairing.a" "$prefix/$libdir/libsairing.a"
install -m 0644 capi/include/sairing.h capi/include/sairing.hpp "$prefix/include/"
# The .pc names the prefix given here; the CMake file finds its prefix from
# where it lies, so a tree copied elsewhere (a package's root) still works.
abs_prefix=$(cd "$prefix" && pwd)
[ "${SAIRING_PC_PREFIX:-}" ] && abs_prefix="$SAIRING_PC_PREFIX"
sed -e "s|@PREFIX@|$abs_prefix|" -e "s|@LIBDIR@|\${prefix}/$libdir|" -e "s|@VERSION@|$version|" \
  capi/pkg/sairing.pc.in > "$prefix/$libdir/pkgconfig/sairing.pc"
up=$(echo "$libdir/cmake/sairing" | sed 's|[^/]*|..|g')
sed -e "s|@CMAKE_UP@|$up|" -e "s|@LIBREL@|$libdir|" -e "s|@VERSION@|$version|" \
  capi/pkg/sairingConfig.cmake.in > "$prefix/$libdir/cmake/sairing/sairingConfig.cmake"
echo "installed sairing $version under $prefix ($libdir)"
