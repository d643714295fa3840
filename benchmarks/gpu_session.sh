#!/usr/bin/env bash
# One prepared call for a short GPU window (run from the repository root on the GPU machine):
#   0. conv_choices.py: every convolution of a paper-shape fused step, timed as NCHW, NHWC and
#      (1x1) matmul, forward + backward (a few seconds);
#   1. the speed benchmark, eager vs fused vs graphs, paper shapes (rows written as they finish),
#      eager vs graphs at the colab profile's shapes for COLAB_S (the chapters' own searches),
#      the skip-noise ablation (eager vs fused vs graphs, paper shapes) for NOISE_S, then
#      torch.compile (graphs-compiled: DARTS, NAS-Bench-201 first) for COMPILE_S, and the
#      other methods while BENCH_MIN lasts;
#   2. optionally (CHAPTERS) whole chapters at the colab profile, timed cell by cell;
#   3. stored paper records (make_records.py), resuming any checkpoints carried in runs/,
#      with CUDA graphs where step 1 verified them (same losses and α-gradients as eager).
# Everything goes to $OUT: logs, benchmark JSON, finished records, checkpoints to carry back.
#
# Before the call, on the CPU machine:
#   mkdir -p .data && cp ../shared/data/cifar10_jpeg_train.npz .data/
# The device call (its copy of the tree has no .git, so pass the commit):
#   NAS_KIT_GIT_COMMIT=<sha> OUT=$OUT BENCH_MIN=5 TOTAL_S=560 bash benchmarks/gpu_session.sh
#   with carry [".data", "runs/records"] and timeout_s 590 (the window of 2026-11-27: 517 s
#   of the call, ~30 s start-up; 15 device-minutes leave room for a second, shorter call).
# Carry: .data/ (only cifar10_jpeg_train.npz, 44.7 MiB: no decode cache, no test file) and
# runs/records/ (checkpoints of unfinished runs). With the tracked tree (~4 MB) the 64 MiB
# limit leaves ~15.5 MiB: one NAS-Bench-201 checkpoint (13.8 MiB) fits, a DARTS-space one
# (16.6 MiB for darts, 47 MiB for mim-darts) does not, so DARTS-space runs that do not
# finish in one window restart in the next (their partial record stays until a run beats it).
# What comes back (at most 8 files): session.log, search_speed_paper_gpu.json,
# search_speed_colab_gpu.json, chapter_times_colab_gpu.json (with CHAPTERS), extras.tar
# (conv_choices_paper_gpu.json and search_speed_skip_noise_paper_gpu.json), logs.tar
# (records_*.log, one per records process), records.tar, carry.tar.
# Afterwards: untar records.tar into book/ and commit the records unchanged (complete ones,
# and partial ones the book shows as "k of N epochs"); commit the benchmark JSON as
# benchmarks/results/search_speed_paper_gpu_<date>.json (the speed appendix shows every
# search_speed_paper_gpu*.json; its env names the GPU), search_speed_colab_gpu.json as
# benchmarks/results/search_speed_colab_gpu_<date>.json, and (from extras.tar)
# conv_choices_paper_gpu.json as benchmarks/results/conv_choices_paper_gpu_<date>.json and
# search_speed_skip_noise_paper_gpu.json as
# benchmarks/results/search_speed_skip_noise_paper_gpu_<date>.json, with the logs (session.log and
# logs.tar unpacked) in benchmarks/results/gpu_session_<date>/; untar carry.tar into runs/records/ (git-ignored)
# to carry next time.
#   BENCH_MIN   minutes for the benchmark (default 3; 0 skips it)
#   COLAB_S     seconds of it for the colab-shape rows (default 75)
#   NOISE_S     seconds of it for the skip-noise rows (default 30): CUDA graphs serve the
#               skip-noise record only where these rows verified replay against eager
#   CHAPTERS    chapters to time at the colab profile before the records (default none)
#   CHAPTERS_S  seconds for them (default 240; taken from the records' time)
#   COMPILE_S   seconds of it for the torch.compile rows (default 200: compiling a DARTS-space
#               pass took minutes on a 2-core CPU; NAS-Bench-201 goes first and is written
#               as soon as it is done)
#   RECORD_MIN  minutes for records (default 5)
#   TOTAL_S     if set, the whole call's seconds: records get what the benchmark left, less
#               a minute for packing (overrides RECORD_MIN)
#   PLAN        make_records plan (default all)
#   RECORD_ARGS extra make_records.py arguments. A CPU dry run of the whole script (checked
#               2026-11-29, 2-core CPU, 150 s: both record processes exit 0) needs the
#               committed benchmarks' graph verdicts switched off too, since make_records
#               refuses verified CUDA graphs without a GPU:
#               BENCH_MIN=0 TOTAL_S=150 GRAPHS_FROM=/nonexistent NOISE_FROM=/nonexistent
#               RECORD_ARGS="--profile smoke --dataset synthetic"
#   BENCH_MORE  methods benchmarked after DARTS while BENCH_MIN lasts (default: those the
#               committed files lack first: rf-pcdarts darts-2nd, then the others)
#   NB201_WORKERS  NAS-Bench-201 record processes (default: the benchmark's launch headroom)
#   GRAPHS_FROM benchmark JSON that must verify CUDA graphs before records use them
#               (default: this call's benchmark, or the newest committed one when BENCH_MIN=0)
#   NOISE_FROM  the same for skip-noise records (search_speed.py --skip-noise rows; default:
#               this call's, or the newest committed one when BENCH_MIN=0; none: no graphs)
set -u
START=$(date +%s)
OUT=${OUT:-/tmp/nas_kit_out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
export NAS_KIT_CIFAR10_JPEG=${NAS_KIT_CIFAR10_JPEG:-$PWD/.data}
export NAS_KIT_DATA=${NAS_KIT_DATA:-/tmp/nas_kit_data}
BENCH_MIN=${BENCH_MIN:-3}
RECORD_MIN=${RECORD_MIN:-5}
PLAN=${PLAN:-all}
# the benchmark that must have verified CUDA graphs before records use them
if [ "$BENCH_MIN" != 0 ]; then GRAPHS_FROM=${GRAPHS_FROM:-$OUT/search_speed_paper_gpu.json}
else GRAPHS_FROM=${GRAPHS_FROM:-$(python -c "import glob, json
files = glob.glob('benchmarks/results/search_speed_paper_gpu*.json')
print(max(files, key=lambda f: json.load(open(f))['env'].get('date', '')) if files else '')")}; fi
# the skip-noise benchmark whose rows decide CUDA graphs for skip-noise records
if [ "$BENCH_MIN" != 0 ]; then NOISE_FROM=${NOISE_FROM:-/tmp/search_speed_skip_noise_paper_gpu.json}
else NOISE_FROM=${NOISE_FROM:-$(ls -t benchmarks/results/search_speed_skip_noise_paper_gpu*.json 2> /dev/null | head -1)}; fi
LOG="$OUT/session.log"
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  python -c "import torch; print(torch.__version__, torch.cuda.get_device_name())"; } > "$LOG" 2>&1
BENCH="$OUT/search_speed_paper_gpu.json"
if [ "$BENCH_MIN" != 0 ]; then
  echo "== conv choices $(date -u +%T)" >> "$LOG"
  timeout 90 python benchmarks/conv_choices.py --shapes paper --device cuda --reps 10 --warmup 3 \
    --out "$OUT/conv_choices_paper_gpu.json" >> "$LOG" 2>&1
  echo "conv choices exit $?" >> "$LOG"
  # the key rows first (DARTS and NB201 first order), then the other methods while time remains
  end=$(( $(date +%s) + BENCH_MIN * 60 ))
  echo "== benchmark (darts) $(date -u +%T)" >> "$LOG"
  timeout $((BENCH_MIN * 60)) python benchmarks/search_speed.py --shapes paper --device cuda \
    --steps 5 --warmup 2 --engines eager fused graphs graphs-cl --methods darts --spaces darts nb201 \
    --out "$BENCH" >> "$LOG" 2>&1
  echo "benchmark (darts) exit $?" >> "$LOG"
  # the colab profile's shapes (what a chapter's searches make, in steps and network size):
  # its rows project each chapter search's time (projected_profile_search_min), so the
  # colab budgets can be sized from measurements instead of the eager paper-shape estimate
  left=$(( end - $(date +%s) ))
  COLAB_S=${COLAB_S:-75}
  [ "$left" -lt "$COLAB_S" ] && COLAB_S=$left
  if [ "$COLAB_S" -gt 20 ]; then
    echo "== benchmark (colab shapes) $(date -u +%T)" >> "$LOG"
    timeout "$COLAB_S" python benchmarks/search_speed.py --shapes colab --device cuda \
      --steps 5 --warmup 2 --engines eager graphs --spaces nb201 darts \
      --methods darts fair-darts mim-darts rf-darts \
      --out "$OUT/search_speed_colab_gpu.json" >> "$LOG" 2>&1
    echo "benchmark (colab shapes) exit $?" >> "$LOG"
  fi
  # the skip-noise ablation (chapter 3): its passes draw noise inside the CUDA graph, which
  # no other row checks; NAS-Bench-201 first (chapter 3's colab search), then the DARTS space
  # (its stored record)
  left=$(( end - $(date +%s) ))
  NOISE_S=${NOISE_S:-30}
  [ "$left" -lt "$NOISE_S" ] && NOISE_S=$left
  if [ "$NOISE_S" -gt 15 ]; then
    echo "== benchmark (skip noise) $(date -u +%T)" >> "$LOG"
    timeout "$NOISE_S" python benchmarks/search_speed.py --shapes paper --device cuda \
      --steps 5 --warmup 2 --engines eager fused graphs --methods darts --spaces nb201 darts \
      --skip-noise 1.0 --out "$OUT/search_speed_skip_noise_paper_gpu.json" >> "$LOG" 2>&1
    echo "benchmark (skip noise) exit $?" >> "$LOG"
  fi
  # two small files in one (what comes back is at most 8 files); the records read the
  # skip-noise rows from NOISE_FROM
  ( cd "$OUT" && tar -cf extras.tar conv_choices_paper_gpu.json \
      $(ls search_speed_skip_noise_paper_gpu.json 2> /dev/null) && rm -f conv_choices_paper_gpu.json )
  [ -f "$OUT/search_speed_skip_noise_paper_gpu.json" ] && mv "$OUT/search_speed_skip_noise_paper_gpu.json" "$NOISE_FROM"
  # torch.compile (compiling takes a while, so after the key rows): NAS-Bench-201 first;
  # eager again as the reference its α-gradients are compared with (make_records.compile_for);
  # graphs-compiled only (what a CUDA run uses; each compiled engine traces anew: tracing the
  # DARTS-space passes at paper shapes took ~55 s per pass kind on a 2-core CPU)
  left=$(( end - $(date +%s) ))
  COMPILE_S=${COMPILE_S:-200}
  [ "$left" -lt "$COMPILE_S" ] && COMPILE_S=$left
  if [ "$COMPILE_S" -gt 30 ]; then
    echo "== benchmark (compiled) $(date -u +%T)" >> "$LOG"
    timeout "$COMPILE_S" python benchmarks/search_speed.py --shapes paper --device cuda \
      --steps 5 --warmup 2 --engines eager graphs-compiled --methods darts --spaces nb201 darts \
      --out "$BENCH" --append >> "$LOG" 2>&1
    echo "benchmark (compiled) exit $?" >> "$LOG"
  fi
  left=$(( end - $(date +%s) ))
  if [ "$left" -gt 30 ]; then
    echo "== benchmark (more) $(date -u +%T)" >> "$LOG"
    timeout "$left" python benchmarks/search_speed.py --shapes paper --device cuda \
      --steps 5 --warmup 2 --engines eager fused graphs \
      --methods ${BENCH_MORE:-rf-pcdarts darts-2nd mim-darts rf-darts fair-darts pc-darts} \
      --out "$BENCH" --append >> "$LOG" 2>&1
    echo "benchmark (more) exit $?" >> "$LOG"
  fi
fi
# Chapters at the colab profile, timed cell by cell (CHAPTERS, e.g. "ch01 ch03"; none by
# default): what a student's chapter costs on this GPU, evaluation and capture included.
if [ -n "${CHAPTERS:-}" ]; then
  echo "== chapters at the colab profile: $CHAPTERS $(date -u +%T)" >> "$LOG"
  timeout $(( ${CHAPTERS_S:-240} + 30 )) python benchmarks/time_chapters.py --profile colab \
    --dataset cifar10-jpeg --chapters $CHAPTERS --total-s "${CHAPTERS_S:-240}" \
    --out "$OUT/chapter_times_colab_gpu.json" >> "$LOG" 2>&1
  echo "chapters exit $?" >> "$LOG"
fi
# Records: the DARTS-space runs in one process, the NAS-Bench-201 runs shared among as many
# processes as the benchmark's launch headroom allows (step time / GPU busy time: a
# launch-bound step leaves the GPU idle for another process's kernels), cheapest first (the
# runs a window can finish, by this call's step times; carried checkpoints count).
# CUDA graphs only where the benchmark above checked them against eager.
python -c "import nas_kit; nas_kit.data.load_dataset('cifar10-jpeg', 'train')" >> "$LOG" 2>&1
if [ "${TOTAL_S:-0}" -gt 0 ]; then   # records get what is left of the call, less the packing
  RECORD_S=$(( START + TOTAL_S - 55 - $(date +%s) ))
  [ "$RECORD_S" -lt 30 ] && RECORD_S=30
  RECORD_MIN=$(python -c "print($RECORD_S / 60)")
fi
RECORD_S=$(python -c "print(int(float('$RECORD_MIN') * 60))")
N=${NB201_WORKERS:-$(python benchmarks/make_records.py --headroom "$GRAPHS_FROM" 2>> "$LOG")}
N=${N:-1}
export NAS_KIT_CONCURRENT_RUNS=$((N + 1))
echo "== records $(date -u +%T): 1 DARTS-space process + $N NAS-Bench-201 processes" >> "$LOG"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}   # record processes launch kernels; their CPU math is small
common=(--plan "$PLAN" --minutes "$RECORD_MIN" --order cost --cuda-graphs-if "$GRAPHS_FROM"
        --skip-noise-graphs-if "${NOISE_FROM:-/nonexistent}"
        --cost-from "$GRAPHS_FROM" benchmarks/results/search_speed_paper_gpu*.json
        --runs runs/records --book book/records ${RECORD_ARGS:-})
# a run that would end past the deadline is killed (its last epoch's record is collected below)
hard=(timeout -s INT $((RECORD_S + 25)))
"${hard[@]}" python benchmarks/make_records.py "${common[@]}" --space darts > "$OUT/records_darts.log" 2>&1 &
pids=($!)
for k in $(seq 0 $((N - 1))); do
  "${hard[@]}" python benchmarks/make_records.py "${common[@]}" --space nb201 --share "$k/$N" \
    > "$OUT/records_nb201_$k.log" 2>&1 &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; echo "records process $pid exit $?" >> "$LOG"; done
python benchmarks/make_records.py --runs runs/records --book book/records --collect >> "$LOG" 2>&1
# What comes back is limited (8 files, 16 MiB each), so pack it: all stored records in one
# tar (commit them unchanged), and the one unfinished run worth carrying to the next window.
[ -d book/records ] && tar -cf "$OUT/records.tar" -C book records
( cd "$OUT" && tar -cf logs.tar records_*.log && rm -f records_*.log )
carry=$(python benchmarks/make_records.py --runs runs/records --pick-carry 15.5 2>> "$LOG")
if [ -n "$carry" ]; then
  tar -cf "$OUT/carry.tar" -C runs/records "$carry"
  echo "carry: $carry (unpack into runs/records/ and carry runs/records next time)" >> "$LOG"
fi
ls -la "$OUT" >> "$LOG"
exit 0
