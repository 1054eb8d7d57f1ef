#!/usr/bin/env bash
# Fuzzes the pure core (src/oauth) with cargo-fuzz / libFuzzer, then minimises the corpus.
#
#   bash scripts/fuzz.sh [seconds-per-target]        # default 60
#   FUZZ_TARGETS="redact url" bash scripts/fuzz.sh 600
#
# Installs what it needs first, idempotently: the nightly toolchain (minimal profile) and
# cargo-fuzz. Every target runs for the given time, one at a time, as one libFuzzer job in one
# process (-jobs=1 -workers=1) under `nice -n 19`, so other builds on the machine keep going.
# Inputs come from fuzz/corpus/<target>/ (new finds are written there), fuzz/seeds/<target>/
# (the repository's real cases) and fuzz/regressions/<target>/ (inputs that once failed).
# Afterwards `cargo fuzz cmin` minimises fuzz/corpus/<target>/; the stable replay
# (`cargo test --features native-json --test fuzz_corpus`) runs every file there.
#
# Prints executions per target and in total; a crash, timeout (-timeout, 10 s per input) or
# OOM (-rss_limit_mb, 2 GiB) leaves its input in fuzz/artifacts/<target>/ and makes the script
# exit non-zero after the remaining targets ran. Logs: fuzz/work/<target>/fuzz-0.log.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SECONDS_PER_TARGET="${1:-60}"
read -r -a TARGETS <<< "${FUZZ_TARGETS:-classify form url retry_after redact callback transport}"
TRIPLE="$(rustc -vV | sed -n 's/^host: //p')"

if ! rustup toolchain list | grep -q '^nightly'; then
  rustup toolchain install nightly --profile minimal
fi
if ! command -v cargo-fuzz > /dev/null 2>&1; then
  nice -n 19 cargo install cargo-fuzz --locked
fi

cd "$ROOT/fuzz"
# Release build with debug assertions and overflow checks. No sanitizer: the core is safe Rust
# (no `unsafe` in src/oauth), and ASan would only slow every execution down.
BUILD=(-O -a -s none)
echo "building the fuzz targets…"
CARGO_BUILD_JOBS=1 nice -n 19 cargo +nightly fuzz build "${BUILD[@]}"
BIN="$ROOT/fuzz/target/$TRIPLE/release"

total=0
failed=()
rows=()
for t in "${TARGETS[@]}"; do
  mkdir -p "corpus/$t" "seeds/$t" "regressions/$t" "artifacts/$t" "work/$t"
  rm -f "work/$t"/fuzz-*.log
  echo "fuzzing $t for ${SECONDS_PER_TARGET}s…"
  extra=()
  # redact writes each secret in 13 spellings: longer inputs only slow it down.
  [ "$t" = redact ] && extra=(-max_len=512)
  rc=0
  (cd "work/$t" && nice -n 19 "$BIN/$t" -jobs=1 -workers=1 -max_total_time="$SECONDS_PER_TARGET" "${extra[@]}" \
      -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$ROOT/fuzz/artifacts/$t/" \
      "$ROOT/fuzz/corpus/$t" "$ROOT/fuzz/seeds/$t" "$ROOT/fuzz/regressions/$t" > "$ROOT/fuzz/work/$t/driver.log" 2>&1) || rc=$?
  log="work/$t/fuzz-0.log"
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" 2> /dev/null | tail -1)"
  execs="${execs:-0}"
  total=$((total + execs))
  verdict="ok"
  if [ "$rc" -ne 0 ] || grep -qE '^(==[0-9]+== ?ERROR|SUMMARY: libFuzzer)' "$log" 2> /dev/null; then
    verdict="FAILED (see $log and fuzz/artifacts/$t/)"
    failed+=("$t")
    grep -E 'panicked at|SUMMARY|Test unit written' "$log" | head -5 || true
  fi
  rows+=("| $t | $execs | $verdict |")
  printf '  %-12s %12s executions  %s\n' "$t" "$execs" "$verdict"
done

echo "minimising the corpus (cargo fuzz cmin)…"
for t in "${TARGETS[@]}"; do
  # The seeds join the corpus before minimising, so the corpus alone covers what they cover.
  cp -n "seeds/$t"/* "corpus/$t"/ 2> /dev/null || true
  before="$(find "corpus/$t" -type f | wc -l)"
  crashes="$(find "artifacts/$t" -type f | wc -l)"
  CARGO_BUILD_JOBS=1 nice -n 19 cargo +nightly fuzz cmin "${BUILD[@]}" "$t" "corpus/$t" > "work/$t/cmin.log" 2>&1 \
    || { echo "cmin failed for $t: see fuzz/work/$t/cmin.log"; failed+=("$t (cmin)"); }
  # A corpus input that fails now (the code changed since it was found) is dropped by the merge
  # and left in artifacts/: that is a finding too.
  if [ "$(find "artifacts/$t" -type f | wc -l)" -ne "$crashes" ]; then
    echo "  $t: corpus inputs fail during cmin: see fuzz/artifacts/$t/"
    failed+=("$t (corpus)")
  fi
  after="$(find "corpus/$t" -type f | wc -l)"
  printf '  %-12s %6s → %s files\n' "$t" "$before" "$after"
done

{
  echo "| target | executions | result |"
  echo "| --- | ---: | --- |"
  printf '%s\n' "${rows[@]}"
  echo "| **total** | **$total** | |"
} > work/last-run.md
echo
cat work/last-run.md
echo
echo "total: $total executions in ${#TARGETS[@]} targets × ${SECONDS_PER_TARGET}s"
if [ "${#failed[@]}" -ne 0 ]; then
  echo "FAILED: ${failed[*]}" >&2
  exit 1
fi
