#!/usr/bin/env bash
# What the write broker (crates/cordon-sandbox/src/broker) costs: hardened runs of write-heavy
# and read-only commands through this build's `cordon-sandbox-run` and through a build without
# the broker (BEFORE_REV, default `main`), interleaved in random order each round so both see
# the same machine state. Every run starts from a freshly prepared workspace (not timed).
#
#   bench/write-broker.sh [ROUNDS]     (needs python3, git, tar; cargo and a rustup toolchain)
#   WORK_DIR=/dev/shm                  where the workspaces are made (default target/bench): a
#                                      tmpfs separates the broker's cost from the disk's
#   BEFORE_REV=<rev>                   the build without the broker (built once, cached), by
#                                      default `main`; it must not contain the broker
#
# Workloads: 10,000 open(O_CREAT) and close from one process (the per-call cost); create 2,000
# empty files from a shell loop; `git add -A && git commit` of 50
# changed files in a 500-file repository; `cargo build` of a two-module crate with a fresh
# target directory; `grep -r` and `cat` over 2,000 files (read-only: must not pay); /bin/true.
set -euo pipefail

ROUNDS="${1:-15}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
BEFORE_REV="${BEFORE_REV:-main}"
if git cat-file -e "$BEFORE_REV:crates/cordon-sandbox/src/broker/mod.rs" 2>/dev/null; then
  echo "$BEFORE_REV already has the write broker; name a build without it in BEFORE_REV" >&2
  exit 64
fi
BENCH="$ROOT/target/bench"
mkdir -p "$BENCH/before"

cargo build --release -q -p cordon-sandbox --bin cordon-sandbox-run --bin cordon-probe
AFTER="$ROOT/target/release/cordon-sandbox-run"
PROBE="$ROOT/target/release/cordon-probe"
BEFORE="$BENCH/before/cordon-sandbox-run-$(git rev-parse --short "$BEFORE_REV")"
if [ ! -x "$BEFORE" ]; then
  SRC="$BENCH/before-src"
  rm -rf "$SRC" && mkdir -p "$SRC"
  git archive "$BEFORE_REV" | tar x -C "$SRC"
  (cd "$SRC" && cargo build --release -q -p cordon-sandbox --bin cordon-sandbox-run \
     --target-dir "$BENCH/before-target")
  cp "$BENCH/before-target/release/cordon-sandbox-run" "$BEFORE"
  rm -rf "$SRC"
fi

TC="$(rustc --print sysroot)"
WORK="$(mktemp -d "${WORK_DIR:-$BENCH}/write-broker.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

python3 - "$ROUNDS" "$BEFORE" "$AFTER" "$WORK" "$TC" "$PROBE" <<'PY'
import os, random, resource, shutil, statistics, subprocess, sys, time

rounds, before, after, work, tc, probe = (int(sys.argv[1]), *sys.argv[2:7])
ws = os.path.join(work, "ws")
git = ["git", "-c", "user.name=b", "-c", "user.email=b@example.invalid"]

def fresh():
    shutil.rmtree(ws, ignore_errors=True)
    os.makedirs(ws)

def prep_create():
    fresh()

def prep_git():
    fresh()
    for i in range(500):
        with open(os.path.join(ws, f"f{i}.txt"), "w") as f:
            f.write(f"line {i}\n" * 20)
    subprocess.run(["git", "init", "-q"], cwd=ws, check=True)
    subprocess.run(git + ["add", "-A"], cwd=ws, check=True)
    subprocess.run(git + ["commit", "-qm", "base"], cwd=ws, check=True)
    for i in range(50):
        with open(os.path.join(ws, f"f{i}.txt"), "a") as f:
            f.write("changed\n")

def prep_cargo():
    fresh()
    os.makedirs(os.path.join(ws, "src"))
    open(os.path.join(ws, "Cargo.toml"), "w").write(
        '[package]\nname = "tiny"\nversion = "0.1.0"\nedition = "2021"\n[workspace]\n')
    open(os.path.join(ws, "src/main.rs"), "w").write(
        "mod a;\nfn main() { println!(\"{}\", a::f()); }\n")
    open(os.path.join(ws, "src/a.rs"), "w").write("pub fn f() -> u32 { 42 }\n")

def prep_read():
    if not os.path.exists(os.path.join(ws, "r1999.txt")):
        fresh()
        for i in range(2000):
            with open(os.path.join(ws, f"r{i}.txt"), "w") as f:
                f.write("some text\n" * 10)

workloads = {
    "10,000 open(O_CREAT) + close, one process": (prep_create,
        [probe, "create-many", ws, "10000"], ["--read", probe]),
    "create 2,000 files from sh": (prep_create, ["/bin/sh", "-c",
        "i=0; while [ $i -lt 2000 ]; do : > f$i; i=$((i+1)); done"], []),
    "git add + commit (50 of 500 files)": (prep_git, ["/bin/sh", "-c",
        " ".join(git) + " add -A && " + " ".join(git) + " commit -qm next"], []),
    "cargo build (tiny crate)": (prep_cargo, ["/usr/bin/env", f"CARGO_HOME={ws}/.cargo-home",
        f"RUSTC={tc}/bin/rustc", f"{tc}/bin/cargo", "build", "--offline", "-q"], ["--read", tc]),
    "read-only: grep -r + cat (2,000 files)": (prep_read, ["/bin/sh", "-c",
        "grep -rc text . >/dev/null; cat r1*.txt | wc -l"], []),
    "/bin/true": (prep_read, ["/bin/true"], []),
}
builds = {"without broker": before, "with broker": after}
times = {(w, b): [] for w in workloads for b in builds}
cpu = {(w, b): [] for w in workloads for b in builds}

def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime
for r in range(rounds + 1):
    order = [(w, b) for w in workloads for b in builds]
    random.shuffle(order)
    for w, b in order:
        prep, argv, extra = workloads[w]
        prep()
        cmd = [builds[b], "--hardened", "--write", ws, *extra, "--", *argv]
        c0, t0 = children_cpu(), time.perf_counter()
        p = subprocess.run(cmd, cwd=ws, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        dt, dc = time.perf_counter() - t0, children_cpu() - c0
        if p.returncode != 0:
            sys.exit(f"{b} / {w} failed ({p.returncode}): {p.stderr.decode()[-400:]}")
        if r > 0:  # the first round warms caches and is not counted
            times[(w, b)].append(dt * 1000)
            cpu[(w, b)].append(dc * 1000)

print(f"{rounds} rounds, interleaved; medians (min) in ms; load {os.getloadavg()[0]:.1f}")
print("CPU: user + system time of the supervisor and the command, which the machine's load")
print("inflates less than wall time")
print("| workload | wall, without | wall, with | difference | CPU, without | CPU, with | difference |")
print("|---|---|---|---|---|---|---|")
for w in workloads:
    row = [w]
    for table in (times, cpu):
        a, b = table[(w, "without broker")], table[(w, "with broker")]
        ma, mb = statistics.median(a), statistics.median(b)
        row += [f"{ma:.1f} ({min(a):.1f})", f"{mb:.1f} ({min(b):.1f})",
                f"{mb - ma:+.1f} ({(mb / ma - 1) * 100 if ma else 0:+.0f}%)"]
    print("| " + " | ".join(row) + " |")
PY
