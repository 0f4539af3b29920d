#!/usr/bin/env bash
# What a one-host egress allowlist costs a whole hardened `cordon run` (issue 17's target: at most
# 2 ms over the same run with no network): a CSC contract running /bin/true that declares
# `network: deny`, against the same contract declaring `network: allowlisted` under a profile whose
# `allowed_egress_hosts` is `registry.npmjs.org` (the governor maps it onto the proxy: a network
# namespace, the proxy thread started and stopped, Landlock's TCP rule, the proxy variables, the
# list in the decision record and the receipt). Nothing connects: this is the set-up cost.
#
# Interleaved: every round runs each variant once in a random order, so both share the machine's
# drifting state; once back to back, once with 50 ms of idle before each run, as an agent calls
# cordon. Both are signed with the same key and write a receipt; neither keeps a journal.
#
#   bench/egress-run-overhead.sh [ROUNDS]     (default 300; needs python3, cargo)
set -euo pipefail

ROUNDS="${1:-300}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
cargo build --release -q -p cordon --bin cordon
CORDON="$ROOT/target/release/cordon"

mkdir -p "$ROOT/target/bench"
WORK="$(mktemp -d "$ROOT/target/bench/egress-run.XXXXXX")"
KEYS="$(mktemp -d "$ROOT/target/bench/egress-run-keys.XXXXXX")"
trap 'rm -rf "$WORK" "$KEYS"' EXIT
export CORDON_HOME="$KEYS/home"
unset CORDON_JOURNAL CORDON_SESSION

contract() { # NETWORK
  cat <<JSON
{"version":"csc.v0.1","contract_id":"bench_egress_$1","intent":"bench","actor":{"agent_id":"a","session_id":"s","initiating_user":"u","delegation_scope":"d"},
 "commands":[{"id":"cmd_1","exec":{"argv":["/bin/true"]},"cwd":"$WORK","read_paths":["$WORK/**"],"write_paths":[],"network":"$1",
 "env_allow":[],"secret_refs":[],"timeout_sec":10,"proposed_effect_type":"observe"}],
 "risk_class":"low","approval_mode":"policy_only","expected_outputs":[],"justification":"bench"}
JSON
}
profile() { # NETWORK HOSTS
  cat <<JSON
{"policy_schema_version":"csc.policy.v0.1","name":"bench","allow_commands":["/bin/true"],"allowed_effect_types":["observe"],
 "allowed_risk_classes":["low"],"max_timeout_sec":30,"network":"$1","allow_secret_refs":false,"require_write_paths_empty":true,
 "allowed_cwd_prefixes":["$WORK"],"allowed_read_prefixes":["$WORK"],"allowed_write_prefixes":[],"allowed_egress_hosts":$2}
JSON
}
contract deny >"$WORK/deny.json"
profile deny '[]' >"$WORK/deny-profile.json"
contract allowlisted >"$WORK/listed.json"
profile allowlisted '["registry.npmjs.org"]' >"$WORK/listed-profile.json"

"$CORDON" keygen --out-dir "$KEYS" --key-id bench >/dev/null
SIGN="--signing-key $KEYS/bench.pem --key-id bench"
NO_NET="$CORDON run $WORK/deny.json $WORK/deny-profile.json --mode hardened $SIGN --receipt $WORK/deny-receipt.json"
LISTED="$CORDON run $WORK/listed.json $WORK/listed-profile.json --mode hardened $SIGN --receipt $WORK/listed-receipt.json"

# Sanity: both succeed, and the listed one really ran behind the proxy with the list in force.
$NO_NET >/dev/null
$LISTED >/dev/null
python3 - "$WORK/deny-receipt.json" "$WORK/listed-receipt.json" <<'PY'
import json, sys
deny, listed = (json.load(open(p)) for p in sys.argv[1:])
for r in (deny, listed):
    assert r["status"] == "success", r
net = lambda r: r["x-cordon"]["sandbox"]["commands"][0]["enforcement"]["network"]
assert net(deny)["policy"] == "deny", net(deny)
assert net(listed)["policy"] == "proxied" and "egress-proxy" in net(listed)["methods"], net(listed)
assert listed["x-cordon"]["egress"]["allowlist"] == ["registry.npmjs.org:443"], listed["x-cordon"]
PY

uptime
python3 - "$ROUNDS" "hardened cordon run, no network" "$NO_NET" \
  "hardened cordon run, one-host allowlist" "$LISTED" <<'PY'
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
            subprocess.run(shlex.split(cmd), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
            times[name].append((time.perf_counter() - start) * 1e3)
    label = f"{int(idle * 1000)} ms idle before each run" if idle else "back to back"
    print(f"\ninterleaved, {rounds} rounds, {label}")
    base = statistics.median(times[pairs[0][0]])
    base_min = min(times[pairs[0][0]])
    print(f"{'variant':40} {'min ms':>8} {'median ms':>10} {'vs no network':>14} {'(min)':>8}")
    for name, _ in pairs:
        t = times[name]
        print(f"{name:40} {min(t):8.2f} {statistics.median(t):10.2f} {statistics.median(t) - base:+14.2f} {min(t) - base_min:+8.2f}")
PY
uptime
