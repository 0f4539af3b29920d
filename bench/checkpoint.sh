#!/usr/bin/env bash
# Issue 23's benchmark, at the library level: a checkpointed one-file `mv` and an `rm -rf` of a
# 10,000-file directory in workspaces of 1,000 / 10,000 / 100,000 / 1,000,000 files, for each way
# of taking the checkpoint (full scope, named paths, observed changes) and without one (local
# mode), with the bytes each adds to the store. Medians of RUNS runs after one warm-up; one JSON
# line per (size, approach, workload), then a table. docs/checkpoints.md has the figures and the
# method; crates/cordon-checkpoint/examples/checkpoint_bench.rs says exactly what is timed.
#
#   bash bench/checkpoint.sh [SIZES...]        (default: 1000 10000 100000 1000000)
#
# Environment: RUNS (default 5), FULL_MAX (largest workspace the full-scope approach runs in;
# default 100000: at a million files one full checkpoint reads ~0.8 GB and writes a
# 1,000,000-line manifest per run), BENCH_DIR (default $TMPDIR, or /tmp).
#
# As root, everything runs on a fresh ext4 image on a loop device (sized for the largest
# workspace), so the host filesystem's mount options (online `discard` makes every unlink wait
# for the disk) and other processes' dirty pages (`syncfs` flushes them) stay out of the figures.
# Without root it runs in BENCH_DIR and says so. IMAGE_DIR (default: BENCH_DIR) is where the
# image file lives; on a tmpfs (/dev/shm) flushes cost nothing, which isolates cordon's own work.
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
[[ ${#sizes[@]} -gt 0 ]] || sizes=(1000 10000 100000 1000000)
runs=${RUNS:-5}
full_max=${FULL_MAX:-100000}
cargo build --release -q -p cordon-checkpoint --example checkpoint_bench
bin=$PWD/target/release/examples/checkpoint_bench

base=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/cordon-ckpt-bench.XXXXXX")
mounted=
image_dir=
cleanup() {
  [[ -n $mounted ]] && umount "$mounted"
  [[ -n $image_dir ]] && rm -rf "$image_dir"
  rm -rf "$base"
}
trap cleanup EXIT
results=$base/results.jsonl
work=$base
if [[ $(id -u) -eq 0 ]] && command -v losetup >/dev/null && command -v mkfs.ext4 >/dev/null; then
  largest=$(printf '%s\n' "${sizes[@]}" | sort -n | tail -1)
  # Each workspace file and each stored object takes a 4 KiB block and an inode; keep room for
  # the workspace, the 10,000-file directory per run, and the stores.
  gib=$(( (largest * 3 * 4096 + 4 * 1024 ** 3) / 1024 ** 3 + 1 ))
  # IMAGE_DIR=/dev/shm puts the image in memory: flushes then cost nothing, which separates
  # cordon's own work from the disk's flush latency.
  image_dir=$(mktemp -d "${IMAGE_DIR:-$base}/cordon-ckpt-image.XXXXXX")
  image=$image_dir/fs.img
  truncate -s "${gib}G" "$image"
  mkfs.ext4 -q -N $(( largest * 3 + 500000 )) "$image"
  mkdir "$base/fs"
  mount -o loop "$image" "$base/fs"
  mounted=$base/fs
  work=$base/fs
  echo "# ext4 on a ${gib} GiB loop image in $(findmnt -n -o FSTYPE -T "$image_dir"); $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
else
  echo "# $(findmnt -n -o FSTYPE,OPTIONS -T "$work" 2>/dev/null || echo '?') in BENCH_DIR (not root: no loop image); load $(cut -d' ' -f1-3 /proc/loadavg)"
fi
for n in "${sizes[@]}"; do
  approaches=none,full,named,observed
  if (( n > full_max )); then
    approaches=none,named,observed
    echo "# $n files: full-scope approach not run (FULL_MAX=$full_max)"
  fi
  "$bin" "$work/run" "$n" "$runs" "$approaches" | tee -a "$results"
done

if command -v python3 >/dev/null; then
  python3 - "$results" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print()
print("| files | workload | approach | median ms | min–max ms | store bytes added (median) |")
print("|---:|---|---|---:|---|---:|")
for r in rows:
    print(f"| {r['files']:,} | {r['workload']} | {r['approach']} | {r['median_ms']:.3f} | "
          f"{r['min_ms']:.3f}–{r['max_ms']:.3f} | {r['store_bytes_added_median']:,} |")
PY
fi
