"""Ray actors: MissionSupervisor, Mission, TaskExecutor, PolicyChecker.

Each actor is a thin `@ray.remote` shell around a plain class or function, so the logic is
tested without Ray and the Ray tests test supervision.
"""

from __future__ import annotations

NAMESPACE = "agentcoord"

WORKER_SOFT_LIMIT = 256
"""How many worker processes Ray keeps per node before it kills idle ones (Ray's default: the
node's CPU count). Every Mission actor holds a worker for its whole run, so with the default a
node running a few missions is always over the limit and Ray kills each task executor a second
after its attempt ends; the next attempt then waits for a new worker process to start (seconds
on a small node, two at a time). Executors are bounded by their CPU fraction (ATTEMPT_CPUS), so
keeping them costs memory, not CPU. A Ray this process starts gets it through
`RAY_SYSTEM_CONFIG`; a cluster sets RAY_num_workers_soft_limit on its nodes."""

RAY_SYSTEM_CONFIG: dict[str, object] = {"num_workers_soft_limit": WORKER_SOFT_LIMIT}
"""`_system_config` for `ray.init` when it starts a local Ray (not when joining a cluster)."""
