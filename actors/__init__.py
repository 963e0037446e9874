"""Ray actors: MissionSupervisor, Mission hosts, TaskExecutor, PolicyChecker, AgentPool.

Each actor is a thin `@ray.remote` shell around a plain class or function, so the logic is
tested without Ray and the Ray tests test supervision.
"""

from __future__ import annotations

import math
import os

NAMESPACE = "agentcoord"

ATTEMPT_CPUS = 0.25
"""Ray CPUs an attempt reserves: agents mostly wait on their CLI, but each attempt holds a worker
process, so a fraction (four attempts per core) bounds how many run at once on a node instead of
letting Ray start a new worker for every ready task."""

ACTOR_WORKERS = 8
"""Worker processes a node keeps for long-lived actors: the supervisor, the policy checker, the
agent pool, the Mission hosts, and room for a few hosts of isolated missions."""


def worker_soft_limit(num_cpus: float) -> int:
    """How many worker processes (actors included) Ray should keep on a node of `num_cpus` CPUs.

    The actors' workers plus one per attempt that can run at once. Ray's default is the CPU
    count: every actor holds a worker for its life, so a small node is always over it, and Ray
    kills each task executor a second after its attempt ends (the next attempt waits for a new
    process). Much more is as bad the other way: while tasks are queued and the pool is under
    its soft limit, Ray starts new workers rather than wait for a busy one to free up, so the
    pool keeps growing towards the limit, each new process costing about a second of CPU for
    its start and imports (measured on 2 CPUs: 64 grew the pool by 5-10 workers per 1000 short
    tasks, and those rounds took 2-4 times as long as with this limit). And every idle executor
    keeps its warm PostgreSQL connection (see recorder): connections are what a server runs out
    of first.
    """
    return ACTOR_WORKERS + math.ceil(num_cpus / ATTEMPT_CPUS)


def ray_system_config(num_cpus: float | None = None) -> dict[str, object]:
    """`_system_config` for `ray.init` when it starts a local Ray (not when joining a cluster, whose
    nodes set RAY_num_workers_soft_limit themselves, as deploy/kuberay/raycluster.yaml does);
    `num_cpus` as given to `ray.init` (default: this machine's)."""
    return {"num_workers_soft_limit": worker_soft_limit(num_cpus or os.cpu_count() or 1)}

