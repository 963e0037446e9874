"""The agent pool: how many attempts each agent runs at once, across every mission.

Slots are leases keyed by attempt id, so acquiring twice for the same attempt is harmless and a
restarted Mission releases the leases of the attempts it lost. Each lease also names its holder
(the Mission host that took it): a host that restarts drops every lease its previous process
held (`forget`), since every attempt that process launched is lost with it, and releases it had
not sent yet cannot leak slots. If the pool actor itself restarts, its leases are forgotten and
agents may briefly run above their limit; no attempt is ever refused forever.

Waiting is first come, first served. A task refused a slot queues under its `waiter` key
(mission/task: each try of a task has a new attempt id) and asks again soon; a freed slot goes to
the oldest waiter still asking, not to whoever asks first. Without that, missions whose attempts
kept ending took back each slot they freed in the same call, and a mission that had none running
waited up to eight seconds in the 50-mission benchmark. A waiter that stops asking for
WAITER_TTL_S (its task was cancelled, its host died) loses its place.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import ray

from agentcoord.actors import NAMESPACE

ACTOR_NAME = "agent-pool"
WAITER_TTL_S = 3.0
"""How long a waiter keeps its place without asking again (runners ask about every 0.2 s)."""

SlotRequest = tuple[str, str, int, str]
"""(agent, attempt id, the agent's limit, waiter: the mission/task the attempt is for)."""


class AgentPool:
    """Per-agent concurrency limits as leases."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._leases: dict[str, tuple[str, str]] = {}  # attempt id -> (agent, holder)
        self._taken: Counter[str] = Counter()  # agent -> leases
        self._waiting: dict[str, dict[str, float]] = {}  # agent -> waiter -> last asked, oldest first

    def acquire(self, agent: str, attempt_id: str, limit: int, *, holder: str = "", waiter: str = "") -> bool:
        """Lease a slot of `agent` to `attempt_id` if one is free and no older waiter wants it (idempotent).

        Refused, `waiter` (when given) keeps or takes its place in the agent's queue.
        """
        if attempt_id in self._leases:
            return True
        queue = self._waiting.setdefault(agent, {})
        now = self._clock()
        for stale in [w for w, asked in queue.items() if now - asked > WAITER_TTL_S]:
            del queue[stale]
        ahead = list(queue).index(waiter) if waiter in queue else len(queue)
        if self._taken[agent] + ahead >= limit:
            if waiter:
                queue[waiter] = now  # an update keeps the waiter's place
            return False
        queue.pop(waiter, None)
        self._leases[attempt_id] = (agent, holder)
        self._taken[agent] += 1
        return True

    def acquire_many(
        self, requests: Sequence[SlotRequest], *, released: Sequence[str] = (), holder: str = ""
    ) -> list[bool]:
        """Release `released`, then `acquire` each request in order, in one call.

        A host sends the releases it has gathered with its next acquires: one call instead of two.
        """
        self.release_many(released)
        return [
            self.acquire(agent, attempt_id, limit, holder=holder, waiter=waiter)
            for agent, attempt_id, limit, waiter in requests
        ]

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

    def waiting(self) -> dict[str, list[str]]:
        """Waiters per agent, oldest first (stale ones included until the agent's next acquire)."""
        return {agent: list(queue) for agent, queue in self._waiting.items() if queue}


AgentPoolActor = ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1)(AgentPool)


def agent_pool_handle() -> Any:
    """The AgentPool actor, created on first use."""
    return AgentPoolActor.options(  # type: ignore[attr-defined]
        name=ACTOR_NAME, namespace=NAMESPACE, lifetime="detached", get_if_exists=True
    ).remote()
