#!/usr/bin/env bash
# Runs bpftrace 0.17's runtime test suite against rtrace (target/release/rtrace, run as
# `bpftrace`) and compares the failures with tests/conformance/known-failures.txt.
# As root. Installs what it needs (a C compiler, systemtap-sdt-dev, dpkg-dev), fetches the
# suite into a cache outside the repository (fetch.sh), builds the test programs and runs
# run.py; extra arguments go to run.py (--filter 'basic.*', --jobs N, --write-known, -v,
# --binary /usr/bin/bpftrace --no-known for the reference).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

need=()
command -v cc >/dev/null 2>&1 || need+=(build-essential)
[ -e /usr/include/x86_64-linux-gnu/sys/sdt.h ] || [ -e /usr/include/sys/sdt.h ] || need+=(systemtap-sdt-dev)
command -v dpkg-source >/dev/null 2>&1 || need+=(dpkg-dev)
command -v pidof >/dev/null 2>&1 || need+=(procps)
# Tests call `python` from sh's default PATH (strftime tests).
[ -x /usr/bin/python ] || need+=(python-is-python3)
if [ ${#need[@]} -gt 0 ]; then
  echo "conformance: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
# Tracepoints are read from tracefs; debugf tests read /sys/kernel/debug/tracing/trace.
[ -d /sys/kernel/tracing/events ] || mount -t tracefs tracefs /sys/kernel/tracing
[ -d /sys/kernel/debug/tracing ] || mount -t debugfs debugfs /sys/kernel/debug

src="$(bash "$here/fetch.sh")"
exec python3 "$here/run.py" --source "$src" "$@"
