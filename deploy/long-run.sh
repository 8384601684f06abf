#!/usr/bin/env bash
# The long run, in one command: full-scale fault tests, 1000-round scan races, a 1,000,000-input
# decoder fuzz and every bench at full scale. Takes hours; run it on a quiet machine.
#
#   bash deploy/long-run.sh             # everything (logs and the report under $OUT)
#   bash deploy/long-run.sh --dry-run   # print the environment and the commands only
#   bash deploy/long-run.sh --only fuzz # one step (repeatable): faults, race, fuzz, benches
#   bash deploy/long-run.sh -h          # this help
#
# Steps (each logged to $OUT/<step>.log; a failing step does not stop the next ones, and the
# script exits non-zero at the end if any failed):
#   1. pytest -m "slow or faults"       fault injection at CHECKPOINT_FAULT_SCALE=full, and
#                                       the other slow tests (incl. the 100,000-input fuzz)
#   2. pytest tests/gate/api/test_scan_race.py   with CHECKPOINT_RACE_ROUNDS=1000 (PostgreSQL);
#                                       it has no slow/faults mark, so it runs on its own
#   3. python bench/fuzz_decoder.py --count 1000000   (tests/passes/test_fuzz_decoder_bench.py
#                                       hard-codes 100,000 and has no environment knob)
#   4. python bench/run_all.py --scale full --out $OUT/report.md
#
# Environment: OUT (default var/long-run/<UTC timestamp>), FUZZ_COUNT (1000000),
# RACE_ROUNDS (1000), CHECKPOINT_TEST_POSTGRES (admin URL of the PostgreSQL test server;
# the tests' default is postgres@127.0.0.1:5432), CHECKPOINT_REQUIRE_POSTGRES (default 1 here:
# a long run that silently skipped PostgreSQL would prove nothing).
set -euo pipefail

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
}

dry_run=0
only=()
while (($#)); do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    -n | --dry-run) dry_run=1 ;;
    --only) only+=("${2:?--only needs a step name}"); shift ;;
    *) printf 'unknown argument: %s\n\n' "$1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
python="$here/.venv/bin/python"
out="${OUT:-$here/var/long-run/$(date -u +%Y%m%dT%H%M%SZ)}"

export CHECKPOINT_FAULT_SCALE=full
export CHECKPOINT_RACE_ROUNDS="${RACE_ROUNDS:-1000}"
export CHECKPOINT_REQUIRE_POSTGRES="${CHECKPOINT_REQUIRE_POSTGRES:-1}"
fuzz_count="${FUZZ_COUNT:-1000000}"

steps=(
  "faults|$python -m pytest -m 'slow or faults' -p no:cacheprovider"
  "race|$python -m pytest -m 'not slow' tests/gate/api/test_scan_race.py -p no:cacheprovider"
  "fuzz|$python bench/fuzz_decoder.py --count $fuzz_count"
  "benches|$python bench/run_all.py --scale full --out $out/report.md"
)

if ((${#only[@]})); then
  selected=()
  for step in "${steps[@]}"; do
    for name in "${only[@]}"; do
      [[ "${step%%|*}" == "$name" ]] && selected+=("$step")
    done
  done
  ((${#selected[@]})) || { echo "no such step: ${only[*]} (faults, race, fuzz, benches)" >&2; exit 2; }
  steps=("${selected[@]}")
fi

printf 'long run: CHECKPOINT_FAULT_SCALE=%s CHECKPOINT_RACE_ROUNDS=%s CHECKPOINT_REQUIRE_POSTGRES=%s fuzz=%s\n' \
  "$CHECKPOINT_FAULT_SCALE" "$CHECKPOINT_RACE_ROUNDS" "$CHECKPOINT_REQUIRE_POSTGRES" "$fuzz_count"
printf 'logs: %s\n' "$out"

if ((dry_run)); then
  for step in "${steps[@]}"; do
    printf '[%s] %s\n' "${step%%|*}" "${step#*|}"
  done
  exit 0
fi

[[ -x "$python" ]] || { echo "no virtualenv at $here/.venv: run bash deploy/dev.sh test" >&2; exit 1; }
mkdir -p "$out"
failed=()
for step in "${steps[@]}"; do
  name="${step%%|*}"
  command="${step#*|}"
  printf '\n==> [%s] %s\n' "$name" "$command"
  started=$(date +%s)
  # set -e must not end the run at the first failing step: collect failures instead.
  if bash -c "$command" >"$out/$name.log" 2>&1; then
    status=ok
  else
    status="failed (exit $?)"
    failed+=("$name")
  fi
  printf '    %s in %ss; log %s\n' "$status" "$(($(date +%s) - started))" "$out/$name.log"
  tail -n 3 "$out/$name.log" | sed 's/^/    | /'
done

if [[ -f "$out/report.md" ]]; then printf '\nreport: %s\n' "$out/report.md"; fi
if ((${#failed[@]})); then
  printf 'FAILED steps: %s\n' "${failed[*]}" >&2
  exit 1
fi
echo "all steps passed"
