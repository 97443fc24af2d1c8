"""The four scenarios, one module each; each runs ChatStream and the baseline and compares."""

from __future__ import annotations

from scenarios.a_throughput import scenario_a
from scenarios.b_paced import scenario_b
from scenarios.c_start import scenario_c
from scenarios.d_memory import scenario_d

__all__ = ["scenario_a", "scenario_b", "scenario_c", "scenario_d"]
