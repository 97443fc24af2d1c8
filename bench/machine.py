"""The machine's state during a measurement: load average, and busy and stolen CPU from /proc/stat.

Servers and clients share the machine's cores with whatever else runs on it. Steal is the time
the hypervisor gave this machine's virtual CPUs to someone else: figures measured while it is
high (or while the load average is above the core count) are slower for reasons of the machine,
not of the code.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

# Fields of the aggregate `cpu` line of /proc/stat (guest time is already in user and nice).
_FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")


@dataclass(frozen=True)
class CpuTimes:
    """The aggregate `cpu` line of /proc/stat, in clock ticks since boot."""

    ticks: dict[str, int]

    @classmethod
    def now(cls) -> CpuTimes | None:
        try:
            with open("/proc/stat") as fh:
                first = fh.readline().split()
        except OSError:
            return None
        if not first or first[0] != "cpu":
            return None
        values = [int(v) for v in first[1 : 1 + len(_FIELDS)]]
        return cls(dict(zip(_FIELDS, values, strict=False)))

    @property
    def total(self) -> int:
        return sum(self.ticks.values())


def cpu_shares(before: CpuTimes | None, after: CpuTimes | None) -> dict[str, float | None]:
    """Shares of every core's time between two readings: busy (not idle or waiting on I/O) and
    stolen, as fractions of the total (0.5 on 2 cores = one core's worth)."""
    if before is None or after is None or after.total <= before.total:
        return {"busy": None, "steal": None}
    total = after.total - before.total

    def delta(*names: str) -> int:
        return sum(after.ticks.get(n, 0) - before.ticks.get(n, 0) for n in names)

    return {
        "busy": delta("user", "nice", "system", "irq", "softirq") / total,
        "steal": delta("steal") / total,
    }


class Watch:
    """Load average and CPU shares over one measurement: `with Watch() as w: ...; w.state`."""

    def __init__(self) -> None:
        self.state: dict[str, Any] = {}
        self._cpu: CpuTimes | None = None

    def __enter__(self) -> Watch:
        self._cpu = CpuTimes.now()
        self.state["loadavg_before"] = round(os.getloadavg()[0], 2)
        return self

    def __exit__(self, *exc: object) -> None:
        self.state["loadavg_after"] = round(os.getloadavg()[0], 2)
        self.state.update(cpu_shares(self._cpu, CpuTimes.now()))


def describe(state: dict[str, Any]) -> str:
    """`load 1.20 -> 1.85, CPU busy 64%, steal 0.3%` for the log lines."""
    busy, steal = state.get("busy"), state.get("steal")
    return (
        f"load {state.get('loadavg_before', 0):.2f} -> {state.get('loadavg_after', 0):.2f}, "
        f"machine CPU busy {'-' if busy is None else f'{busy:.0%}'}, "
        f"steal {'-' if steal is None else f'{steal:.1%}'}"
    )
