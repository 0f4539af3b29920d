#!/usr/bin/env bash
# Checkpoint and rollback of a 10,000-file tree: time and space, with plain copies and with
# reflink. As root, each runs on its own fresh 1 GiB image on a loop device (ext4: no reflink, so
# plain copies; XFS with reflink=1: clones), so `syncfs` and the free-block count see only this
# benchmark's writes. Without root, it runs once in $TMPDIR. Prints one JSON line per filesystem;
# docs/checkpoints.md has the figures and the method.
#
#   bash bench/checkpoint-space.sh [FILES] [BYTES]
set -euo pipefail
cd "$(dirname "$0")/.."
files=${1:-10000}
bytes=${2:-4096}
cargo build --release -q -p cordon-checkpoint --example checkpoint_space
bin=$PWD/target/release/examples/checkpoint_space

work=$(mktemp -d "${TMPDIR:-/tmp}/cordon-ckpt-bench.XXXXXX")
mounts=()
cleanup() {
  for m in "${mounts[@]}"; do umount "$m" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

on_image() { # FSTYPE MKFS-ARGS...
  local fs=$1; shift
  truncate -s 1G "$work/$fs.img"
  "mkfs.$fs" -q "$@" "$work/$fs.img"
  mkdir -p "$work/$fs"
  mount -o loop "$work/$fs.img" "$work/$fs"
  mounts+=("$work/$fs")
  echo "# $fs on a loop device"
  "$bin" "$work/$fs" "$files" "$bytes"
}

if [[ $(id -u) -eq 0 ]] && command -v losetup >/dev/null; then
  on_image ext4
  if command -v mkfs.xfs >/dev/null; then
    on_image xfs -m reflink=1
  else
    echo "# SKIP xfs: install xfsprogs"
  fi
else
  echo "# $(findmnt -n -o FSTYPE -T "$work") in \$TMPDIR (not root: no loop images)"
  mkdir -p "$work/plain"
  "$bin" "$work/plain" "$files" "$bytes"
fi
