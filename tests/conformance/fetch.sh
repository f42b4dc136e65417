#!/usr/bin/env bash
# Fetches bpftrace 0.17's source (Debian's source package) into a cache outside the
# repository and prints the unpacked source directory. Its tests are bpftrace's text:
# they are read and run at test time, never committed. Reuses the cache when present.
set -euo pipefail

cache="${RTRACE_CONFORMANCE_CACHE:-${XDG_CACHE_HOME:-/var/cache}/rtrace-conformance}"
mkdir -p "$cache"

find_src() { find "$cache" -maxdepth 2 -type d -path '*/bpftrace-*/tests' -printf '%h\n' 2>/dev/null | head -n1; }

src="$(find_src)"
if [ -n "$src" ] && [ -d "$src/tests/runtime/engine" ]; then
  echo "$src"
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
command -v dpkg-source >/dev/null 2>&1 || apt-get install -y -qq dpkg-dev >&2

# apt-get source needs a deb-src entry for the system's suite.
if ! grep -rqsE '^(deb-src|Types:.*deb-src)' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  suite="$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")"
  echo "conformance: adding deb-src for $suite main" >&2
  # Same keyring as the system's deb entries, or apt rejects the conflicting Signed-By.
  opts=""
  key=/usr/share/keyrings/debian-archive-keyring.gpg
  [ -f "$key" ] && opts="[signed-by=$key] "
  echo "deb-src ${opts}http://deb.debian.org/debian $suite main" > /etc/apt/sources.list.d/rtrace-conformance-src.list
  apt-get update -qq >&2
elif ! apt-cache showsrc bpftrace >/dev/null 2>&1; then
  apt-get update -qq >&2
fi

(cd "$cache" && apt-get source --download-only bpftrace >&2)
orig="$(ls "$cache"/bpftrace_*.orig.tar.* | head -n1)"
tar -xf "$orig" -C "$cache"
src="$(find_src)"
[ -n "$src" ] || { echo "conformance: no tests/ in $orig" >&2; exit 1; }
echo "$src"
