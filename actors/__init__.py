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

def worker_soft_limit(num_cpus: float) -> int:
    """How many idle worker processes Ray should keep on a node of `num_cpus` CPUs: two per attempt
    that can run at once (long-lived actors hold workers of their own, not counted here).

    Ray's default is the CPU count, so with four attempts per CPU it killed each task executor a
    second after its attempt ended, and the next attempt waited for a new process. Much more is
    as bad the other way: while tasks are queued, Ray starts new workers rather than wait for a
    busy one, up to about the limit above what runs, and kills the extra ones once idle; each
    new process costs about a second of CPU, and every idle executor keeps its warm PostgreSQL
    connection (see recorder). Measured on 2 CPUs (ad hoc scripts, 1000 short 0.25-CPU tasks a
    round): with 64 the pool kept growing by 2-13 workers a round and rounds took
    1.9-4.9 s; with 16, 0.82-1.56 s and a pool of 24 under load; with 8, 0.67-0.71 s and 16.
    Missions are what the node is for, and one run of 50 missions with 8 gave 18.8 s, within the
    16.3-20.5 s of the runs with 16 (its executors 10.1 ms of CPU per task, against 8.1-11.8):
    no gain shown, while the Mission hosts each lease workers of their own. Hence two per
    attempt, the value every recorded benchmark ran with.
    """
    return 2 * math.ceil(num_cpus / ATTEMPT_CPUS)


DEATH_INFO_WAIT_MS = 0
"""How long a caller whose actor call failed waits to learn whether the actor died
(`timeout_ms_task_wait_for_death_info`, Ray's default 1000 ms). An actor that Ray restarts never
counts as dead, so with the default the supervisor learned that a Mission host had died a
second and more after its process was gone (1.6-2.0 s measured, kill to the failed call), and
only then moved its missions to a live host. With 0 the call fails at once, as an
ActorUnavailableError rather than an ActorDiedError."""


def ray_system_config(num_cpus: float | None = None) -> dict[str, object]:
    """`_system_config` for `ray.init` when it starts a local Ray (not when joining a cluster, whose
    nodes set these as RAY_<name> environment variables, as deploy/kuberay/raycluster.yaml does);
    `num_cpus` as given to `ray.init` (default: this machine's)."""
    return {
        "num_workers_soft_limit": worker_soft_limit(num_cpus or os.cpu_count() or 1),
        "timeout_ms_task_wait_for_death_info": DEATH_INFO_WAIT_MS,
    }

