#!/usr/bin/env python3
"""Summarises nextest JUnit reports (one per tier, given in order): time per test binary (slowest first), the slowest tests,
and passed / failed / skipped counts, ending in one line `summary: N passed, N failed, N skipped`.

A test counts as skipped when it passed but printed `sandbench-test: skipped: <why>` (a
prerequisite that cannot exist on this machine); the reason is listed.
"""
import sys
import xml.etree.ElementTree as ET

MARK = "sandbench-test: skipped:"


def main(paths: list) -> int:
    binaries, tests, skipped = {}, [], []
    passed = failed = 0
    suites = [s for p in paths for s in ET.parse(p).getroot().iter("testsuite")]
    for suite in suites:
        name = suite.get("name", "?")
        for case in suite.iter("testcase"):
            t = float(case.get("time", "0") or 0)
            b = binaries.setdefault(name, [0.0, 0])
            b[0] += t
            b[1] += 1
            tests.append((t, f"{name} {case.get('name')}"))
            if case.find("failure") is not None or case.find("error") is not None:
                failed += 1
                continue
            out = "".join((e.text or "") for e in case if e.tag in ("system-out", "system-err"))
            why = [l.split(MARK, 1)[1].strip() for l in out.splitlines() if MARK in l]
            if why:
                skipped.append(f"{name} {case.get('name')}: {why[0]}")
            else:
                passed += 1
    print("\ntime per test binary (slowest first):")
    print(f"  {'seconds':>8}  {'tests':>5}  binary")
    for name, (t, n) in sorted(binaries.items(), key=lambda kv: -kv[1][0]):
        print(f"  {t:8.1f}  {n:5d}  {name}")
    print("\nslowest tests:")
    for t, name in sorted(tests, reverse=True)[:8]:
        print(f"  {t:8.1f}  {name}")
    if skipped:
        print("\nskipped (a prerequisite this machine cannot have):")
        for s in skipped:
            print(f"  {s}")
    total = sum(t for t, _ in tests)
    print(f"\n{len(tests)} tests in {len(binaries)} binaries, {total:.0f} s of test time")
    print(f"summary: {passed} passed, {failed} failed, {len(skipped)} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
