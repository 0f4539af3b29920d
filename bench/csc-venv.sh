#!/usr/bin/env bash
# Sets up csc-runner 0.5.2 (CSC's reference runner, from PyPI) in bench/.venv, idempotently.
#
#   bench/csc-venv.sh        → bench/.venv/bin/csc
#
# The 0.5.2 wheel ships without its schemas/ directory, so they are copied into site-packages
# (reference csc-protocol.md §0). Used by bench/check-vs-csc.sh, bench/run-overhead.sh (CSC=…), and
# the interop test `cargo test -p cordon --test run_evidence_cli` (csc verify-receipt on cordon's
# receipts; it prints SKIP when the venv is missing). Set CORDON_CSC to use another csc binary.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=bench/.venv
if ! "$venv/bin/python" -c 'import importlib.metadata as m, sys; sys.exit(m.version("csc-runner") != "0.5.2")' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q csc-runner==0.5.2
fi
site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
mkdir -p "$site/schemas"
cp crates/cordon-core/schemas/csc.*.schema.json "$site/schemas/"
"$venv/bin/csc" --help >/dev/null
echo "$venv/bin/csc"
