#!/usr/bin/env bash
# Per-run cost of the envelope against confinement by the paths a text names, in process
# (`cordon-sandbox-run --repeat N`, the mean wall time of N runs), variants interleaved round by
# round; prints the median and minimum over rounds of each variant's mean.
#
#   bench/envelope-overhead.sh            full runs of /bin/true
#   PREP=1 bench/envelope-overhead.sh     preparation only (an empty plan: no process started)
#   ROUNDS=9 N=100 bench/envelope-overhead.sh
#
# Variants: A path grants of the workspace (what `cordon run` does today for a trivial command);
# B the default pack's envelope of this machine's home for that workspace (its never and read-only
# paths), without the stand-in of ~/.npmrc; C the same with ~/.npmrc closed (a stand-in mounted,
# so a mount namespace); D a home-like workspace with 48 entries and holes beneath it (granted
# around); E-G as A-C in a workspace holding a `.git` (which has a mount namespace already).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --release -p cordon-sandbox --bin cordon-sandbox-run
BIN=target/release/cordon-sandbox-run
N=${N:-100}
ROUNDS=${ROUNDS:-9}
H=$HOME
WS=$(mktemp -d); FAKE=$(mktemp -d); GWS=$(mktemp -d)
trap 'rm -rf "$WS" "$FAKE" "$GWS"' EXIT
mkdir -p "$GWS/.git/hooks" "$GWS/.git/objects"; echo "[core]" > "$GWS/.git/config"
mkdir -p "$FAKE/project" "$FAKE/.ssh" "$FAKE/.config/cordon"
for i in $(seq 1 48); do mkdir -p "$FAKE/dir$i"; done
never=(); for p in .ssh .aws .gnupg .azure .kube .config/gcloud .config/gh .docker/config.json \
    .password-store .netrc .pypirc .git-credentials .cargo/credentials.toml .cargo/credentials \
    .yarnrc.yml .config/cordon; do never+=(--never "$H/$p"); done
ro=(); for p in .bashrc .bash_profile .bash_login .profile .zshrc .zshenv .zprofile .config/fish \
    .gitconfig .config/git .config/autostart; do ro+=(--read-only "$H/$p"); done
declare -A cmd
cmd[A_path_grants]="--hardened --read $WS --write $WS"
cmd[B_envelope]="--hardened --workspace $WS --home $H ${never[*]} ${ro[*]}"
cmd[C_envelope_standin]="${cmd[B_envelope]} --never $H/.npmrc"
cmd[D_home_workspace_carved]="--hardened --workspace $FAKE --home $FAKE --never $FAKE/.ssh --never $FAKE/.config/cordon --read-only $FAKE/.bashrc"
cmd[E_git_path_grants]="--hardened --read $GWS --write $GWS"
cmd[F_git_envelope]="--hardened --workspace $GWS --home $H ${never[*]} ${ro[*]}"
cmd[G_git_envelope_standin]="${cmd[F_git_envelope]} --never $H/.npmrc"
payload=(/bin/true); [ "${PREP:-0}" = 1 ] && payload=()
out=$(mktemp)
for _ in $(seq 1 "$ROUNDS"); do
  for k in A_path_grants B_envelope C_envelope_standin D_home_workspace_carved \
      E_git_path_grants F_git_envelope G_git_envelope_standin; do
    # shellcheck disable=SC2086
    t=$($BIN ${cmd[$k]} --repeat "$N" -- "${payload[@]}" 2>&1 >/dev/null | sed -n 's/mean per run: //p')
    echo "$k $t" >> "$out"
  done
done
python3 - "$out" <<'PY'
import re, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    name, value = line.split()
    number, unit = re.match(r"([\d.]+)(\D+)", value).groups()
    runs.setdefault(name, []).append(float(number) * {"ms": 1, "µs": 1e-3, "s": 1e3}[unit])
for name, values in sorted(runs.items()):
    print(f"{name:26} median {statistics.median(values):7.2f} ms   min {min(values):7.2f} ms   rounds {len(values)}")
PY
rm -f "$out"
uptime
