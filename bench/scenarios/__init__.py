"""The scenarios, one module each; each runs ChatStream and the baseline and compares."""

from __future__ import annotations

from scenarios.a_throughput import scenario_a
from scenarios.b_paced import scenario_b
from scenarios.c_start import scenario_c
from scenarios.d_memory import scenario_d
from scenarios.e_redis import scenario_e
from scenarios.f_recovery import scenario_f
from scenarios.g_capacity import scenario_g, scenario_h
from scenarios.i_local_model import local_model_env, scenario_i

__all__ = [
    "local_model_env",
    "scenario_a",
    "scenario_b",
    "scenario_c",
    "scenario_d",
    "scenario_e",
    "scenario_f",
    "scenario_g",
    "scenario_h",
    "scenario_i",
]
