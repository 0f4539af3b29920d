#!/usr/bin/env bash
# What covering the host's Unix sockets costs a hardened, signed `cordon run` of /bin/true
# (docs/sandbox.md, "The host's Unix sockets"): a build from before it, which covers none, against
# this one, interleaved in random order (bench/interleave.py). First with the host's sockets as
# they are, then with N more listening sockets that a helper binds in a temporary directory, so the
# difference between the two passes is what N mounts in the command's namespace cost.
#
#   BEFORE=target/bench/s8head bench/host-sockets.sh [N] [ROUNDS] [PER]     (defaults 100 10 20)
#
# BEFORE is a directory holding an older `cordon`. Both builds are timed from fresh copies (a
# binary the linker has just written starts slower: bench/run-overhead.sh).
set -euo pipefail

N="${1:-100}"
ROUNDS="${2:-10}"
PER="${3:-20}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
BEFORE="${BEFORE:-$ROOT/target/bench/s8head}"
if [[ ! -x "$BEFORE/cordon" ]]; then
  echo "bench/host-sockets.sh: no cordon in $BEFORE; set BEFORE to a directory holding an older build" >&2
  exit 64
fi
cargo build --release -q -p cordon --bin cordon

mkdir -p "$ROOT/target/bench"
WORK="$(mktemp -d "$ROOT/target/bench/host-sockets.XXXXXX")"
SOCKETS="$(mktemp -d /tmp/cordon-bench-sockets.XXXXXX)"
HOLDER=""
trap '[[ -n "$HOLDER" ]] && kill "$HOLDER" 2>/dev/null; rm -rf "$WORK" "$SOCKETS"' EXIT
mkdir -p "$WORK/before" "$WORK/head" "$WORK/ws" "$WORK/keys"
cp "$BEFORE/cordon" "$WORK/before/"
cp "$ROOT/target/release/cordon" "$WORK/head/"

cat >"$WORK/contract.json" <<JSON
{"version":"csc.v0.1","contract_id":"bench_true","intent":"bench","actor":{"agent_id":"a","session_id":"s","initiating_user":"u","delegation_scope":"d"},
 "commands":[{"id":"cmd_1","exec":{"argv":["/bin/true"]},"cwd":"$WORK/ws","read_paths":["$WORK/ws/**"],"write_paths":[],"network":"deny",
 "env_allow":[],"secret_refs":[],"timeout_sec":10,"proposed_effect_type":"observe"}],
 "risk_class":"low","approval_mode":"policy_only","expected_outputs":[],"justification":"bench"}
JSON
cat >"$WORK/policy.json" <<JSON
{"policy_schema_version":"csc.policy.v0.1","name":"bench","allow_commands":["/bin/true"],"allowed_effect_types":["observe"],
 "allowed_risk_classes":["low"],"max_timeout_sec":30,"network":"deny","allow_secret_refs":false,"require_write_paths_empty":true,
 "allowed_cwd_prefixes":["$WORK/ws"],"allowed_read_prefixes":["$WORK/ws"],"allowed_write_prefixes":[]}
JSON
"$WORK/head/cordon" keygen --out-dir "$WORK/keys" --key-id bench >/dev/null

spec() { # spec RECEIPT-TAG: the interleave spec of both builds
  python3 - "$WORK" "$1" <<'PY'
import json, sys
work, tag = sys.argv[1], sys.argv[2]
def variant(build):
    return {"name": build, "argv": [f"{work}/{build}/cordon", "run", f"{work}/contract.json",
            f"{work}/policy.json", "--mode", "hardened", "--signing-key", f"{work}/keys/bench.pem",
            "--key-id", "bench", "--receipt", f"{work}/{build}-{tag}.json"]}
print(json.dumps([variant("before"), variant("head")]))
PY
}

covered() { # covered RECEIPT: how many host sockets the head build covered
  python3 -c "import json,sys; r=json.load(open(sys.argv[1])); \
print(len(r['x-cordon']['sandbox']['commands'][0]['enforcement']['envelope'].get('unix_sockets_closed', [])))" "$1"
}

listed="$(awk 'NR > 1 && $8 ~ /^\// {print $8}' /proc/net/unix | sort -u | wc -l)"
echo "== the host's sockets as they are ($listed pathname sockets listed)"
spec plain >"$WORK/plain.json"
python3 bench/interleave.py "$ROUNDS" "$PER" "$WORK/plain.json"
echo "head covered $(covered "$WORK/head-plain.json") sockets"

python3 - "$SOCKETS" "$N" <<'PY' &
import os, signal, socket, sys, time
held = []
for i in range(int(sys.argv[2])):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(os.path.join(sys.argv[1], f"s{i}.sock"))
    s.listen(1)
    held.append(s)
open(os.path.join(sys.argv[1], "ready"), "w").close()
signal.pause()
PY
HOLDER=$!
for _ in $(seq 100); do [[ -e "$SOCKETS/ready" ]] && break; sleep 0.05; done
[[ -e "$SOCKETS/ready" ]] || { echo "bench/host-sockets.sh: the socket holder did not start" >&2; exit 1; }

echo "== with $N more listening sockets"
spec many >"$WORK/many.json"
python3 bench/interleave.py "$ROUNDS" "$PER" "$WORK/many.json"
echo "head covered $(covered "$WORK/head-many.json") sockets"
