#!/usr/bin/env bash
# One prepared call for a short GPU window (run from the repository root on the GPU machine):
#   1. the speed benchmark, eager vs fused vs graphs, paper shapes (rows written as they finish);
#   2. stored paper records (make_records.py), resuming any checkpoints carried in runs/,
#      with CUDA graphs where step 1 verified them (same losses and α-gradients as eager).
# Everything goes to $OUT: logs, benchmark JSON, finished records, checkpoints to carry back.
#
# Before the call, on the CPU machine:
#   mkdir -p .data && cp ../shared/data/cifar10_jpeg_train.npz .data/
# The device call (its copy of the tree has no .git, so pass the commit):
#   NAS_KIT_GIT_COMMIT=<sha> OUT=$OUT BENCH_MIN=3 RECORD_MIN=4 bash benchmarks/gpu_session.sh
#   with carry [".data", "runs/records"] and a timeout that leaves a minute to spare.
# Carry: .data/ (only cifar10_jpeg_train.npz, 44.7 MiB: no decode cache, no test file) and
# runs/records/ (checkpoints of unfinished runs). With the tracked tree (~3 MiB) the 64 MiB
# limit leaves ~16 MiB: one NAS-Bench-201 checkpoint (13.4 MiB at paper shapes) fits, a
# DARTS-space one (16.6 MiB for darts, 47 MiB for mim-darts) does not, so DARTS-space runs
# that do not finish in one window stay partial records.
# What comes back: session.log, search_speed_paper_gpu.json, records.tar, carry.tar.
# Afterwards: untar records.tar into book/ and commit the records unchanged (complete ones,
# and partial ones the book shows as "k of N epochs"); commit the benchmark JSON to
# benchmarks/results/search_speed_paper_gpu.json (its env names the GPU); untar carry.tar into
# runs/records/ (git-ignored) to carry next time.
#   BENCH_MIN   minutes for the benchmark (default 3; 0 skips it)
#   RECORD_MIN  minutes for records (default 5)
#   PLAN        make_records plan (default all)
#   GRAPHS_FROM benchmark JSON that must verify CUDA graphs before records use them
#               (default: this call's benchmark, or the committed one when BENCH_MIN=0)
set -u
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
else GRAPHS_FROM=${GRAPHS_FROM:-benchmarks/results/search_speed_paper_gpu.json}; fi
LOG="$OUT/session.log"
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  python -c "import torch; print(torch.__version__, torch.cuda.get_device_name())"; } > "$LOG" 2>&1
BENCH="$OUT/search_speed_paper_gpu.json"
if [ "$BENCH_MIN" != 0 ]; then
  # the key rows first (DARTS and NB201 first order), then the other methods while time remains
  end=$(( $(date +%s) + BENCH_MIN * 60 ))
  echo "== benchmark (darts) $(date -u +%T)" >> "$LOG"
  timeout $((BENCH_MIN * 60)) python benchmarks/search_speed.py --shapes paper --device cuda \
    --steps 5 --warmup 2 --engines eager fused graphs --methods darts --spaces darts nb201 \
    --out "$BENCH" >> "$LOG" 2>&1
  echo "benchmark (darts) exit $?" >> "$LOG"
  left=$(( end - $(date +%s) ))
  if [ "$left" -gt 30 ]; then
    echo "== benchmark (more) $(date -u +%T)" >> "$LOG"
    timeout "$left" python benchmarks/search_speed.py --shapes paper --device cuda \
      --steps 5 --warmup 2 --engines eager fused graphs \
      --methods pc-darts fair-darts mim-darts rf-darts rf-pcdarts darts-2nd \
      --out "$BENCH" --append >> "$LOG" 2>&1
    echo "benchmark (more) exit $?" >> "$LOG"
  fi
fi
# CUDA graphs for the records only if the benchmark above checked them against eager
echo "== records $(date -u +%T)" >> "$LOG"
python benchmarks/make_records.py --plan "$PLAN" --minutes "$RECORD_MIN" \
  --cuda-graphs-if "$GRAPHS_FROM" --runs runs/records --book book/records >> "$LOG" 2>&1
echo "records exit $?" >> "$LOG"
# What comes back is limited (8 files, 16 MiB each), so pack it: all stored records in one
# tar (commit them unchanged), and the one unfinished run worth carrying to the next window.
[ -d book/records ] && tar -cf "$OUT/records.tar" -C book records
carry=$(python benchmarks/make_records.py --runs runs/records --pick-carry 15.5 2>> "$LOG")
if [ -n "$carry" ]; then
  tar -cf "$OUT/carry.tar" -C runs/records "$carry"
  echo "carry: $carry (unpack into runs/records/ and carry runs/records next time)" >> "$LOG"
fi
ls -la "$OUT" >> "$LOG"
exit 0
