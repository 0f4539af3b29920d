#!/usr/bin/env bash
# Sets up the agent-evidence-vectors 0.27.0 harness (PyPI) in bench/.venv-acta, idempotently.
#
#   bench/acta-venv.sh       → bench/.venv-acta/bin/agent-evidence-vectors
#
# Used by `cargo test -p cordon --test acta_harness`, which grades `cordon verify-acta` against the
# package's receipt-signature corpus with the package's own harness (it prints SKIP when the venv is
# missing). Set CORDON_AEV to use another agent-evidence-vectors binary.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=bench/.venv-acta
if ! "$venv/bin/python" -c 'import importlib.metadata as m, sys; sys.exit(m.version("agent-evidence-vectors") != "0.27.0")' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q agent-evidence-vectors==0.27.0
fi
"$venv/bin/agent-evidence-vectors" --help >/dev/null
echo "$venv/bin/agent-evidence-vectors"
