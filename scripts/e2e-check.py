#!/usr/bin/env python3
"""Fails when an end-to-end test did not really run (issue 21).

The end-to-end tests are the `e2e` test group of .config/nextest.toml. Each must appear in the
run's JUnit report, have passed, and have taken at least 10 ms: a test that returned early at its
first line finishes in well under that, and `cargo test` would have printed `ok` for it.

    scripts/e2e-check.py target/nextest/ci/junit.xml
"""
import json
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET

MIN_SECONDS = 0.010


def e2e_filter():
    with open(".config/nextest.toml", "rb") as f:
        config = tomllib.load(f)
    for override in config.get("profile", {}).get("default", {}).get("overrides", []):
        if override.get("test-group") == "e2e":
            return override["filter"]
    sys.exit("e2e-check: .config/nextest.toml has no override with test-group = 'e2e'")


def e2e_tests(filterset):
    listed = subprocess.run(
        ["cargo", "nextest", "list", "--workspace", "-E", filterset, "--message-format", "json"],
        check=True, capture_output=True, text=True,
    ).stdout
    tests = []
    for binary_id, suite in json.loads(listed)["rust-suites"].items():
        for name, case in suite["testcases"].items():
            if case["filter-match"]["status"] == "matches" and not case.get("ignored"):
                tests.append((binary_id, name))
    return tests


def junit_times(path):
    times = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        failed = any(child.tag in ("failure", "error", "skipped") for child in case)
        times[(case.get("classname"), case.get("name"))] = (float(case.get("time", "0")), failed)
    return times


def main():
    tests = e2e_tests(e2e_filter())
    if not tests:
        sys.exit("e2e-check: the e2e filter matches no test")
    times = junit_times(sys.argv[1])
    problems = []
    for binary_id, name in tests:
        seen = times.get((binary_id, name))
        if seen is None:
            problems.append(f"{binary_id} {name}: not in the run's report")
        elif seen[1]:
            problems.append(f"{binary_id} {name}: did not pass")
        elif seen[0] < MIN_SECONDS:
            problems.append(f"{binary_id} {name}: finished in {seen[0] * 1000:.1f} ms, so it did not really run")
    for binary_id, name in tests:
        if (binary_id, name) in times:
            print(f"e2e-check: {binary_id} {name}: {times[(binary_id, name)][0]:.2f} s")
    if problems:
        print("e2e-check: end-to-end tests that did not run for real:", file=sys.stderr)
        for p in problems:
            print(f"  {p}", file=sys.stderr)
        sys.exit(1)
    print(f"e2e-check: all {len(tests)} end-to-end tests ran (each took at least {MIN_SECONDS * 1000:.0f} ms)")


if __name__ == "__main__":
    main()
