#!/usr/bin/env bash
# run_fuzz.sh -- run one libFuzzer target for a bounded time, the way ctest
# and `make fuzz` do, and fail on any crash, leak or UBSan report.
#
#   run_fuzz.sh --bin fuzz_proto --corpus tests/fuzz/corpus/proto
#               [--dict proto.dict] [--seconds 5] [--runs N]
#               [--artifacts DIR] [--work DIR]
#
# The seed corpus is only read. New inputs go to a temporary copy (deleted
# afterwards), or to --work DIR, which then grows from run to run (make fuzz
# keeps one per target under build/fuzz). Crash, leak and timeout inputs go to
# --artifacts (default: the temporary directory, kept when the run fails);
# replay one with `fuzz_<name> <file>`.
set -euo pipefail

bin="" corpus="" dict="" seconds=5 runs=2000000 artifacts="" work=""
while [ $# -gt 0 ]; do
    case "$1" in
        --bin) bin="$2"; shift 2 ;;
        --corpus) corpus="$2"; shift 2 ;;
        --dict) dict="$2"; shift 2 ;;
        --seconds) seconds="$2"; shift 2 ;;
        --runs) runs="$2"; shift 2 ;;
        --artifacts) artifacts="$2"; shift 2 ;;
        --work) work="$2"; shift 2 ;;
        -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "run_fuzz.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
name=$(basename "$bin")
if [ ! -x "$bin" ]; then
    echo "$name: no such fuzz binary: $bin (build it: make fuzz-build, see docs/fuzzing.md)" >&2
    exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ttt-$name-XXXXXX")
keep_tmp=0
cleanup() { [ "$keep_tmp" = 1 ] || rm -rf "$tmp"; }
trap cleanup EXIT

if [ -z "$work" ]; then
    work="$tmp/corpus"
fi
mkdir -p "$work"
if [ -n "$corpus" ] && [ -d "$corpus" ]; then
    cp -R "$corpus"/. "$work"/
fi
if [ -z "$artifacts" ]; then
    artifacts="$tmp/artifacts"
fi
mkdir -p "$artifacts"

args=(-max_total_time="$seconds" -runs="$runs" -timeout=10 -rss_limit_mb=2048
      -print_final_stats=1 -artifact_prefix="$artifacts/")
if [ -n "$dict" ]; then
    args+=(-dict="$dict")
fi
log="$tmp/fuzz.log"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"

echo "$name: ${seconds}s or $runs inputs, seeds $(ls "$work" | wc -l) in $work"
set +e
"$bin" "${args[@]}" "$work" >"$log" 2>&1
rc=$?
set -e

# libFuzzer exits non-zero on a crash, a leak and (with -fno-sanitize-recover)
# a UBSan report; the grep also catches a report that did not stop the run.
bad=0
if [ $rc -ne 0 ] || grep -qE 'ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|ERROR: libFuzzer|SUMMARY: (Address|Undefined|Leak)' "$log"; then
    bad=1
fi
runs_done=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 || true)
echo "$name: ${runs_done:-?} inputs, ${speed:-?} exec/s, ${cov:-cov: ?}, exit $rc"
if [ $bad = 1 ]; then
    keep_tmp=1
    echo "$name: FAILED -- last lines of $log:" >&2
    tail -n 60 "$log" >&2
    echo "$name: inputs that failed (replay: $bin FILE):" >&2
    ls -1 "$artifacts" 2>/dev/null | sed "s|^|  $artifacts/|" >&2
    exit 1
fi
