#!/usr/bin/env bash
# What the run-start search costs a hardened `cordon exec -- /bin/true` (docs/sandbox.md, "The
# run-start search"): one release binary, one home on disk (under target/bench) with four
# caches (each run mounts their layers, which the search overlaps with), and three workspaces:
# a small one (a repository with three directories), and a large one of DIRS directories
# (nested eight deep, a file in each, a `.env` at the bottom), run with its memory kept from the
# previous run ("warm") and with the memory removed before each run ("cold").
# BEFORE=path/to/cordon adds that binary on the large workspace (a build from before the search
# went deep searched 3 levels and 1,024 directories). Every variant runs in a new random order
# each round (bench/interleave.py); medians are printed.
#
#   [BEFORE=bin] bench/search-overhead.sh [ROUNDS] [PER] [DIRS]   (needs python3 and git)
set -euo pipefail

rounds=${1:-20}
per=${2:-10}
dirs=${3:-2000}
repo=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release -q -p cordon --manifest-path "$repo/Cargo.toml"
cordon="$repo/target/release/cordon"
place="$repo/target/bench/search"
rm -rf "$place"
home="$place/home"
mkdir -p "$home/small/a/b/c"
# The caches a developer's home has (each gets a layer, which the search overlaps with).
for cache in .cache/go-build .cargo/registry/src .cargo/git .npm; do
    mkdir -p "$home/$cache"
    echo x > "$home/$cache/f"
done
git -C "$home/small" init -q .
python3 - "$home/large" "$dirs" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
os.makedirs(root)
made, i = 0, 0
# Breadth: 10 children a level, eight levels deep at most, until n directories exist.
frontier = [root]
while made < n and frontier:
    nxt = []
    for d in frontier:
        for k in range(10):
            if made >= n:
                break
            sub = os.path.join(d, f"d{k}")
            os.mkdir(sub)
            with open(os.path.join(sub, "f.txt"), "w") as f:
                f.write("x\n")
            nxt.append(sub)
            made += 1
    frontier = nxt if len(nxt[0].split(os.sep)) - len(root.split(os.sep)) < 8 else []
deepest = max((p for p in nxt), key=len)
with open(os.path.join(deepest, ".env"), "w") as f:
    f.write("SECRET=1\n")
PY
git -C "$home/large" init -q .
# First use makes cordon's home; a run two seconds later lets the memory settle.
for ws in small large; do
    (cd "$home/$ws" && HOME="$home" CORDON_GATEWAY=off "$cordon" exec -- /bin/true 2>/dev/null)
done
sleep 3
(cd "$home/large" && HOME="$home" CORDON_GATEWAY=off "$cordon" exec -- /bin/true 2>/dev/null)

spec=$(mktemp)
trap 'rm -f "$spec"' EXIT
python3 - "$cordon" "$home" "${BEFORE:-}" > "$spec" <<'PY'
import json, sys
cordon, home, before = sys.argv[1:4]
memory = f"{home}/.config/cordon/search"
# Every variant runs one `rm`, so the cold one's removal of the memory is not counted against it.
idle = f"rm -rf {home}/absent; "
variants = [
    ("small workspace", cordon, "small", idle),
    ("large workspace, warm memory", cordon, "large", idle),
    ("large workspace, cold memory", cordon, "large", f"rm -rf {memory}; "),
]
if before:
    variants.append(("large workspace, BEFORE (3 levels, 1,024 directories)", before, "large", idle))
print(json.dumps([{
    "name": name,
    "argv": ["/bin/sh", "-c", f"{pre}cd {home}/{ws} && exec {binary} exec -- /bin/true"],
    "env": {"HOME": home, "CORDON_GATEWAY": "off"},
} for name, binary, ws, pre in variants]))
PY
python3 "$repo/bench/interleave.py" "$rounds" "$per" "$spec"
