#!/usr/bin/env bash
# Whole-process cost of `cordon exec --shell 'true'` with the default policy, against a hardened
# `cordon run` of the same command (the issue's target: within 1.5 ms of it). One hyperfine
# invocation, so every variant shares the same machine state; medians, and differences and ratios
# against the hardened `cordon run` baseline, are printed at the end.
#
#   bench/exec-overhead.sh [RUNS]        (needs: hyperfine, python3; cargo for the build)
#
# Every variant signs; the journaled ones append a decision record, a receipt and a checkpoint per
# run (what `cordon exec` does by default with the config home). `exec` additionally parses the
# text with tree-sitter-bash, derives facts, loads and compiles the default pack (about 15 rules of
# globs), synthesizes and validates two contracts, and decides with the native rules.
#
# The `exec` variants run twice: in process (`CORDON_GATEWAY=off`) and through a `cordon serve`
# gateway on the same home (`CORDON_GATEWAY=require`: blocked unless the gateway answered, so the
# path is proven), which holds the policy compiled; exec still parses the text, signs, journals and
# runs the command itself. Both go through `env` so they pay the same extra exec.
set -euo pipefail

RUNS="${1:-200}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
cargo build --release -q -p cordon --bin cordon
BIN="$ROOT/target/release/cordon"

mkdir -p "$ROOT/target/bench"
WORK="$(mktemp -d "$ROOT/target/bench/exec-overhead.XXXXXX")"
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
  "$BIN run $WORK/contract.json $WORK/policy.json --mode hardened $SIGN --receipt $WORK/r1.json"
  "$BIN run $WORK/contract.json $WORK/policy.json --mode hardened $SIGN --receipt $WORK/r2.json --journal $WORK/run-journal"
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
(cd "$WS" && hyperfine -N -i --warmup 20 --runs "$RUNS" --export-json "$WORK/hyperfine.json" "${args[@]}" >/dev/null)

python3 - "$WORK/hyperfine.json" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
base = results[1]["median"]
print(f"{'variant':56} {'min ms':>8} {'median ms':>10} {'vs run hardened':>16} {'ratio':>6}")
for r in results:
    print(f"{r['command']:56} {r['min']*1e3:8.2f} {r['median']*1e3:10.2f} {(r['median']-base)*1e3:+16.2f} {r['median']/base:6.2f}")
PY
