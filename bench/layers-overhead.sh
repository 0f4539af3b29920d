#!/usr/bin/env bash
# What the cache layers cost a hardened `cordon exec -- /bin/true` (docs/sandbox.md, "Cache
# layers"): the same release binary in two homes that differ only in whether the caches the
# default pack names exist (`~/.cache`, `~/.cargo/registry`, `~/.cargo/git`, `~/.npm`, each with
# one file), on disk (under target/bench) and on tmpfs (/dev/shm), every variant in a new random
# order each round (bench/interleave.py). Medians are printed; the layer's cost is the difference
# between the two homes of one file system.
#
#   bench/layers-overhead.sh [ROUNDS] [PER]    (needs python3; cargo for the build)
set -euo pipefail

rounds=${1:-30}
per=${2:-10}
repo=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release -q -p cordon --manifest-path "$repo/Cargo.toml"
cordon="$repo/target/release/cordon"

variants=()
for place in "$repo/target/bench/layers" /dev/shm/cordon-bench-layers; do
    rm -rf "$place"
    for home in bare cached; do
        mkdir -p "$place/$home/ws"
    done
    for cache in .cache/go-build .cargo/registry/src .cargo/git .npm; do
        mkdir -p "$place/cached/$cache"
        echo x > "$place/cached/$cache/f"
    done
    for home in bare cached; do
        # First use makes cordon's home; the layers are made on the first run that has caches.
        (cd "$place/$home/ws" && HOME="$place/$home" CORDON_GATEWAY=off "$cordon" exec -- /bin/true 2>/dev/null)
        variants+=("$place/$home")
    done
done

spec=$(mktemp)
trap 'rm -f "$spec"' EXIT
python3 - "$cordon" "${variants[@]}" > "$spec" <<'EOF'
import json, sys
cordon, homes = sys.argv[1], sys.argv[2:]
print(json.dumps([{
    "name": ("tmpfs" if h.startswith("/dev/shm") else "disk") + (", 4 caches layered" if h.endswith("cached") else ", no caches"),
    "argv": ["/bin/sh", "-c", f"cd {h}/ws && exec {cordon} exec -- /bin/true"],
    "env": {"HOME": h, "CORDON_GATEWAY": "off"},
} for h in homes]))
EOF
python3 "$repo/bench/interleave.py" "$rounds" "$per" "$spec"
