#!/usr/bin/env python3
"""Whole-process medians of several commands, run in a new random order every round.

    python3 bench/interleave.py ROUNDS PER SPEC.json

SPEC is a JSON list of {"name": ..., "argv": [...], "env": {...}, "stdin": PATH}; "env" and
"stdin" are optional. Each round runs every variant PER times in a row, in an order shuffled per
round, each run a `posix_spawn` with stdout to /dev/null, timed from spawn to reap. A run that
exits non-zero stops the benchmark with the variant's name. Three warm-up runs per variant come
first. Hyperfine runs its variants in the order given; on disk a variant's syncs depend on what the
one before it left to write back, so a fixed order can favour one build (docs/benchmarks.md).
"""
import json
import os
import random
import statistics
import sys
import time

rounds, per = int(sys.argv[1]), int(sys.argv[2])
spec = json.load(open(sys.argv[3]))
base = dict(os.environ)
times = {v["name"]: [] for v in spec}


def run(v):
    env = dict(base)
    env.update(v.get("env", {}))
    actions = [(os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0)]
    if "stdin" in v:
        actions.append((os.POSIX_SPAWN_OPEN, 0, v["stdin"], os.O_RDONLY, 0))
    start = time.perf_counter()
    pid = os.posix_spawn(v["argv"][0], v["argv"], env, file_actions=actions)
    _, status = os.waitpid(pid, 0)
    took = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"{v['name']} failed with status {status}")
    return took


for v in spec:
    for _ in range(3):
        run(v)
for _ in range(rounds):
    order = spec[:]
    random.shuffle(order)
    for v in order:
        for _ in range(per):
            times[v["name"]].append(run(v))
for v in spec:
    t = times[v["name"]]
    print(f"{v['name']:50s} n={len(t)} median {statistics.median(t) * 1e3:.3f} ms  min {min(t) * 1e3:.3f}")
