#!/bin/sh
# fuzz/run.sh TARGET SECONDS OUTDIR [libFuzzer flags...]
#
# Run fuzz/fuzz_TARGET.py (server, client or api) for SECONDS in total
# against the instrumented build that PYTHONPATH points at (`make fuzz` sets
# it up), LD_PRELOADing atheris' ASan+libFuzzer runtime.  New inputs go to
# OUTDIR/corpus/TARGET (the seeds in fuzz/corpus/TARGET are read, never
# written); a crash leaves OUTDIR/crashes/TARGET-crash-* and the run goes on
# with a fresh process until the time is spent (libFuzzer itself stops at the
# first crash).  The log is OUTDIR/TARGET.log; the last line printed sums up
# executions, coverage (cov: edges of the tlsfast extension, ft: features)
# and crashes; the exit status is 1 if there was any crash.
set -u
target=$1; total=$2; out=$3; shift 3
here=$(cd "$(dirname "$0")" && pwd)
py=${PYTHON:-python3}
mkdir -p "$out/corpus/$target" "$out/crashes"
log="$out/$target.log"
: > "$log"
atheris_dir=$("$py" -c "import atheris; print(atheris.path())")
export LD_PRELOAD="$atheris_dir/asan_with_fuzzer.so"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0:allocator_may_return_null=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1:suppressions=$here/ubsan.supp}"
case "$target" in
    api) maxlen=1024 ;;
    *) maxlen=4096 ;;
esac
start=$(date +%s)
execs=0; crashes=0; runs=0
while :; do
    left=$(( total - ($(date +%s) - start) ))
    [ "$left" -ge 5 ] || break
    runs=$((runs + 1))
    "$py" "$here/fuzz_$target.py" -max_total_time="$left" -max_len="$maxlen" \
        -print_final_stats=1 -artifact_prefix="$out/crashes/$target-" "$@" \
        "$out/corpus/$target" "$here/corpus/$target" >> "$log" 2>&1
    rc=$?
    n=$(grep 'stat::number_of_executed_units' "$log" | tail -1 | awk '{print $2}')
    execs=$((execs + ${n:-0}))
    # a crash also prints the stats; mark them used
    sed -i 's/^stat::number_of_executed_units/stat::counted_units/' "$log"
    [ "$rc" -eq 0 ] && break
    crashes=$((crashes + 1))
    echo "run.sh: $target run $runs ended with rc=$rc (crash $crashes); continuing" >> "$log"
    [ "$crashes" -ge 20 ] && break
done
last=$(grep -E '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE|INITED)' "$log" | tail -1 | grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9a-zA-Z]+')
echo "fuzz $target: ${total}s, $execs executions in $runs run(s), $last, crashes: $crashes (see $out/crashes/)"
[ "$crashes" -eq 0 ]
