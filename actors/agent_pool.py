"""The agent pool: how many attempts each agent runs at once, across every mission.

Slots are leases keyed by attempt id, so acquiring twice for the same attempt is harmless and a
restarted Mission releases the leases of the attempts it lost. Each lease also names its holder
(the Mission host that took it): a host that restarts drops every lease its previous process
held (`forget`), since every attempt that process launched is lost with it, and releases it had
not sent yet cannot leak slots. If the pool actor itself restarts, its leases are forgotten and
agents may briefly run above their limit; no attempt is ever refused forever.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import ray

from agentcoord.actors import NAMESPACE

ACTOR_NAME = "agent-pool"


class AgentPool:
    """Per-agent concurrency limits as leases."""

    def __init__(self) -> None:
        self._leases: dict[str, tuple[str, str]] = {}  # attempt id -> (agent, holder)
        self._taken: Counter[str] = Counter()  # agent -> leases

    def acquire(self, agent: str, attempt_id: str, limit: int, *, holder: str = "") -> bool:
        """Lease a slot of `agent` to `attempt_id` if fewer than `limit` are taken (idempotent)."""
        if attempt_id in self._leases:
            return True
        if self._taken[agent] >= limit:
            return False
        self._leases[attempt_id] = (agent, holder)
        self._taken[agent] += 1
        return True

    def acquire_many(
        self, requests: Sequence[tuple[str, str, int]], *, released: Sequence[str] = (), holder: str = ""
    ) -> list[bool]:
        """Release `released`, then `acquire` each (agent, attempt id, limit) in order, in one call.

        A host sends the releases it has gathered with its next acquires: one call instead of two.
        """
        self.release_many(released)
        return [self.acquire(agent, attempt_id, limit, holder=holder) for agent, attempt_id, limit in requests]

    def release(self, attempt_id: str) -> None:
        lease = self._leases.pop(attempt_id, None)
        if lease is not None:
            self._taken[lease[0]] -= 1

    def release_many(self, attempt_ids: Sequence[str]) -> None:
        """`release` for each attempt id, in one call."""
        for attempt_id in attempt_ids:
            self.release(attempt_id)

    def forget(self, holder: str) -> int:
        """Drop every lease `holder` took (it restarted: its attempts are lost); how many there were."""
        lost = [attempt_id for attempt_id, (_, leased_by) in self._leases.items() if leased_by == holder]
        self.release_many(lost)
        return len(lost)

    def in_use(self) -> dict[str, int]:
        """Slots taken per agent."""
        return {agent: taken for agent, taken in self._taken.items() if taken}


AgentPoolActor = ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1)(AgentPool)


def agent_pool_handle() -> Any:
    """The AgentPool actor, created on first use."""
    return AgentPoolActor.options(  # type: ignore[attr-defined]
        name=ACTOR_NAME, namespace=NAMESPACE, lifetime="detached", get_if_exists=True
    ).remote()
