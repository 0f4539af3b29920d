#!/usr/bin/env bash
# Whole-process cost of `cordon exec --shell 'true'` with the default policy, against a hardened
# `cordon run` of the same command (the issue's target: within 1.5 ms of it). Medians, and
# differences and ratios against the hardened `cordon run` baselines, are printed at the end.
#
#   bench/exec-overhead.sh [RUNS] [ROUNDS]   (needs: hyperfine, python3; cargo for the build)
#   BENCH_TMPFS=1 bench/exec-overhead.sh …     the homes, journals and workspace on /dev/shm
#
# On disk every journaled run waits for its syncs, and on a shared machine those waits depend
# on everyone else's writes more than on cordon; with BENCH_TMPFS=1 the syncs cost nothing, and
# what remains is the work each variant does (the same variants, the same number of syncs).
#
# Every variant signs; the journaled ones append a decision record, a receipt and a checkpoint per
# run (what `cordon exec` does by default with the config home). `exec` additionally parses the
# text with tree-sitter-bash, derives facts (reading the knowledge base's entry for `true`), loads
# the default pack (recognised byte for byte and read from JSON made at build time), compiles it,
# builds the glob sets the decision needs, synthesizes and validates two contracts, and decides.
#
# The `exec` variants run twice: in process (`CORDON_GATEWAY=off`) and through a `cordon serve`
# gateway on the same home (`CORDON_GATEWAY=require`: blocked unless the gateway answered, so the
# path is proven), which holds the policy compiled; exec still parses the text, signs, journals and
# runs the command itself. Every cordon variant, `run` included, goes through `env` (to set
# CORDON_GATEWAY), so all pay the same extra exec and the differences are cordon's own.
#
# The machine is shared and its load drifts (other builds' fsyncs reach these runs' journal
# syncs), so the variants run interleaved: ROUNDS rounds of RUNS/ROUNDS runs each, one hyperfine
# invocation per round over every variant, and each figure is the median of all its runs. The
# `like for like` line compares the two journaled hardened variants, exec minus run.
set -euo pipefail

RUNS="${1:-200}"
ROUNDS="${2:-10}"
PER_ROUND=$(( (RUNS + ROUNDS - 1) / ROUNDS ))
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
cargo build --release -q -p cordon --bin cordon
BIN="$ROOT/target/release/cordon"

# On disk, outside the repository: a workspace inside this checkout is a subdirectory of a git
# repository, whose whole work tree a hardened `exec` then reads and searches, with cordon's
# home (also under it) carved out of that read root; no user's workspace looks like that.
BASE="${BENCH_DISK_DIR:-/var/tmp/cordon-bench}"
if [ "${BENCH_TMPFS:-0}" = 1 ]; then BASE=/dev/shm/cordon-bench; fi
mkdir -p "$BASE"
WORK="$(mktemp -d "$BASE/exec-overhead.XXXXXX")"
SERVE_PID=""
cleanup() {
  if [ -n "$SERVE_PID" ]; then kill "$SERVE_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
WS="$WORK/ws"
mkdir -p "$WS"
export CORDON_HOME="$WORK/home"
unset CORDON_JOURNAL

# `cordon run`'s contract for the same command: `true` in the workspace, nothing written.
cat >"$WORK/contract.json" <<JSON
{"version":"csc.v0.1","contract_id":"bench_true","intent":"bench","actor":{"agent_id":"a","session_id":"s","initiating_user":"u","delegation_scope":"d"},
 "commands":[{"id":"c1","exec":{"argv":["true"]},"cwd":"$WS","read_paths":[],"write_paths":[],"network":"deny",
 "env_allow":[],"secret_refs":[],"timeout_sec":600,"proposed_effect_type":"observe"}],
 "risk_class":"low","approval_mode":"policy_only","expected_outputs":[],"justification":"bench"}
JSON
cat >"$WORK/policy.json" <<JSON
{"policy_schema_version":"csc.policy.v0.1","name":"bench","allow_commands":["true"],"allowed_effect_types":["observe"],
 "allowed_risk_classes":["low"],"max_timeout_sec":900,"network":"deny","allow_secret_refs":false,"require_write_paths_empty":true,
 "allowed_cwd_prefixes":["$WS"],"allowed_read_prefixes":["$WS"],"allowed_write_prefixes":[]}
JSON

# First use creates the home (default policy, key, journal); the run variants sign with its key.
(cd "$WS" && "$BIN" exec --shell 'true' 2>/dev/null)
PEM="$(ls "$CORDON_HOME"/keys/*.pem)"
SIGN="--signing-key $PEM --key-id $(basename "$PEM" .pem)"

# Sanity: every variant must succeed, and exec's receipt must say so, before anything is timed.
(cd "$WS" && "$BIN" exec --mode hardened --receipt "$WORK/exec.json" --shell 'true')
"$BIN" run "$WORK/contract.json" "$WORK/policy.json" --mode hardened $SIGN --receipt "$WORK/run.json"
python3 - "$WORK/exec.json" "$WORK/run.json" <<'PY'
import json, sys
for path in sys.argv[1:]:
    r = json.load(open(path))
    e = r["x-cordon"]["sandbox"]["commands"][0]["enforcement"]
    assert r["status"] == "success" and e["landlock"]["enforced"] and e["seccomp"]["enforced"], r
PY

"$BIN" serve --listen 127.0.0.1:0 >"$WORK/serve.log" 2>&1 &
SERVE_PID=$!
for _ in $(seq 50); do
  grep -q 'gateway on' "$WORK/serve.log" 2>/dev/null && break
  sleep 0.1
done
grep -q 'gateway on' "$WORK/serve.log"
(cd "$WS" && CORDON_GATEWAY=require "$BIN" exec --mode hardened --shell 'true')

cmds=(
  "/bin/true"
  "env CORDON_GATEWAY=off $BIN run $WORK/contract.json $WORK/policy.json --mode hardened $SIGN --receipt $WORK/r1.json"
  "env CORDON_GATEWAY=off $BIN run $WORK/contract.json $WORK/policy.json --mode hardened $SIGN --receipt $WORK/r2.json --journal $WORK/run-journal"
  "env CORDON_GATEWAY=off $BIN exec --shell true"
  "env CORDON_GATEWAY=off $BIN exec --mode hardened --shell true"
  "env CORDON_GATEWAY=off $BIN exec --mode hardened --receipt $WORK/r3.json --journal $WORK/exec-journal --shell true"
  "env CORDON_GATEWAY=require $BIN exec --shell true"
  "env CORDON_GATEWAY=require $BIN exec --mode hardened --shell true"
)
names=(
  "bare /bin/true"
  "cordon run --mode hardened, signed receipt"
  "cordon run --mode hardened, signed, journaled"
  "cordon exec --shell true (default: local, journaled)"
  "cordon exec --mode hardened --shell true (journaled)"
  "cordon exec --mode hardened, own journal, receipt file"
  "cordon exec --shell true, via gateway"
  "cordon exec --mode hardened --shell true, via gateway"
)

args=()
for i in "${!cmds[@]}"; do args+=(-n "${names[$i]}" "${cmds[$i]}"); done
uptime
for round in $(seq "$ROUNDS"); do
  (cd "$WS" && hyperfine -N -i --warmup 5 --runs "$PER_ROUND" --export-json "$WORK/round-$round.json" "${args[@]}" >/dev/null 2>&1)
done
uptime

python3 - "$WORK" "$ROUNDS" <<'PY'
import json, statistics, sys
work, rounds = sys.argv[1], int(sys.argv[2])
times, order = {}, []
for r in range(1, rounds + 1):
    for res in json.load(open(f"{work}/round-{r}.json"))["results"]:
        if res["command"] not in times:
            order.append(res["command"])
        times.setdefault(res["command"], []).extend(res["times"])
med = {name: statistics.median(t) for name, t in times.items()}
base = med[order[1]]
print(f"{'variant':56} {'runs':>5} {'min ms':>7} {'median ms':>10} {'vs run hardened':>16} {'ratio':>6}")
for name in order:
    t = times[name]
    print(f"{name:56} {len(t):5} {min(t)*1e3:7.2f} {med[name]*1e3:10.2f} {(med[name]-base)*1e3:+16.2f} {med[name]/base:6.2f}")
run_j, exec_j, gw_j = med[order[2]], med[order[4]], med[order[7]]
print(f"like for like (hardened, signed, journaled), exec minus run: in process {(exec_j-run_j)*1e3:+.2f} ms, via gateway {(gw_j-run_j)*1e3:+.2f} ms")
PY
