#!/usr/bin/env python3
"""Summarises an Autobahn (kosoku) report and judges it.

Usage: autobahn_summary.py INDEX_JSON LABEL
Prints the counts per behavior and every case that is not OK, and exits 1 if any case is
FAILED, NON-STRICT or UNIMPLEMENTED (INFORMATIONAL cases only record behaviour the RFC leaves
open). kosoku's exit code is not enough on its own: the report's index.json is the verdict.
"""
import collections
import json
import sys

path, label = sys.argv[1], sys.argv[2]
with open(path) as index:
    report = json.load(index)
failing = []
for agent, cases in report.items():
    behaviors = collections.Counter(case["behavior"] for case in cases.values())
    closes = collections.Counter(case["behaviorClose"] for case in cases.values())
    print(f"{label} ({agent}): {len(cases)} cases; behavior {dict(sorted(behaviors.items()))}; "
          f"close {dict(sorted(closes.items()))}")
    for case_id, case in sorted(cases.items()):
        if case["behavior"] != "OK" or case["behaviorClose"] not in ("OK", "INFORMATIONAL"):
            print(f"  {case_id}: behavior={case['behavior']} close={case['behaviorClose']}")
            if case["behavior"] in ("FAILED", "NON-STRICT", "UNIMPLEMENTED") or case["behaviorClose"] in (
                "FAILED", "NON-STRICT", "UNIMPLEMENTED"):
                failing.append(case_id)
if not report:
    print(f"{label}: the report is empty")
    sys.exit(1)
if failing:
    print(f"{label}: {len(failing)} cases not passing: {', '.join(failing)}")
    sys.exit(1)
