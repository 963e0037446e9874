"""The MissionSupervisor: the named, detached actor that places missions on Mission hosts.

It runs each mission on its shared host (or on a host of its own, once the shared host declined
it as a suspect of crashing), watches the run to the end, and retires hosts of one mission.
When a host's process dies, the supervisor's pending `run` calls to it fail at once (they are
sent without Ray's retries) and it runs those missions again on a live shared host: Ray takes
about a second, and several under load, to restart an actor in a new process, and a mission
moved to a running host resumes from its log in tens of milliseconds.
Whenever it starts (first creation, a Ray restart after a crash, or `agentcoord up` on a fresh
Ray) it creates the shared hosts and re-attaches every mission the store says is unfinished.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, cast

import ray
from ray.exceptions import ActorUnavailableError, RayActorError

from agentcoord.actors import NAMESPACE
from agentcoord.actors.agent_pool import agent_pool_handle
from agentcoord.actors.mission_host import (
    ISOLATE,
    mission_host,
    shared_host_names,
    start_shared_hosts,
)
from agentcoord.config import Config
from agentcoord.errors import ConflictError
from agentcoord.states import MissionState
from agentcoord.store import Database
from agentcoord.store.missions import get_mission, mission_ids_in_states, set_mission_state

log = logging.getLogger(__name__)

ACTOR_NAME = "mission-supervisor"
MAX_RUNS = 4
"""Failed runs of a mission before the mission itself is failed."""
RERUN_BASE_S = 1.0
RERUN_MAX_S = 30.0
_UNFINISHED = tuple(state for state in MissionState if not state.is_terminal)


class MissionSupervisorShell:
    """Keeps one watcher per running mission."""

    def __init__(self, config: Config) -> None:
        self._config = config
        self._watchers: dict[str, asyncio.Task[None]] = {}
        self._hosts: dict[str, tuple[str, Any]] = {}
        """mission id -> (actor name, handle) of the host running it now"""
        self._down: dict[str, asyncio.Future[None]] = {}
        """host name -> waits until Ray has restarted that host, whose process died"""
        start_shared_hosts(config)
        self._reattached = asyncio.ensure_future(self.reattach())  # after a restart, nobody else will ask

    async def start_mission(self, mission_id: str, config: Config | None = None) -> None:
        """Start (or keep) running `mission_id` on its host; idempotent.

        `config` is the caller's (its service addresses); several control planes may share
        one Ray cluster, so the supervisor does not assume its own first config is current.
        """
        watcher = self._watchers.get(mission_id)
        if watcher is not None and not watcher.done():
            return
        self._watchers[mission_id] = asyncio.ensure_future(self._watch(mission_id, config or self._config))

    async def wake_mission(self, mission_id: str) -> None:
        """Tell the mission's host the store changed (cancelled, reviewed): re-read it now."""
        placed = self._hosts.get(mission_id)
        if placed is not None:
            await placed[1].wake.remote(mission_id)

    async def host_of(self, mission_id: str) -> str | None:
        """The actor name of the host running `mission_id` now, if any (for operators and tests)."""
        placed = self._hosts.get(mission_id)
        return placed[0] if placed is not None else None

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

    async def hosts_down(self) -> list[str]:
        """Hosts whose process died and that Ray has not restarted yet (for operators and benchmarks)."""
        return sorted(self._down)

    async def running(self) -> list[str]:
        """Ids of missions being watched right now."""
        return sorted(m for m, w in self._watchers.items() if not w.done())

    async def _watch(self, mission_id: str, config: Config) -> None:
        """Run the mission until it ends or parks awaiting review; if a run fails, run it again,
        a few times.

        A run whose host process died (Ray restarts it) is run again at once on a live host
        (`_host_died`); that is no failed run, since a mission that keeps killing its hosts is
        isolated and then failed by the hosts' own count of its starts. A run that ends in an error escaping the
        runner (a service unreachable for longer than its retries, the database refusing
        connections) is run again after a backoff; after MAX_RUNS such runs the mission is failed
        with the last error, so it never stays 'running' with nobody driving it.
        """
        failed_runs = 0
        isolated = False
        try:
            while True:
                name, host = mission_host(config, mission_id, isolated=isolated, avoid=self._down)
                if name in self._down:  # every host it may use is restarting
                    await self._first_restarted([name] if isolated else shared_host_names(config))
                    continue
                self._hosts[mission_id] = (name, host)
                try:
                    state = await host.run.options(max_task_retries=0).remote(mission_id, config)
                except ActorUnavailableError:  # its process died and Ray is restarting it
                    log.warning("host %s died running the mission; running it again", name, extra={"mission_id": mission_id})
                    self._host_died(name, host)
                    continue
                except Exception as exc:  # noqa: BLE001 -- any failed run is retried
                    # ActorDiedError included: a host gone for good (killed without restart, or
                    # its constructor failed) counts, so a host that cannot start ends in a failure.
                    cause = getattr(exc, "cause", None) or exc  # a RayTaskError wraps the runner's error
                    error = f"{type(cause).__name__}: {cause}"
                    failed_runs += 1
                    log.warning("mission run %d failed: %s", failed_runs, error, extra={"mission_id": mission_id})
                    state = ""
                finally:
                    self._hosts.pop(mission_id, None)
                if state == ISOLATE:
                    isolated = True
                elif state:
                    log.info("mission run ended as %s", state, extra={"mission_id": mission_id})
                    if state != MissionState.AWAITING_REVIEW.value or not await self._reviewed_meanwhile(mission_id, config):
                        return
                elif failed_runs >= MAX_RUNS:
                    await self._fail(mission_id, config, f"mission failed {MAX_RUNS} runs; last error: {error}")
                    return
                else:
                    await asyncio.sleep(min(RERUN_MAX_S, RERUN_BASE_S * 2 ** (failed_runs - 1)))
        finally:
            if isolated:
                ray.kill(host, no_restart=True)
                agent_pool_handle().forget.remote(name)  # slot releases it had not sent yet

    async def _first_restarted(self, names: list[str]) -> None:
        """Wait until one of the hosts `names` is back (or gone for good)."""
        restarts = [asyncio.shield(self._down[name]) for name in names if name in self._down]
        if restarts:
            await asyncio.wait(restarts, return_when=asyncio.FIRST_COMPLETED)

    def _host_died(self, name: str, host: Any) -> None:
        """Place no mission on `name` until Ray has restarted it (its first answer says so)."""
        if name not in self._down:
            self._down[name] = asyncio.ensure_future(self._await_restart(name, host))

    async def _await_restart(self, name: str, host: Any) -> None:
        try:
            await host.pid.remote()  # sent with Ray's retries: it waits out the restart
        except RayActorError:
            pass  # gone for good (killed without restart): the next placement creates it anew
        finally:
            self._down.pop(name, None)

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


def running_host(mission_id: str, *, timeout_s: float = 30.0) -> Any:
    """The host actor running `mission_id` now, waiting while it is between runs; for operators and tests."""
    supervisor = ray.get_actor(ACTOR_NAME, namespace=NAMESPACE)
    deadline = time.monotonic() + timeout_s
    while True:
        name = cast("str | None", ray.get(supervisor.host_of.remote(mission_id), timeout=timeout_s))
        if name is not None:
            return ray.get_actor(name, namespace=NAMESPACE)
        if time.monotonic() > deadline:
            raise TimeoutError(f"mission {mission_id} is not running on any host")
        time.sleep(0.05)
