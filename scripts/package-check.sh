#!/usr/bin/env bash
# Builds the Debian packages (scripts/debs.sh), installs them with dpkg into a
# scratch root (its own dpkg database; nothing touches the machine's), then
# builds the C examples against that root with pkg-config and runs the pair.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/debs.sh
target="${CARGO_TARGET_DIR:-target}"
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates"
touch "$root/var/lib/dpkg/status"
# libc6 and redis-server are the machine's, not the scratch root's.
dpkg --root="$root" --force-not-root --force-script-chrootless --force-depends \
  --log=/dev/null -i "$target"/debian/*.deb >/dev/null
dpkg --root="$root" -l | awk '/^ii/ {print "installed in the scratch root:", $2, $3}'
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo "$(uname -m)-linux-gnu")
bin="$root/examples"
mkdir -p "$bin"
PKG_CONFIG_SYSROOT_DIR="$root" PKG_CONFIG_LIBDIR="$root/usr/lib/$multiarch/pkgconfig" \
  make -s -C examples OUT="$bin" "$bin/route_client" "$bin/echo_server"
export LD_LIBRARY_PATH="$root/usr/lib/$multiarch"
# (ldd's output taken whole first: with pipefail, grep -q closing the pipe
# early would fail the check with SIGPIPE.)
loads=$(ldd "$bin/route_client")
grep -q "$root/usr/lib/$multiarch/libsairing.so.1" <<<"$loads" \
  || { echo "package-check: route_client does not load the packaged library: $loads" >&2; exit 1; }
"$bin/echo_server" "$root/ch" 1000 > "$root/server.out" &
server=$!
for _ in $(seq 100); do grep -q ready "$root/server.out" 2>/dev/null && break; sleep 0.05; done
"$bin/route_client" "$root/ch" 1000
wait "$server"
cat "$root/server.out" | tail -1
"$root/usr/bin/sairing" --help >/dev/null
echo "package-check: the packages install and an example built against them runs"
