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
#                                       `cordon-sandbox-run` copied there (before/after, one run)
#   SPACED_RUNS=40 (default)            rounds of the interleaved passes; 0 skips them
set -euo pipefail

RUNS="${1:-300}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
cargo build --release -q -p cordon -p cordon-sandbox --bin cordon --bin cordon-sandbox-run
BIN="$ROOT/target/release"

# Outside /tmp: csc's bwrap launcher mounts a tmpfs over /tmp, which would hide the cwd.
mkdir -p "$ROOT/target/bench"
WORK="$(mktemp -d "$ROOT/target/bench/run-overhead.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
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
  OLD="$(cd "$BEFORE" && pwd)"
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
