#!/usr/bin/env bash
# Issue 23's benchmark through the binary: what `cordon exec` costs for a checkpointed command
# in workspaces of 1,000 / 10,000 / 100,000 files, each way the pipeline takes the checkpoint,
# against the same command without one, measured in the same run. bench/checkpoint.sh measures
# the store side alone (and the 1,000,000-file case); this one adds everything else a run does:
# judging, the envelope, the sandbox and its write broker, signing, the journal.
#
#   bash bench/checkpoint-binary.sh [SIZES...]        (default: 1000 10000 100000)
#
# Workloads (each in a workspace of SIZE files of 800 distinct bytes, 1,000 per directory):
#   mv    an unknown program (`./op.sh`, so the checkpoint's scope is the whole workspace) that
#         moves one file; the next run moves it back, outside the timing;
#   rm    `rm -rf big`, big a fresh 10,000-file directory made before each run (outside the
#         timing; under a checkpoint a plain rm is a soft delete to the trash).
# Configurations, interleaved in a random order each round so they share the machine's load:
#   hardened-none      --mode hardened, the policy allows (no checkpoint): the baseline;
#   hardened-observed  --mode hardened, allow_with_checkpoint: an observed checkpoint;
#   local-none         --mode local, the policy allows;
#   local-full         --mode local, allow_with_checkpoint: a full snapshot before the run (of
#                      the whole workspace for `mv`, of the named `big` for `rm`).
# Wall time of the `cordon exec` process; the median (min) of RUNS rounds after one warm-up round.
#
# Environment: RUNS (default 7), BENCH_DIR (default $TMPDIR, or /tmp), CORDON (a built binary;
# default: target/release/cordon, built here). As root the workspaces, the home and its store live
# on a fresh ext4 loop image (IMAGE_DIR, default BENCH_DIR), as in bench/checkpoint.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
[[ ${#sizes[@]} -gt 0 ]] || sizes=(1000 10000 100000)
runs=${RUNS:-7}
if [[ -z ${CORDON:-} ]]; then
  cargo build --release -q -p cordon
  CORDON=$PWD/target/release/cordon
fi

base=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/cordon-ckpt-binary.XXXXXX")
mounted=
image_dir=
cleanup() {
  [[ -n $mounted ]] && umount "$mounted"
  [[ -n $image_dir ]] && rm -rf "$image_dir"
  rm -rf "$base"
}
trap cleanup EXIT
work=$base
if [[ $(id -u) -eq 0 ]] && command -v losetup >/dev/null && command -v mkfs.ext4 >/dev/null; then
  largest=$(printf '%s\n' "${sizes[@]}" | sort -n | tail -1)
  # The workspace, and per run up to 10,000 files in the trash and 10,000 objects in the store.
  gib=$(( (largest * 2 * 4096 + runs * 4 * 2 * 10000 * 4096 + 2 * 1024 ** 3) / 1024 ** 3 + 1 ))
  image_dir=$(mktemp -d "${IMAGE_DIR:-$base}/cordon-ckpt-image.XXXXXX")
  image=$image_dir/fs.img
  truncate -s "${gib}G" "$image"
  mkfs.ext4 -q -N $(( largest * 2 + runs * 8 * 10000 + 200000 )) "$image"
  mkdir "$base/fs"
  mount -o loop "$image" "$base/fs"
  mounted=$base/fs
  work=$base/fs
  echo "# ext4 on a ${gib} GiB loop image in $(findmnt -n -o FSTYPE -T "$image_dir"); $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg); $(uname -r)"
else
  echo "# $(findmnt -n -o FSTYPE -T "$work" 2>/dev/null || echo '?') in BENCH_DIR (not root: no loop image); load $(cut -d' ' -f1-3 /proc/loadavg); $(uname -r)"
fi

python3 - "$CORDON" "$work" "$runs" "${sizes[@]}" <<'PY'
import json, os, random, shutil, statistics, subprocess, sys, time

cordon, work, runs, sizes = sys.argv[1], sys.argv[2], int(sys.argv[3]), [int(s) for s in sys.argv[4:]]
PER_DIR, BIG = 1000, 10_000

def policy(path, outcome):
    with open(path, "w") as f:
        f.write(f"cordon_policy: 1\nname: bench-{outcome}\ndefault: deny\nrules:\n"
                f"  - id: everything\n    outcome: {outcome}\n    reason: benchmark\n    match: {{}}\n")

def content(seed, i):
    return (f"{seed}:{i}:".encode() * 64)[:800]

def files(root, n, seed):
    for i in range(n):
        d = os.path.join(root, f"d{i // PER_DIR:04}")
        if i % PER_DIR == 0:
            os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"f{i:07}"), "wb") as f:
            f.write(content(seed, i))

CONFIGS = {
    "hardened-none": ("hardened", "allow"),
    "hardened-observed": ("hardened", "allow_with_checkpoint"),
    "local-none": ("local", "allow"),
    "local-full": ("local", "allow_with_checkpoint"),
}

def setup(n):
    root = os.path.join(work, f"n{n}")
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(root)
    env = dict(os.environ, CORDON_HOME=os.path.join(root, "home"))
    env.pop("CORDON_SESSION", None)
    env.pop("CORDON_JOURNAL", None)
    subprocess.run([cordon, "init"], env=env, check=True, capture_output=True)
    ws = os.path.join(root, "ws")
    os.makedirs(ws)
    files(ws, n, 0)
    with open(os.path.join(ws, "op.sh"), "w") as f:
        f.write("#!/bin/sh\nif [ -e d0000/moved ]; then mv d0000/moved d0000/f0000000; "
                "else mv d0000/f0000000 d0000/moved; fi\n")
    os.chmod(os.path.join(ws, "op.sh"), 0o755)
    for outcome in ("allow", "allow_with_checkpoint"):
        policy(os.path.join(root, f"{outcome}.yaml"), outcome)
    return root, ws, env

def run(root, ws, env, config, workload, seed):
    mode, outcome = CONFIGS[config]
    if workload == "rm":
        big = os.path.join(ws, "big")
        shutil.rmtree(big, ignore_errors=True)
        files(big, BIG, seed)
        text = "rm -rf big"
    else:
        text = "./op.sh"
    os.sync()
    args = [cordon, "exec", "--mode", mode, "--policy", os.path.join(root, f"{outcome}.yaml"),
            "--cwd", ws, "--workspace", ws, "--receipt", os.path.join(root, "receipt.json"),
            "--shell", text]
    start = time.perf_counter()
    out = subprocess.run(args, env=env, capture_output=True)
    elapsed = time.perf_counter() - start
    if out.returncode != 0:
        sys.exit(f"{config} {workload}: exit {out.returncode}: {out.stderr.decode()}")
    receipt = json.load(open(os.path.join(root, "receipt.json")))
    taken = ((receipt.get("x-cordon") or {}).get("checkpoint") or {}).get("taken") or {}
    return elapsed * 1000, taken.get("coverage"), taken.get("entries")

rows = []
seed = 1
for n in sizes:
    root, ws, env = setup(n)
    times = {(c, w): [] for c in CONFIGS for w in ("mv", "rm")}
    seen = {}
    for round_no in range(runs + 1):
        for workload in ("mv", "rm"):
            order = list(CONFIGS)
            random.shuffle(order)
            for config in order:
                seed += 1
                ms, coverage, entries = run(root, ws, env, config, workload, seed)
                seen[(config, workload)] = (coverage, entries)
                if round_no > 0:
                    times[(config, workload)].append(ms)
    for (config, workload), t in times.items():
        coverage, entries = seen[(config, workload)]
        row = {"files": n, "workload": workload, "config": config,
               "median_ms": statistics.median(t), "min_ms": min(t), "max_ms": max(t),
               "coverage": coverage, "entries": entries}
        print(json.dumps(row), flush=True)
        rows.append(row)
    shutil.rmtree(root, ignore_errors=True)

print()
print("| files | workload | configuration | checkpoint (entries) | median ms (min) |")
print("|---:|---|---|---|---:|")
for r in rows:
    ck = f"{r['coverage']} ({r['entries']:,})" if r["coverage"] else "none"
    print(f"| {r['files']:,} | {r['workload']} | {r['config']} | {ck} | "
          f"{r['median_ms']:.1f} ({r['min_ms']:.1f}) |")
PY
