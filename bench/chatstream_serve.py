"""`chatstream <args>` exactly as the installed command runs it, plus the SIGUSR1 task probe.

Usage: python bench/chatstream_serve.py serve --port 8123   (BENCH_PROBE_FILE=<path> for tasks)
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import probe  # noqa: E402

probe.install(os.environ.get("BENCH_PROBE_FILE"))

from app.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.argv = ["chatstream", *sys.argv[1:]]
    main()
