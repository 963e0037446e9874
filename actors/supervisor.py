"""The MissionSupervisor: the named, detached actor that owns every Mission actor.

It starts a Mission actor per mission, watches it to the end and then retires it. Whenever it
starts (first creation, a Ray restart after a crash, or `agentcoord up` on a fresh Ray) it
re-attaches every mission the store says is unfinished.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import ray

from agentcoord.actors import NAMESPACE
from agentcoord.actors.mission import mission_actor
from agentcoord.config import Config
from agentcoord.states import MissionState
from agentcoord.store import Database
from agentcoord.store.missions import mission_ids_in_states

log = logging.getLogger(__name__)

ACTOR_NAME = "mission-supervisor"
_UNFINISHED = tuple(state for state in MissionState if not state.is_terminal)


class MissionSupervisorShell:
    """Keeps one watcher per running mission."""

    def __init__(self, config: Config) -> None:
        self._config = config
        self._watchers: dict[str, asyncio.Task[None]] = {}
        self._actors: dict[str, Any] = {}
        self._reattached = asyncio.ensure_future(self.reattach())  # after a restart, nobody else will ask

    async def start_mission(self, mission_id: str, config: Config | None = None) -> None:
        """Start (or keep) the Mission actor for `mission_id`; idempotent.

        `config` is the caller's (its service addresses); several control planes may share
        one Ray cluster, so the supervisor does not assume its own first config is current.
        """
        watcher = self._watchers.get(mission_id)
        if watcher is not None and not watcher.done():
            return
        actor = mission_actor(config or self._config, mission_id)
        self._actors[mission_id] = actor
        self._watchers[mission_id] = asyncio.ensure_future(self._watch(mission_id, actor))

    async def cancel_mission(self, mission_id: str) -> None:
        """Tell a running Mission actor that the store now says cancelled (the store is the record)."""
        actor = self._actors.get(mission_id)
        if actor is not None:
            await actor.cancel.remote()

    async def reattach(self, config: Config | None = None) -> list[str]:
        """Start every mission the store says is unfinished; return their ids."""
        config = config or self._config
        assert config.database.url, "the supervisor needs a concrete DATABASE_URL"
        db = await Database.open(config.database.url, max_size=1)
        try:
            async with db.transaction() as conn:
                mission_ids = await mission_ids_in_states(conn, _UNFINISHED)
        finally:
            await db.close()
        for mission_id in mission_ids:
            await self.start_mission(mission_id, config)
        return mission_ids

    async def running(self) -> list[str]:
        """Ids of missions being watched right now."""
        return sorted(m for m, w in self._watchers.items() if not w.done())

    async def _watch(self, mission_id: str, actor: Any) -> None:
        try:
            state = await actor.run.remote()
            log.info("mission finished as %s", state, extra={"mission_id": mission_id})
        except Exception:
            log.exception("mission actor failed", extra={"mission_id": mission_id})
        finally:
            self._actors.pop(mission_id, None)
            ray.kill(actor, no_restart=True)


MissionSupervisorActor = ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1)(MissionSupervisorShell)


def supervisor_handle(config: Config) -> Any:
    """The MissionSupervisor actor, created on first use."""
    return MissionSupervisorActor.options(  # type: ignore[attr-defined]
        name=ACTOR_NAME, namespace=NAMESPACE, lifetime="detached", get_if_exists=True
    ).remote(config)
