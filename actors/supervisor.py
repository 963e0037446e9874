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
from agentcoord.errors import ConflictError
from agentcoord.states import MissionState
from agentcoord.store import Database
from agentcoord.store.missions import get_mission, mission_ids_in_states, set_mission_state

log = logging.getLogger(__name__)

ACTOR_NAME = "mission-supervisor"
MAX_RUNS = 4
"""Failed runs of a mission's actor before the mission itself is failed."""
RERUN_BASE_S = 1.0
RERUN_MAX_S = 30.0
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
        self._watchers[mission_id] = asyncio.ensure_future(self._watch(mission_id, config or self._config))

    async def wake_mission(self, mission_id: str) -> None:
        """Tell a running Mission actor the store changed (cancelled, reviewed): re-read it now."""
        actor = self._actors.get(mission_id)
        if actor is not None:
            await actor.wake.remote()

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

    async def _watch(self, mission_id: str, config: Config) -> None:
        """Run the mission's actor until the mission ends or parks awaiting review; if its run
        fails, start a fresh one, a few times.

        Ray restarts an actor whose process dies; this covers the other way a run ends early,
        an error escaping the runner (a service unreachable for longer than its retries, the
        database refusing connections). After MAX_RUNS failed runs the mission is failed with
        the last error, so it never stays 'running' with nobody driving it.
        """
        failed_runs = 0
        while True:
            actor = mission_actor(config, mission_id)
            self._actors[mission_id] = actor
            try:
                state = await actor.run.remote()
            except Exception as exc:  # noqa: BLE001 -- any failed run is retried with a fresh actor
                cause = getattr(exc, "cause", None) or exc  # a RayTaskError wraps the runner's error
                error = f"{type(cause).__name__}: {cause}"
                failed_runs += 1
                log.warning("mission run %d failed: %s", failed_runs, error, extra={"mission_id": mission_id})
                state = ""
            finally:
                self._actors.pop(mission_id, None)
                ray.kill(actor, no_restart=True)
            if state:
                log.info("mission run ended as %s", state, extra={"mission_id": mission_id})
                if state != MissionState.AWAITING_REVIEW.value or not await self._reviewed_meanwhile(mission_id, config):
                    return
            elif failed_runs >= MAX_RUNS:
                await self._fail(mission_id, config, f"mission actor failed {MAX_RUNS} runs; last error: {error}")
                return
            else:
                await asyncio.sleep(min(RERUN_MAX_S, RERUN_BASE_S * 2 ** (failed_runs - 1)))

    async def _reviewed_meanwhile(self, mission_id: str, config: Config) -> bool:
        """True when a review put the mission back to running as its run was parking it.

        The review's own start request found this watcher still alive and did nothing, so the
        watcher drives the mission on itself.
        """
        assert config.database.url
        db = await Database.open(config.database.url, max_size=1)
        try:
            async with db.transaction() as conn:
                return (await get_mission(conn, mission_id)).state is MissionState.RUNNING
        finally:
            await db.close()

    async def _fail(self, mission_id: str, config: Config, reason: str) -> None:
        assert config.database.url
        db = await Database.open(config.database.url, max_size=1)
        try:
            async with db.transaction() as conn:
                mission = await get_mission(conn, mission_id)
                if not mission.state.is_terminal:
                    await set_mission_state(
                        conn, mission_id=mission_id, current=mission.state, target=MissionState.FAILED,
                        reason=reason[:2000], actor="mission-supervisor",
                    )
        except ConflictError:
            pass  # it ended meanwhile
        finally:
            await db.close()


MissionSupervisorActor = ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1)(MissionSupervisorShell)


def supervisor_handle(config: Config) -> Any:
    """The MissionSupervisor actor, created on first use."""
    return MissionSupervisorActor.options(  # type: ignore[attr-defined]
        name=ACTOR_NAME, namespace=NAMESPACE, lifetime="detached", get_if_exists=True
    ).remote(config)
