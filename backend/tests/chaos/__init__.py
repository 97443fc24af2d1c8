"""The chaos suite: the scaled topology for real (nginx, two API processes, PostgreSQL, Redis, a
Celery worker), faults under load, and the invariants that must survive them.

`make chaos` runs `python -m tests.chaos 1000` (from backend/); `make test` runs a short variant
of 300 concurrent answers (test_chaos.py).
"""
