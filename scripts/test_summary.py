"""Sum the JUnit reports and lint checks of a test run into one line: `N passed, N failed`."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def count(reports: Path) -> tuple[int, int, int]:
    passed = failed = skipped = 0
    for report in sorted(reports.glob("*.xml")):
        root = ET.parse(report).getroot()
        for case in root.iter("testcase"):
            if case.find("failure") is not None or case.find("error") is not None:
                failed += 1
            elif case.find("skipped") is not None:
                skipped += 1
            else:
                passed += 1
    checks = reports / "checks.txt"
    if checks.exists():
        for line in checks.read_text().splitlines():
            status, _, name = line.partition(" ")
            if status == "fail":
                failed += 1
                print(f"FAILED: {name}")
    return passed, failed, skipped


def main() -> int:
    reports = Path(sys.argv[1] if len(sys.argv) > 1 else "reports")
    passed, failed, skipped = count(reports)
    if passed + failed == 0:
        print("0 passed, 1 failed (no test ran)")
        return 1
    line = f"{passed} passed, {failed} failed"
    print(line + (f", {skipped} skipped" if skipped else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
