#!/usr/bin/env bash
# Runs every check and test suite, keeps going past failures, and ends with one summary line.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
reports="$root/reports"
rm -rf "$reports" && mkdir -p "$reports"
make_quiet() { make --no-print-directory -C "$root" "$@"; }

step() {  # step NAME COMMAND...: run it, record pass or fail as one check
  local name=$1; shift
  echo "=== $name"
  "$@" || echo "fail $name" >>"$reports/checks.txt"
}

step "backend lint (ruff, mypy, import layers)" bash -c "cd '$root/backend' && .venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy && .venv/bin/lint-imports --no-cache"
step "frontend lint (eslint, tsc, prettier)" bash -c "cd '$root/frontend' && npm run --silent lint"
suite() {  # suite NAME REPORT COMMAND...: its JUnit report counts; a failed run whose report
  # shows no failed test (no report, an empty one, a set-up or teardown error) counts as one failure
  local name=$1 report=$2; shift 2
  echo "=== $name"
  if ! "$@" && ! grep -qE "<(failure|error)[ >]" "$reports/$report" 2>/dev/null; then
    echo "fail $name (the run failed, and its report shows no failed test)" >>"$reports/checks.txt"
  fi
}

suite "backend tests" backend.xml make_quiet backend-test
suite "frontend tests" frontend.xml make_quiet frontend-test
if grep -q '"e2e"' "$root/frontend/package.json"; then
  suite "browser tests" e2e.xml bash -c "cd '$root/frontend' && npm run --silent e2e"
fi
python3 "$root/scripts/test_summary.py" "$reports"
