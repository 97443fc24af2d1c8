"""`python -m tests.chaos [ANSWERS] [--dir DIR]`: the chaos scenario at that size (default 1,000
concurrent answers); prints the invariants as a table and exits 1 on any violation."""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

from tests.chaos.scenario import FAULTS, run_chaos
from tests.chaos.topology import preflight


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos", description=__doc__)
    parser.add_argument("answers", type=int, nargs="?", default=1000, help="answers at once")
    parser.add_argument("--dir", type=Path, help="where the logs go (default: a new temp dir)")
    parser.add_argument(
        "--faults",
        default=",".join(FAULTS),
        help=f"which faults strike, comma-separated (default: {','.join(FAULTS)}; '' for none)",
    )
    args = parser.parse_args()
    if problems := preflight():
        sys.stderr.write("cannot run the chaos suite here:\n  " + "\n  ".join(problems) + "\n")
        return 2
    directory = args.dir or Path(tempfile.mkdtemp(prefix="chatstream-chaos-"))
    directory.mkdir(parents=True, exist_ok=True)
    faults = tuple(name for name in args.faults.split(",") if name)
    if unknown := set(faults) - set(FAULTS):
        parser.error(f"unknown faults: {', '.join(sorted(unknown))}")
    report = asyncio.run(run_chaos(args.answers, directory, faults))
    sys.stdout.write(report.render() + "\n")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
