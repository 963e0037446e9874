"""The agent pool: how many attempts each agent runs at once, across every mission.

Slots are leases keyed by attempt id, so acquiring twice for the same attempt is harmless and a
restarted Mission releases the leases of the attempts it lost. If the pool actor itself
restarts, its leases are forgotten and agents may briefly run above their limit; no attempt is
ever refused forever.
"""

from __future__ import annotations

from typing import Any

import ray

from agentcoord.actors import NAMESPACE

ACTOR_NAME = "agent-pool"


class AgentPool:
    """Per-agent concurrency limits as leases."""

    def __init__(self) -> None:
        self._leases: dict[str, str] = {}  # attempt id -> agent

    def acquire(self, agent: str, attempt_id: str, limit: int) -> bool:
        """Lease a slot of `agent` to `attempt_id` if fewer than `limit` are taken (idempotent)."""
        if attempt_id in self._leases:
            return True
        if sum(1 for leased in self._leases.values() if leased == agent) >= limit:
            return False
        self._leases[attempt_id] = agent
        return True

    def acquire_many(self, requests: list[tuple[str, str, int]]) -> list[bool]:
        """`acquire` for each (agent, attempt id, limit), in order, in one call."""
        return [self.acquire(agent, attempt_id, limit) for agent, attempt_id, limit in requests]

    def release(self, attempt_id: str) -> None:
        self._leases.pop(attempt_id, None)

    def release_many(self, attempt_ids: list[str]) -> None:
        """`release` for each attempt id, in one call."""
        for attempt_id in attempt_ids:
            self.release(attempt_id)

    def in_use(self) -> dict[str, int]:
        """Slots taken per agent."""
        counts: dict[str, int] = {}
        for agent in self._leases.values():
            counts[agent] = counts.get(agent, 0) + 1
        return counts


AgentPoolActor = ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1)(AgentPool)


def agent_pool_handle() -> Any:
    """The AgentPool actor, created on first use."""
    return AgentPoolActor.options(  # type: ignore[attr-defined]
        name=ACTOR_NAME, namespace=NAMESPACE, lifetime="detached", get_if_exists=True
    ).remote()
