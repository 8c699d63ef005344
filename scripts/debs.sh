#!/usr/bin/env bash
# Builds the Debian packages into target/debian/:
#   libsairing      the shared library (libsairing.so.1)
#   libsairing-dev  headers (sairing.h, sairing.hpp), the static library,
#                   pkg-config and CMake files
#   sairing         the daemons and tools: syncd, orchagent, sairing
# with dpkg-deb (no cargo-deb to install). Usage: scripts/debs.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
arch=$(dpkg --print-architecture)
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo "$(uname -m)-linux-gnu")
target="${CARGO_TARGET_DIR:-target}"
out="$target/debian"
echo "== building (release)"
cargo build --quiet --release -p sairing-capi --lib
cargo build --quiet --release -p sairing-syncd -p sairing-orchagent -p sairing-tool --bins
rm -rf "$out" && mkdir -p "$out"
stage="$out/stage"
SAIRING_PC_PREFIX=/usr scripts/install.sh --prefix "$stage/usr" --libdir "lib/$multiarch" --no-build >/dev/null

# package NAME DEPENDS DESCRIPTION: control file for the root in $out/NAME.
package() {
  local name=$1 depends=$2 desc=$3 root="$out/$1"
  mkdir -p "$root/DEBIAN"
  {
    echo "Package: $name"
    echo "Version: $version"
    echo "Architecture: $arch"
    echo "Maintainer: sairing developers <sairing@localhost>"
    echo "Section: net"
    echo "Priority: optional"
    [ -n "$depends" ] && echo "Depends: $depends"
    echo "Description: $desc"
    echo " SAI requests between SONiC's orchagent and syncd over a persistent,"
    echo " memory-mapped, lock-free ring that outlives both processes."
  } > "$root/DEBIAN/control"
  dpkg-deb --root-owner-group --build "$root" "$out/${name}_${version}_${arch}.deb" >/dev/null
  rm -rf "$root"
  echo "$out/${name}_${version}_${arch}.deb"
}

lib="usr/lib/$multiarch"
mkdir -p "$out/libsairing/$lib"
cp -a "$stage/$lib"/libsairing.so.1 "$stage/$lib/libsairing.so.$version" "$out/libsairing/$lib/"
package libsairing "libc6" "sairing's shared library (C ABI)"

mkdir -p "$out/libsairing-dev/$lib" "$out/libsairing-dev/usr"
cp -a "$stage/usr/include" "$out/libsairing-dev/usr/"
cp -a "$stage/$lib"/libsairing.so "$stage/$lib"/libsairing.a "$stage/$lib/pkgconfig" "$stage/$lib/cmake" \
  "$out/libsairing-dev/$lib/"
package libsairing-dev "libsairing (= $version)" "sairing's C and C++ headers, static library, pkg-config and CMake files"

mkdir -p "$out/sairing/usr/bin"
install -m 0755 "$target/release/syncd" "$target/release/orchagent" "$target/release/sairing" "$out/sairing/usr/bin/"
package sairing "libc6, redis-server" "sairing's daemons and tools: syncd, orchagent, sairing"
rm -rf "$stage"
