"""Paths, the host and the log line shared by the benchmark's modules."""

from __future__ import annotations

import http.client
import json
import sys
import time
import urllib.parse
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
PY = sys.executable
HOST = "127.0.0.1"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)  # noqa: T201


def sign_up(port: int, email: str, password: str, display_name: str) -> str:
    """Register (an account already there is fine) and sign in; the access token."""
    conn = http.client.HTTPConnection(HOST, port, timeout=60)
    body = json.dumps({"email": email, "password": password, "display_name": display_name})
    conn.request("POST", "/api/v1/auth/register", body, {"Content-Type": "application/json"})
    response = conn.getresponse()
    text = response.read()
    if response.status not in (201, 409):
        raise RuntimeError(f"register failed: {response.status} {text[:300]!r}")
    form = urllib.parse.urlencode({"username": email, "password": password})
    conn.request(
        "POST", "/api/v1/auth/token", form, {"Content-Type": "application/x-www-form-urlencoded"}
    )
    response = conn.getresponse()
    text = response.read()
    conn.close()
    if response.status != 200:
        raise RuntimeError(f"login failed: {response.status} {text[:300]!r}")
    token: str = json.loads(text)["access_token"]
    return token
