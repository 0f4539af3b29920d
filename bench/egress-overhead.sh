#!/usr/bin/env bash
# What a one-host egress allowlist costs a hardened run: `cordon-sandbox-run --hardened` of
# /bin/true with no network, against the same with `--allow-host registry.npmjs.org` (a network
# namespace made by the egress helper, the proxy thread started and stopped, Landlock's TCP rule,
# the proxy variables), and the network allowed as a third reference. Interleaved: every round
# runs each variant once in a random order, so the variants share the machine's drifting state.
# Once back to back, once with 50 ms of idle before each run, as an agent calls cordon.
#
#   bench/egress-overhead.sh [ROUNDS]     (default 300; needs python3, cargo)
set -euo pipefail

ROUNDS="${1:-300}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
cargo build --release -q -p cordon-sandbox --bin cordon-sandbox-run
RUN="$ROOT/target/release/cordon-sandbox-run"

# Sanity: both variants succeed, and the proxied one really is proxied.
"$RUN" --hardened -- /bin/true
"$RUN" --hardened --allow-host registry.npmjs.org --report -- /bin/true 2>&1 |
  python3 -c 'import json,sys; t=sys.stdin.read(); r=json.loads(t[t.index("{"):]); n=r["enforcement"]["network"]; assert n["policy"]=="proxied" and "netns" in n["methods"], n'

variants=(
  "hardened, no network" "$RUN --hardened -- /bin/true"
  "hardened, one-host allowlist" "$RUN --hardened --allow-host registry.npmjs.org -- /bin/true"
  "hardened, network allowed" "$RUN --hardened --net allow -- /bin/true"
)
# Unprivileged (root dropping to nobody): the namespace comes from a forked helper that also makes
# a user namespace, instead of the calling thread.
if [[ "$(id -u)" == 0 ]] && command -v setpriv >/dev/null; then
  NOBODY="setpriv --reuid=65534 --regid=65534 --clear-groups --"
  variants+=(
    "nobody: hardened, no network" "$NOBODY $RUN --hardened -- /bin/true"
    "nobody: hardened, one-host allowlist" "$NOBODY $RUN --hardened --allow-host registry.npmjs.org -- /bin/true"
  )
fi

uptime
python3 - "$ROUNDS" "${variants[@]}" <<'PY'
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
    print(f"{'variant':40} {'min ms':>8} {'median ms':>10} {'vs no network':>14}")
    for name, _ in pairs:
        t = times[name]
        print(f"{name:40} {min(t):8.2f} {statistics.median(t):10.2f} {statistics.median(t) - base:+14.2f}")
PY
