#!/usr/bin/env bash
# Whole-process comparison: `cordon check` against csc-runner 0.5.2's `csc check`, same files, one run.
#
#   bench/check-vs-csc.sh [RUNS]
#
# Installs csc-runner==0.5.2 from PyPI into bench/.venv (its wheel lacks schemas/, which are copied
# in, see reference csc-protocol.md §0), builds cordon in release mode, and times both with
# hyperfine (-N: no shell; warm-up runs first). Prints medians, the ratio, and cordon's peak RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-200}

command -v hyperfine >/dev/null || { apt-get update -qq && apt-get install -y -qq hyperfine; }

venv=bench/.venv
bash bench/csc-venv.sh >/dev/null

cargo build --release -q -p cordon
cordon=target/release/cordon
contract=testdata/csc/examples/contracts/git-status.json
policy=testdata/csc/examples/policies/dev-readonly.yaml
deny_contract=testdata/csc/examples/contracts/curl-denied.json

# Both must agree before they are timed.
"$cordon" check "$contract" "$policy" >/dev/null
"$venv/bin/csc" check "$contract" "$policy" >/dev/null

out=$(mktemp -d)
hyperfine -N --warmup 50 --runs "$runs" --export-json "$out/cordon.json" \
  -n "cordon check (allow)" "$cordon check $contract $policy" \
  -n "cordon check --json (allow)" "$cordon check --json $contract $policy" \
  -n "cordon check (deny)" "$cordon check $deny_contract $policy" \
  -n "/bin/true (spawn baseline)" "/bin/true" \
  -i >/dev/null
csc_runs=$(( runs / 10 > 20 ? runs / 10 : 20 ))
hyperfine -N --warmup 3 --runs "$csc_runs" --export-json "$out/csc.json" \
  -n "csc check (allow)" "$venv/bin/csc check $contract $policy" \
  -i >/dev/null

rss_kib=$( (/usr/bin/time -f '%M' "$cordon" check "$contract" "$policy" >/dev/null) 2>&1 | tail -n1 || echo "?")

python3 - "$out/cordon.json" "$out/csc.json" "$rss_kib" <<'PY'
import json, statistics, sys
rows = json.load(open(sys.argv[1]))["results"] + json.load(open(sys.argv[2]))["results"]
med = {r["command"]: statistics.median(r["times"]) * 1000 for r in rows}
mins = {r["command"]: min(r["times"]) * 1000 for r in rows}
print(f"{'command':32} {'median ms':>10} {'min ms':>8} {'runs':>5}")
for r in rows:
    print(f"{r['command']:32} {med[r['command']]:10.3f} {mins[r['command']]:8.3f} {len(r['times']):5}")
c, p = med["cordon check (allow)"], med["csc check (allow)"]
print(f"\ncsc check / cordon check (medians): {p / c:.0f}x")
print(f"cordon check peak RSS: {sys.argv[3]} KiB")
PY
rm -rf "$out"
