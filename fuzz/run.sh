#!/usr/bin/env bash
# Runs every cargo-fuzz target for SECONDS (default 60) each, seeded from the repository's
# scripts; exits non-zero if any target finds a crash (the input is left in fuzz/artifacts/).
#
# It builds the targets itself with the coverage flags cargo-fuzz would pass, so it needs no
# cargo-fuzz install (slow on a fresh machine) and works with the stable toolchain
# (RUSTC_BOOTSTRAP=1 accepts the flags). `cargo fuzz run TARGET` works on the same targets.
set -euo pipefail
seconds="${1:-60}"
cd "$(dirname "$0")"
root="$(cd .. && pwd)"

# The fuzz crate resolves against the main lock file's versions, plus libfuzzer-sys.
[ -f Cargo.lock ] || cp "$root/Cargo.lock" Cargo.lock

export RUSTC_BOOTSTRAP=1
export RTRACE_TRACEFS="$root/tests/fixtures/tracefs"
unset CARGO_TARGET_DIR
targets=(lex_parse parse_sema compile)

# What cargo-fuzz passes for `--sanitizer none`; --target keeps the flags away from build
# scripts and proc macros (lalrpop, logos), which must not be instrumented.
host="$(rustc -vV | sed -n 's/^host: //p')"
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
cargo build --release --target "$host" --bins
bin="target/$host/release"

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
  mkdir -p "artifacts/$t"
  log="artifacts/$t.log"
  # libFuzzer reports every new input; keep that in a log and show its totals (or its end).
  if "$bin/$t" "corpus/$t" -artifact_prefix="artifacts/$t/" \
      -max_total_time="$seconds" -max_len=8192 -timeout=10 -print_final_stats=1 >"$log" 2>&1; then
    grep -E '^(Done|stat::number_of_executed_units|stat::new_units_added)' "$log" || true
  else
    tail -n 40 "$log"
    failed+=("$t")
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: crashes in ${failed[*]}; inputs are under fuzz/artifacts/" >&2
  exit 1
fi
echo "fuzz: no crash in ${targets[*]}"
