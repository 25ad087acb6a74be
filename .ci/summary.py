"""Print CI's closing table from the suites' JUnit reports and exit statuses.

Usage: python .ci/summary.py REPORTS_DIR, where REPORTS_DIR holds
`status.txt` (lines `suite exit_status seconds`), `<suite>.xml` (pytest's
`--junitxml`) and, for a suite stopped by its time limit,
`<suite>.collected.txt` (`pytest --collect-only -q`), from which the tests it
never reached are listed.
"""

from __future__ import annotations

import pathlib
import sys
import xml.etree.ElementTree as ET


def outcomes(report: pathlib.Path) -> tuple[dict[str, int], set[str]]:
    """Counts of passed/failed/skipped/xfailed tests, and the ids of those that ran."""
    counts = dict.fromkeys(("passed", "failed", "skipped", "xfailed"), 0)
    ran = set()
    if not report.exists():
        return counts, ran
    for case in ET.parse(report).getroot().iter("testcase"):
        module = case.get("classname", "").replace(".", "/")
        ran.add(f"{module}.py::{case.get('name')}")
        kinds = {child.tag for child in case}
        skipped = case.find("skipped")
        if kinds & {"failure", "error"}:
            counts["failed"] += 1
        elif skipped is not None and "xfail" in (skipped.get("type", "") + skipped.get("message", "")):
            counts["xfailed"] += 1
        elif skipped is not None:
            counts["skipped"] += 1
        else:
            counts["passed"] += 1
    return counts, ran


def not_started(report: pathlib.Path) -> list[str]:
    """Tests that failed at setup because the suite's deadline had passed."""
    if not report.exists():
        return []
    return [
        f"{case.get('classname')}::{case.get('name')}"
        for case in ET.parse(report).getroot().iter("testcase")
        for problem in list(case.findall("error")) + list(case.findall("failure"))
        if "not reached" in (problem.get("message") or "")
    ]


def not_reached(collected: pathlib.Path, ran: set[str]) -> list[str]:
    """Collected test ids with no entry in the report."""
    ids = [line.strip() for line in collected.read_text().splitlines() if "::" in line]
    return [test for test in ids if test not in ran]


def main(folder: str) -> None:
    folder = pathlib.Path(folder)
    rows = []
    for line in (folder / "status.txt").read_text().split("\n"):
        if not line.strip():
            continue
        env, status, seconds = line.split()
        counts, ran = outcomes(folder / f"{env}.xml")
        state = {"0": "ok", "124": "STOPPED BY TIME LIMIT", "137": "KILLED"}.get(status, "FAILED")
        if status == "0" and counts["failed"] == 0 and not counts["passed"]:
            state = "RAN NO TEST"
        rows.append((env, counts, int(seconds) / 60, state))
        cut = not_started(folder / f"{env}.xml")
        if cut:
            print(f"\n{env}: {len(cut)} tests never started (the suite's time limit passed):")
            print("\n".join(f"  {test}" for test in cut))
        collected = folder / f"{env}.collected.txt"
        if collected.exists():
            missing = not_reached(collected, ran)
            print(f"\n{env}: {len(missing)} tests never ran:")
            print("\n".join(f"  {test}" for test in missing))
    print(f"\n{'suite':<20}{'passed':>8}{'failed':>8}{'skipped':>9}{'xfailed':>9}{'minutes':>9}  result")
    for env, counts, minutes, state in rows:
        print(
            f"{env:<20}{counts['passed']:>8}{counts['failed']:>8}{counts['skipped']:>9}"
            f"{counts['xfailed']:>9}{minutes:>9.1f}  {state}"
        )
    total = sum(minutes for *_, minutes, _ in rows)
    print(f"{'all':<20}{'':>34}{total:>9.1f}")


if __name__ == "__main__":
    main(sys.argv[1])
