"""CPU time per kind of process on this machine, over a phase of a benchmark.

Sampled with psutil at the start and at the end of a phase, so a process that exits within the
phase is missed (the benchmark keeps its processes: pooled connections, warm Ray workers); a
process is counted in the group it belongs to at the end. Good enough to say where the seconds go.
"""

from __future__ import annotations

import os
from collections import defaultdict

import psutil

GROUPS = (
    ("ray::MissionHostShell", "mission hosts"),
    ("ray::run_attempt", "task executors"),
    ("ray::IDLE", "task executors"),
    ("ray::", "other Ray workers and actors"),
    ("postgres", "PostgreSQL"),
    ("raylet", "Ray system (raylet, GCS)"),
    ("gcs_server", "Ray system (raylet, GCS)"),
)


def _group(process: psutil.Process, own_pid: int) -> str | None:
    if process.pid == own_pid:
        return "benchmark process (services, driver)"
    try:
        cmdline = " ".join(process.cmdline())
        name = process.name()
    except psutil.Error:
        return None
    for prefix, group in GROUPS:
        if cmdline.startswith(prefix) or name.startswith(prefix) or f"/{prefix}" in cmdline.split(" ")[0]:
            return group
    if "ray" in cmdline and "python" in name:
        return "Ray system (raylet, GCS)"
    return None


def _times() -> dict[int, tuple[str, float]]:
    own = os.getpid()
    times = {}
    for process in psutil.process_iter():
        group = _group(process, own)
        if group is None:
            continue
        try:
            cpu = process.cpu_times()
        except psutil.Error:
            continue
        times[process.pid] = (group, cpu.user + cpu.system)
    return times


class CpuMeter:
    """`start()` before a phase, `stop()` after: CPU seconds per process group in between."""

    def __init__(self) -> None:
        self._before: dict[int, tuple[str, float]] = {}

    def start(self) -> None:
        self._before = _times()

    def stop(self) -> dict[str, float]:
        used: dict[str, float] = defaultdict(float)
        for pid, (group, seconds) in _times().items():
            before = self._before.get(pid)
            used[group] += seconds - (before[1] if before else 0.0)
        return dict(sorted(used.items(), key=lambda item: -item[1]))
