#!/usr/bin/env bash
# Runs every cargo-fuzz target for SECONDS (default 60) each, seeded from the repository's
# scripts; exits non-zero if any target finds a crash (the input is left in fuzz/artifacts/).
#
# Works with the stable toolchain: RUSTC_BOOTSTRAP=1 lets it accept the -Z flags cargo-fuzz
# passes. Set FUZZ_SANITIZER=address for AddressSanitizer (slower; default: none).
set -euo pipefail
seconds="${1:-60}"
cd "$(dirname "$0")"
root="$(cd .. && pwd)"

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

# The fuzz crate resolves against the main lock file's versions, plus libfuzzer-sys.
[ -f Cargo.lock ] || cp "$root/Cargo.lock" Cargo.lock

export RUSTC_BOOTSTRAP=1
export RTRACE_TRACEFS="$root/tests/fixtures/tracefs"
unset CARGO_TARGET_DIR
sanitizer="${FUZZ_SANITIZER:-none}"
targets=(lex_parse parse_sema compile)

cargo fuzz build --sanitizer "$sanitizer"

# Seeds: every valid script in the repository, and the small malformed ones; a seed's name is
# its path with '/' turned into '_', so equal file names in different directories both count.
seeds=()
for d in tests/golden tests/diff examples tests/malformed; do
  if [ -d "$root/$d" ]; then
    while IFS= read -r f; do seeds+=("$f"); done \
      < <(cd "$root" && find "$d" -name '*.bt' -size -8k)
  fi
done
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  for f in "${seeds[@]}"; do
    cp "$root/$f" "corpus/$t/${f//\//_}"
  done
done
echo "fuzz: ${#seeds[@]} seed scripts"

failed=()
for t in "${targets[@]}"; do
  echo "fuzz: $t for ${seconds}s"
  if ! cargo fuzz run --sanitizer "$sanitizer" "$t" "corpus/$t" -- \
      -max_total_time="$seconds" -max_len=8192 -timeout=10 -print_final_stats=1; then
    failed+=("$t")
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: crashes in ${failed[*]}; inputs are under fuzz/artifacts/" >&2
  exit 1
fi
echo "fuzz: no crash in ${targets[*]}"
