#!/usr/bin/env bash
# The overlay alternative of issue 23, measured for docs/checkpoints.md: a one-file `mv` run in a
# private mount namespace over an overlay whose lower layer is the workspace, then "committed"
# (each name in the upper layer renamed into the workspace, the lower file it replaces or a
# whiteout deletes renamed into a checkpoint directory instead). Times the mount, the command and
# the commit, medians of RUNS runs, in workspaces of the given sizes. Needs root (mount).
#
#   bash bench/checkpoint-overlay.sh [SIZES...]      (default: 1000 100000)
set -euo pipefail
[[ $(id -u) -eq 0 ]] || { echo "needs root to mount an overlay" >&2; exit 1; }
sizes=("$@")
[[ ${#sizes[@]} -gt 0 ]] || sizes=(1000 100000)
runs=${RUNS:-5}
work=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/cordon-overlay-bench.XXXXXX")
trap 'umount -q "$work/merged" 2>/dev/null || true; rm -rf "$work"' EXIT
now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

for n in "${sizes[@]}"; do
  ws=$work/ws; rm -rf "$ws"; mkdir -p "$ws"
  for ((d = 0; d < (n + 999) / 1000; d++)); do
    mkdir "$ws/d$d"
    (cd "$ws/d$d" && seq -f "f%04g" 0 $(( n - d * 1000 < 1000 ? n - d * 1000 - 1 : 999 )) | xargs touch)
  done
  mount_ms=(); cmd_ms=(); commit_ms=()
  for ((r = 0; r < runs; r++)); do
    echo "content $r" > "$ws/a.txt"; rm -f "$ws/b.txt"; sync
    upper=$work/upper; wk=$work/work; ck=$work/checkpoint; merged=$work/merged
    rm -rf "$upper" "$wk" "$ck" "$merged"; mkdir -p "$upper" "$wk" "$ck" "$merged"
    t0=$(now)
    # The command's view: a private namespace where the workspace is the overlay.
    unshare -m sh -c "mount -t overlay overlay -o lowerdir=$ws,upperdir=$upper,workdir=$wk $merged && t1=\$(date +%s%N) && mv $merged/a.txt $merged/b.txt && date +%s%N > $work/t2 && echo \$t1 > $work/t1"
    t3=$(now)
    # Commit: whiteouts (0/0 character devices) move the lower file to the checkpoint; new or
    # replaced files move into the workspace (the replaced lower file to the checkpoint first).
    (cd "$upper" && find . -mindepth 1 \( -type c -o -type f \) -print) | while read -r rel; do
      rel=${rel#./}
      if [[ -c "$upper/$rel" ]]; then
        mkdir -p "$ck/$(dirname "$rel")"; mv "$ws/$rel" "$ck/$rel"
      else
        if [[ -e "$ws/$rel" ]]; then mkdir -p "$ck/$(dirname "$rel")"; mv "$ws/$rel" "$ck/$rel"; fi
        mv "$upper/$rel" "$ws/$rel"
      fi
    done
    sync -f "$ws"
    t4=$(now)
    t1=$(cat "$work/t1"); t2=$(cat "$work/t2")
    mount_ms+=("$(( (t1 - t0) / 1000 ))"); cmd_ms+=("$(( (t2 - t1) / 1000 ))"); commit_ms+=("$(( (t4 - t3) / 1000 ))")
    [[ -f "$ws/b.txt" && ! -e "$ws/a.txt" && -f "$ck/a.txt" ]] || { echo "commit went wrong" >&2; exit 1; }
  done
  printf '{"files":%d,"runs":%d,"namespace_and_mount_us":%s,"mv_us":%s,"commit_us":%s}\n' "$n" "$runs" \
    "$(printf '%s\n' "${mount_ms[@]}" | median)" "$(printf '%s\n' "${cmd_ms[@]}" | median)" \
    "$(printf '%s\n' "${commit_ms[@]}" | median)"
done
