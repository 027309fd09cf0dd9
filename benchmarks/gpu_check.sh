#!/usr/bin/env bash
# The course on a CUDA GPU, in one go and under 8 minutes: the CUDA tests, `make bench` (plain
# and with mixed precision + channels-last) and the course in full mode. Every figure goes,
# with the device's name, into ONE file: build/gpu/figures.md (or $FIGURES).
#
#   bash benchmarks/gpu_check.sh                  # with .venv/bin/python if there, else python3
#   PYTHON=/path/to/python bash benchmarks/gpu_check.sh
#   REHEARSE=1 D2L_DEVICE=cpu TESTS_LIMIT=20 ... bash benchmarks/gpu_check.sh   # dry run, no GPU
#
# Each step has its own time limit (STEP_LIMITS below), so one slow step cannot eat the others'
# time; a step that runs out is reported as such and the script goes on. The data must be
# there already (`make test-data`, or D2L_DATA_MIRROR pointing at a folder of the files).
set -uo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
OUTDIR=build/gpu
FIGURES=${FIGURES:-$OUTDIR/figures.md}
TESTS_LIMIT=${TESTS_LIMIT:-60}      # seconds: the CUDA tests
BENCH_LIMIT=${BENCH_LIMIT:-110}     # seconds each: the two LeNet benchmarks
COURSE_LIMIT=${COURSE_LIMIT:-180}   # seconds: as much of `make course` as fits (8 min in all)
mkdir -p "$OUTDIR"
export PYTHONUNBUFFERED=1 D2L_DEVICE=${D2L_DEVICE:-cuda}
unset D2L_QUICK

if [ "${REHEARSE:-}" != 1 ] && \
   ! "$PYTHON" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "no CUDA device visible to $PYTHON: this script is for a machine with a GPU" >&2
    exit 2
fi

device=$("$PYTHON" - <<'PY'
import platform

import torch

if torch.cuda.is_available():
    p = torch.cuda.get_device_properties(0)
    print(f"{p.name} (compute capability {p.major}.{p.minor}, {p.total_memory / 2**30:.0f} "
          f"GiB), torch {torch.__version__}, CUDA {torch.version.cuda}")
else:
    print(f"no GPU: a rehearsal on the CPU ({platform.processor() or platform.machine()}), "
          f"torch {torch.__version__}")
PY
)
{
    echo "# The course on a GPU"
    echo
    echo "Written by \`benchmarks/gpu_check.sh\` on $(date -u +%Y-%m-%d) at commit" \
         "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)."
    echo "Device: **$device**; host: $(nproc) CPU cores."
    echo
} > "$FIGURES"

step() {  # step LIMIT TITLE LOG COMMAND...: run with a time limit, keep the log, note the status
    local limit=$1 title=$2 log=$3
    shift 3
    local start=$SECONDS
    timeout "$limit" "$@" > "$log" 2>&1
    local rc=$? took=$((SECONDS - start))
    local status="exit $rc"
    [ "$rc" = 124 ] && status="stopped at its limit of $limit s"
    echo "== $title: $status, $took s" >&2
    printf '## %s\n\n%s, %s s. Log: `%s`.\n\n' "$title" "$status" "$took" "$log" >> "$FIGURES"
}

step "$TESTS_LIMIT" "CUDA tests" "$OUTDIR/tests.log" \
    "$PYTHON" -m pytest -p no:cacheprovider -q -rs tests/test_cuda.py tests/test_data_cuda.py
{ echo '```'; tail -n 15 "$OUTDIR/tests.log"; echo '```'; echo; } >> "$FIGURES"

for flags in "" "--amp --channels-last on"; do
    log="$OUTDIR/bench${flags:+-amp}.log"
    # shellcheck disable=SC2086  # the flags are words
    step "$BENCH_LIMIT" "LeNet, d2l.train_ch6 vs fit ${flags:-(float32)}" "$log" \
        "$PYTHON" benchmarks/bench_lenet.py --device "$D2L_DEVICE" --epochs "${EPOCHS:-10}" $flags
    { echo '```'; grep -E "^(LeNet|d2l |d2lutils|both|accuracy|ratio)" "$log"; echo '```'
      echo; } >> "$FIGURES"
done

step "$COURSE_LIMIT" "make course (full mode)" "$OUTDIR/course.log" \
    "$PYTHON" -m d2lutils.course --out "$OUTDIR/course" --timeout 180
if [ -f "$OUTDIR/course/scoreboard.md" ]; then
    sed -n '/^| notebook/,$p' "$OUTDIR/course/scoreboard.md" >> "$FIGURES"
else
    echo "(no scoreboard was written)" >> "$FIGURES"
fi

echo "figures: $FIGURES" >&2
cat "$FIGURES"
