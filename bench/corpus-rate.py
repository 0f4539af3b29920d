#!/usr/bin/env python3
"""Share of the labelled corpus's `unattended` lines that stop for a person, through the cordon
binary's own `explain --json` (the analysis `cordon exec`, the hooks and MCP use), in hardened and
in local mode.

    python3 bench/corpus-rate.py [CORDON] [CORPUS]

CORDON defaults to target/release/cordon, CORPUS to the policy crate's agent-corpus.yaml. Run it
from a scratch directory with a scratch HOME: `explain` creates the config home on first use.
Needs PyYAML.
"""
import collections
import json
import pathlib
import subprocess
import sys

import yaml

root = pathlib.Path(__file__).resolve().parent.parent
binary = sys.argv[1] if len(sys.argv) > 1 else str(root / "target/release/cordon")
corpus = sys.argv[2] if len(sys.argv) > 2 else str(root / "crates/cordon-policy/tests/data/agent-corpus.yaml")
cases = [c for c in yaml.safe_load(open(corpus))["cases"] if c["label"] == "unattended"]
for mode in ("hardened", "local"):
    stopped = collections.Counter()
    for case in cases:
        out = subprocess.run([binary, "explain", "--json", "--mode", mode, "--shell", case["shell"]],
                             capture_output=True, text=True)
        try:
            outcome = json.loads(out.stdout)["decision"]["outcome"]
        except (ValueError, KeyError):
            outcome = "error"
        if outcome not in ("allow", "allow_with_checkpoint"):
            stopped[outcome] += 1
            print(f"  {mode}: {outcome}: {case['shell']}")
    total = sum(stopped.values())
    print(f"{mode}: {total} of {len(cases)} unattended lines stop ({100 * total / len(cases):.1f}%)")
