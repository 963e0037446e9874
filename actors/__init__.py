"""Ray actors: MissionSupervisor, Mission hosts, TaskExecutor, PolicyChecker, AgentPool.

Each actor is a thin `@ray.remote` shell around a plain class or function, so the logic is
tested without Ray and the Ray tests test supervision.
"""

from __future__ import annotations

NAMESPACE = "agentcoord"

WORKER_SOFT_LIMIT = 64
"""How many worker processes (actors included) Ray keeps per node before it kills idle ones;
Ray's default is the node's CPU count. Every actor (supervisor, Mission hosts, policy checker,
agent pool) holds a worker for its life, so with the default a small node is always over the
limit, and Ray kills each task executor a second after its attempt ends: the next attempt waits
for a new worker process (seconds on a small node, started two at a time). 64 leaves room for the
actors, hosts of isolated missions and the executors of a node of a dozen CPUs (four per CPU,
see ATTEMPT_CPUS). Not more: an idle executor keeps its
warm PostgreSQL connection (see recorder), and connections are what a server runs out of first.
A Ray this process starts gets it through RAY_SYSTEM_CONFIG; a cluster sets
RAY_num_workers_soft_limit on its nodes."""

RAY_SYSTEM_CONFIG: dict[str, object] = {"num_workers_soft_limit": WORKER_SOFT_LIMIT}
"""`_system_config` for `ray.init` when it starts a local Ray (not when joining a cluster)."""
