#!/usr/bin/env bash
# Whole-process cost of running /bin/true: bare, through cordon's supervisor (local and hardened),
# through `cordon run` (policy gate + sandbox + receipt), through bwrap with user/pid/net
# namespaces, and through csc-runner when installed. One hyperfine invocation, so every variant
# shares the same machine state; medians and ratios to the bare exec are printed at the end.
#
# Then a few variants run interleaved (random order each round), back to back and with 50 ms of
# idle time before each run, as an agent calls cordon: back-to-back loops hide costs that depend
# on what the kernel did a moment ago (moving a process into a cgroup by writing `cgroup.procs`
# waits for an RCU grace period unless another migration happened within the last one).
#
#   bench/run-overhead.sh [RUNS]        (needs: hyperfine, bwrap, unshare, python3; cargo and rustc)
#   CSC=/path/to/venv/bin/csc bench/run-overhead.sh   to include csc-runner
#   BEFORE=target/bench/before bench/run-overhead.sh  to also time an older build's `cordon` and
#                                       `cordon-sandbox-run` copied there (before/after, one run);
#                                       the head-to-head takes several, `BEFORE=dir1:dir2`, and
#                                       the full run the first
#   SPACED_RUNS=40 (default)            rounds of the interleaved passes; 0 skips them
#   HEAD_ONLY=1                         only the head-to-head below (issue 18), then stop
#   HEAD_ROUNDS=15 HEAD_PER_ROUND=20    its rounds and runs per variant per round
#
# First, the head-to-head of issue 18: the spawn floor (a static C program that posix_spawns
# /bin/true and waits), bubblewrap with the flags Codex and sandbox-runtime use, and a hardened,
# signed `cordon run` of /bin/true (and a journaled one) with its home, receipt and journal on disk,
# and again on tmpfs (/dev/shm). The variants run interleaved: each of HEAD_ROUNDS rounds is one
# hyperfine invocation per set (disk, tmpfs), HEAD_PER_ROUND runs of each variant, pooled; the
# script prints medians and, per set, the two ratios the issue sets targets for (cordon / bwrap
# <= 0.6, cordon - floor <= 1.5 ms), each against the floor and bwrap of the same rounds.
set -euo pipefail

RUNS="${1:-300}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
cargo build --release -q -p cordon -p cordon-sandbox --bin cordon --bin cordon-sandbox-run

# Outside /tmp: csc's bwrap launcher mounts a tmpfs over /tmp, which would hide the cwd.
mkdir -p "$ROOT/target/bench"
WORK="$(mktemp -d "$ROOT/target/bench/run-overhead.XXXXXX")"
COPIES="$(mktemp -d "$ROOT/target/bench/run-overhead-bin.XXXXXX")"
trap 'rm -rf "$WORK" "$COPIES"' EXIT

# Every build is timed from a fresh copy (`cp`), this one and each BEFORE alike. A binary the
# linker has just written sits in the page cache in small folios, and each start of it faults its
# pages in slowly: the same build measured 0.6 ms slower per run from `target/release` than from
# a copy (2026-12-07), which is how an installed binary is read. Comparing a linker-written HEAD
# against copied older builds favoured the older ones.
fresh_copy() { # fresh_copy DIR: prints a new directory holding copies of DIR's binaries
  local into
  into="$(mktemp -d "$COPIES/b.XXXXXX")"
  cp "$1/cordon" "$into/"
  if [ -e "$1/cordon-sandbox-run" ]; then cp "$1/cordon-sandbox-run" "$into/"; fi
  echo "$into"
}
BIN="$(fresh_copy "$ROOT/target/release")"
cat >"$WORK/contract.json" <<JSON
{"version":"csc.v0.1","contract_id":"bench_true","intent":"bench","actor":{"agent_id":"a","session_id":"s","initiating_user":"u","delegation_scope":"d"},
 "commands":[{"id":"cmd_1","exec":{"argv":["/bin/true"]},"cwd":"$WORK","read_paths":["$WORK/**"],"write_paths":[],"network":"deny",
 "env_allow":[],"secret_refs":[],"timeout_sec":10,"proposed_effect_type":"observe"}],
 "risk_class":"low","approval_mode":"policy_only","expected_outputs":[],"justification":"bench"}
JSON
cat >"$WORK/policy.json" <<JSON
{"policy_schema_version":"csc.policy.v0.1","name":"bench","allow_commands":["/bin/true"],"allowed_effect_types":["observe"],
 "allowed_risk_classes":["low"],"max_timeout_sec":30,"network":"deny","allow_secret_refs":false,"require_write_paths_empty":true,
 "allowed_cwd_prefixes":["$WORK"],"allowed_read_prefixes":["$WORK"],"allowed_write_prefixes":[]}
JSON

# Hardened runs must be signed; the key lives outside every scope the contract grants.
KEYS="$(mktemp -d "$ROOT/target/bench/run-overhead-keys.XXXXXX")"
trap 'rm -rf "$WORK" "$KEYS"' EXIT
"$BIN/cordon" keygen --out-dir "$KEYS" --key-id bench >/dev/null
SIGN="--signing-key $KEYS/bench.pem --key-id bench"

# Sanity: every variant must actually succeed before it is timed.
"$BIN/cordon" run "$WORK/contract.json" "$WORK/policy.json" --mode hardened $SIGN --receipt "$WORK/r.json"
python3 -c "import json,sys; r=json.load(open(sys.argv[1])); e=r['x-cordon']['sandbox']['commands'][0]['enforcement']; \
assert r['status']=='success' and e['landlock']['enforced'] and e['seccomp']['enforced'], r" "$WORK/r.json"

# The spawn floor: a static C program that posix_spawns /bin/true and waits. Static, so it pays
# no dynamic loader; where glibc's static archive is missing it is built dynamically instead, and
# says so, since that floor is then higher by the loader's work.
cat >"$WORK/spawn_floor.c" <<'C'
#include <spawn.h>
#include <sys/wait.h>
extern char **environ;
int main(void) {
    pid_t pid;
    char *argv[] = {"/bin/true", 0};
    if (posix_spawn(&pid, "/bin/true", 0, 0, argv, environ) != 0) return 127;
    int status;
    if (waitpid(pid, &status, 0) < 0) return 127;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}
C
FLOOR_KIND="static"
if ! cc -O2 -static -o "$WORK/spawn_floor_c" "$WORK/spawn_floor.c" 2>"$WORK/cc.log"; then
  echo "note: cc -static failed (no static libc: install libc6-dev); the floor is built dynamically" \
       "and so includes the dynamic loader's cost:" >&2
  sed 's/^/  /' "$WORK/cc.log" >&2
  cc -O2 -o "$WORK/spawn_floor_c" "$WORK/spawn_floor.c"
  FLOOR_KIND="dynamic (no static libc)"
fi
"$WORK/spawn_floor_c"
ISSUE_BWRAP="bwrap --unshare-user --unshare-pid --unshare-net --ro-bind / / --dev /dev --proc /proc /bin/true"
$ISSUE_BWRAP
SHM_HOME=""
if [[ -d /dev/shm && -w /dev/shm ]]; then
  SHM_HOME="$(mktemp -d /dev/shm/cordon-run-overhead.XXXXXX)"
  trap 'rm -rf "$WORK" "$KEYS" "$SHM_HOME"' EXIT
fi
RUN_ARGS="run $WORK/contract.json $WORK/policy.json --mode hardened $SIGN"
HEAD_ROUNDS="${HEAD_ROUNDS:-15}"
# hyperfine's reports go beside the workspace, not in it: the contract reads the workspace, and a
# directory that grows by two files a round would change what the runs grant from round to round.
EXPORTS="$WORK-exports"
mkdir -p "$EXPORTS"
trap 'rm -rf "$WORK" "$KEYS" "$SHM_HOME" "$EXPORTS"' EXIT
HEAD_PER_ROUND="${HEAD_PER_ROUND:-20}"
# Two sets, each with the floor and bwrap: the home (CORDON_HOME), the receipt and the journal on
# disk, then all three on tmpfs. Each round runs one hyperfine invocation per set, with the
# home in the environment hyperfine passes on, so no variant pays a wrapper's exec.
# The variants run in a new random order every round: hyperfine runs them in the order given, and
# on disk a variant's syncs depend on what the one before it left to write back (a fixed order
# gave one build 0.3-0.5 ms more than the same build in random order).
head_set() {
  local where="$1" dir="$2" tag="$3"
  local names=(
    "floor: static C posix_spawn+wait ($FLOOR_KIND)"
    "bwrap (issue 18 flags)"
    "cordon run hardened signed, $where"
    "cordon run hardened signed journaled, $where"
  )
  local commands=(
    "$WORK/spawn_floor_c"
    "$ISSUE_BWRAP"
    "$BIN/cordon $RUN_ARGS --receipt $dir/head.json"
    "$BIN/cordon $RUN_ARGS --receipt $dir/head-j.json --journal $dir/journal"
  )
  if [[ -n "${BEFORE:-}" ]]; then
    local old
    IFS=: read -ra olds <<<"$BEFORE"
    for old in "${olds[@]}"; do
      names+=("BEFORE $(basename "$old"): cordon run hardened signed, $where")
      commands+=("$(fresh_copy "$old")/cordon $RUN_ARGS --receipt $dir/head-old-$(basename "$old").json")
    done
  fi
  head_args=()
  local i
  for i in $(shuf -i 0-$((${#names[@]} - 1))); do
    head_args+=(-n "${names[$i]}" "${commands[$i]}")
  done
  mkdir -p "$dir/home"
  CORDON_HOME="$dir/home" hyperfine -N -i --warmup 5 --runs "$HEAD_PER_ROUND" \
    --export-json "$EXPORTS/head-$tag.json" "${head_args[@]}" >/dev/null 2>&1
}
echo "head-to-head (issue 18): $HEAD_ROUNDS rounds x $HEAD_PER_ROUND runs per variant, interleaved by round"
uptime
for round in $(seq "$HEAD_ROUNDS"); do
  head_set "home on disk" "$WORK" "disk-$round"
  if [[ -n "$SHM_HOME" ]]; then head_set "home on tmpfs" "$SHM_HOME" "tmpfs-$round"; fi
done
uptime
python3 - "$EXPORTS" "$HEAD_ROUNDS" <<'PY'
import glob, json, statistics, sys
work, rounds = sys.argv[1], int(sys.argv[2])
for tag in ("disk", "tmpfs"):
    files = [f"{work}/head-{tag}-{r}.json" for r in range(1, rounds + 1)]
    files = [f for f in files if glob.glob(f)]
    if not files:
        continue
    times = {}
    for f in files:
        for res in json.load(open(f))["results"]:
            times.setdefault(res["command"], []).extend(res["times"])
    # Printed in a fixed order (floor, bwrap, this build, then the rest by name), whatever order
    # the rounds ran them in.
    first = lambda prefix: next(n for n in times if n.startswith(prefix))
    order = [first("floor:"), first("bwrap"), first("cordon run hardened signed, ")]
    order += sorted(n for n in times if n not in order)
    med = {n: statistics.median(t) * 1e3 for n, t in times.items()}
    floor, bwrap = med[order[0]], med[order[1]]
    print(f"\n{'variant':52} {'runs':>5} {'min ms':>7} {'median ms':>10} {'/ bwrap':>8} {'- floor ms':>11}")
    for n in order:
        t = times[n]
        print(f"{n:52} {len(t):5} {min(t)*1e3:7.2f} {med[n]:10.2f} {med[n]/bwrap:8.2f} {med[n]-floor:+11.2f}")
    n = order[2]
    ok = med[n] / bwrap <= 0.6 and med[n] - floor <= 1.5
    print(f"{n}: cordon/bwrap {med[n]/bwrap:.2f} (target <= 0.6), cordon - floor {med[n]-floor:+.2f} ms "
          f"(target <= +1.5): {'met' if ok else 'not met'}")
PY
if [[ "${HEAD_ONLY:-0}" == 1 ]]; then exit 0; fi

# Floors: a Rust hello world (any Rust supervisor pays at least this), cordon's own start-up
# (a 20+ MiB binary: loading and relocation), and what a network namespace alone costs.
printf 'fn main() { println!("hello"); }\n' >"$WORK/hello.rs"
rustc -O -o "$WORK/hello" "$WORK/hello.rs"
# The floor of any supervisor that is a process of its own: a Rust program that starts /bin/true
# and waits for it, with no confinement at all. Everything cordon adds is above this line.
cat >"$WORK/spawn_floor.rs" <<'RS'
fn main() {
    let status = std::process::Command::new("/bin/true").status().expect("spawn /bin/true");
    std::process::exit(status.code().unwrap_or(1));
}
RS
rustc -O -o "$WORK/spawn_floor" "$WORK/spawn_floor.rs"

BWRAP="bwrap --unshare-user --unshare-pid --unshare-net --die-with-parent --new-session --ro-bind / / --dev /dev --proc /proc /bin/true"
cmds=(
  "/bin/true"
  "$WORK/hello"
  "$WORK/spawn_floor"
  "$BIN/cordon --version"
  "unshare -n /bin/true"
  "$BIN/cordon-sandbox-run -- /bin/true"
  "$BIN/cordon-sandbox-run --hardened -- /bin/true"
  "$BIN/cordon-sandbox-run --hardened --net allow -- /bin/true"
  "$BIN/cordon run $WORK/contract.json $WORK/policy.json --mode local --receipt $WORK/local.json"
  "$BIN/cordon run $WORK/contract.json $WORK/policy.json --mode hardened $SIGN --receipt $WORK/hardened.json"
  "$BIN/cordon run $WORK/contract.json $WORK/policy.json --mode hardened $SIGN --receipt $WORK/journaled.json --journal $WORK/journal"
  "$BWRAP"
)
names=(
  "bare /bin/true"
  "Rust hello world (floor)"
  "Rust spawn+wait of /bin/true (supervisor floor)"
  "cordon --version (start-up floor)"
  "unshare -n /bin/true (netns alone)"
  "supervisor, local"
  "supervisor, hardened (netns)"
  "supervisor, hardened, network allowed (no netns)"
  "cordon run --mode local (+gate, receipt)"
  "cordon run --mode hardened, signed receipt"
  "cordon run --mode hardened, signed, journaled"
  "bwrap user+pid+net ns"
)
if [[ -n "${BEFORE:-}" ]]; then
  OLD="$(fresh_copy "${BEFORE%%:*}")"
  cmds+=(
    "$OLD/cordon-sandbox-run -- /bin/true"
    "$OLD/cordon-sandbox-run --hardened -- /bin/true"
    "$OLD/cordon run $WORK/contract.json $WORK/policy.json --mode hardened $SIGN --receipt $WORK/old-hardened.json"
  )
  names+=(
    "BEFORE: supervisor, local"
    "BEFORE: supervisor, hardened (netns)"
    "BEFORE: cordon run --mode hardened, signed receipt"
  )
fi
if [[ -n "${CSC:-}" && -x "${CSC}" ]]; then
  # The csc-runner 0.5.2 wheel ships without its schemas (csc-protocol.md §0.3): add them.
  SITE="$("$(dirname "$CSC")/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  [[ -d "$SITE/schemas" ]] || cp -r "$ROOT/crates/cordon-core/schemas" "$SITE/schemas"
  # csc hardened mode requires signing, and refuses to run unless the only interface is `lo`, so
  # it is measured inside `unshare -n` (whose own cost is in the "unshare -n /bin/true" row).
  "$(dirname "$CSC")/python" - "$WORK/key.pem" <<'PY'
import sys
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
pem = Ed25519PrivateKey.generate().private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
open(sys.argv[1], "wb").write(pem)
PY
  CSC_HARDENED="unshare -n $CSC run $WORK/contract.json $WORK/policy.json --mode hardened --sign --signing-key $WORK/key.pem --key-id bench --receipt-out $WORK/csc-h.json"
  $CSC_HARDENED >/dev/null || { echo "csc hardened run failed:"; $CSC_HARDENED; exit 1; }
  cmds+=("$CSC run $WORK/contract.json $WORK/policy.json --mode local --receipt-out $WORK/csc.json" "$CSC_HARDENED")
  names+=("csc run --mode local" "unshare -n csc run --mode hardened --sign")
fi

args=()
for i in "${!cmds[@]}"; do args+=(-n "${names[$i]}" "${cmds[$i]}"); done
uptime
hyperfine -N -i --warmup 30 --runs "$RUNS" --export-json "$WORK/hyperfine.json" "${args[@]}" >/dev/null

report() {
  python3 - "$1" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
base = results[0]["median"]
print(f"{'variant':52} {'min ms':>8} {'median ms':>10} {'over bare':>10} {'ratio':>6}")
for r in results:
    print(f"{r['command']:52} {r['min']*1e3:8.2f} {r['median']*1e3:10.2f} {(r['median']-base)*1e3:+10.2f} {r['median']/base:6.2f}")
PY
}
report "$WORK/hyperfine.json"

SPACED_RUNS="${SPACED_RUNS:-40}"
if [[ "$SPACED_RUNS" -gt 0 ]]; then
  # A few variants again, interleaved: every round runs each once in a random order, so an older
  # build (BEFORE) and this one share the machine's state, which drifts on a shared VM. Once
  # back to back, once with the machine idle for 50 ms before each run, as an agent calls cordon.
  spaced=()
  for i in "${!names[@]}"; do
    case "${names[$i]}" in
      "bare /bin/true"|"Rust spawn+wait of /bin/true (supervisor floor)"|"supervisor, local"|"supervisor, hardened (netns)"|"cordon run --mode hardened, signed receipt"|BEFORE:*)
        spaced+=("${names[$i]}" "${cmds[$i]}") ;;
    esac
  done
  python3 - "$SPACED_RUNS" "${spaced[@]}" <<'PY'
import random, shlex, statistics, subprocess, sys, time
rounds = int(sys.argv[1])
pairs = list(zip(sys.argv[2::2], sys.argv[3::2]))
for idle in (0.0, 0.05):
    times = {name: [] for name, _ in pairs}
    for _ in range(rounds):
        order = pairs[:]
        random.shuffle(order)
        for name, cmd in order:
            if idle:
                time.sleep(idle)
            start = time.perf_counter()
            subprocess.run(shlex.split(cmd), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            times[name].append((time.perf_counter() - start) * 1e3)
    print()
    print(f"interleaved, {rounds} rounds, {'%d ms idle before each run' % (idle * 1000) if idle else 'back to back'}"
          " (timed from Python: about 0.1 ms more than hyperfine)")
    base = statistics.median(times[pairs[0][0]])
    print(f"{'variant':52} {'min ms':>8} {'median ms':>10} {'over bare':>10}")
    for name, _ in pairs:
        t = times[name]
        print(f"{name:52} {min(t):8.2f} {statistics.median(t):10.2f} {statistics.median(t) - base:+10.2f}")
PY
fi
