"""Mission hosts: detached Ray actors that each drive many missions, one asyncio task per mission.

A Ray actor is a process, and starting one costs about a second of CPU; a process per mission
spent more CPU starting missions than running their tasks. So shared hosts drive every mission
(`Config.mission_hosts` of them, one by default, placed by a hash of the mission id), and share
one database pool and one set of ports, which also lets the checks of all their rounds go out as
one call. A mission's state lives in its event log, not in the host: whatever ends a host's
process, the supervisor runs its missions again at once on another shared host (`avoid`), and
each mission resumes from its log there; Ray restarts the dead host meanwhile (max_restarts=-1).

One more shared host stands by and gets missions only while the host a mission hashes to is
down. Fewer busy hosts is cheaper: Ray gives a worker that ran the tasks of one detached actor to
no other detached actor's tasks, so every host busy with attempts keeps task executors of its own.
With missions spread over two hosts, the 50-mission benchmark's executors took 3.6 ms more CPU
per task than bare Ray (new worker processes, each 0.3-0.4 s of CPU to start, in most rounds);
over one, 0.5 ms more.

Each start of a mission is recorded as an incarnation, with the mission's progress (finished
tasks and verdicts, `MissionView.progress`). A mission that starts again and again without
progress is isolated first: after ISOLATE_AFTER_STARTS such starts a shared host declines it and
the supervisor gives it a host of its own, so a mission that crashes its process cannot take the
others down with it forever. At CRASH_LOOP_STARTS it is failed as a crash loop instead of
restarting forever.
"""

from __future__ import annotations

import asyncio
import logging
import os
import pickle
import zlib
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import ray

from agentcoord.actors import NAMESPACE
from agentcoord.actors.agent_pool import agent_pool_handle
from agentcoord.actors.batching import SingleFlight
from agentcoord.actors.mission_ports import RayMissionPorts
from agentcoord.actors.mission_runner import MissionRunner
from agentcoord.actors.policy_checker import policy_checker_handle
from agentcoord.actors.task_writer import TaskChangeWriter
from agentcoord.clients import RoutingClient
from agentcoord.config import Config
from agentcoord.errors import ConflictError
from agentcoord.mission_view import MissionView
from agentcoord.states import MissionState
from agentcoord.store import Database
from agentcoord.store import missions as store
from agentcoord.store.mission_leases import MissionLeases

log = logging.getLogger(__name__)

ISOLATE_AFTER_STARTS = 2
"""A mission that started this many times in a row without progress gets its own host."""
CRASH_LOOP_STARTS = 5
"""This many starts in a row without progress fail the mission as a crash loop."""
ISOLATE = "isolate"
"""What `run` returns instead of a state when a shared host declines a suspect mission."""
HOST_POOL_SIZE = 8
"""Database connections per host and configuration; the missions of a host take turns on them."""
MAX_MISSIONS_PER_HOST = 10_000
"""Concurrent calls a host accepts (`run` waits for its mission's whole run)."""


def shared_host_name(index: int) -> str:
    return f"mission-host:{index}"


def isolated_host_name(mission_id: str) -> str:
    return f"mission-host:mission:{mission_id}"


def shared_host_index(mission_id: str, hosts: int) -> int:
    """The shared host of a mission: a stable hash, so every caller picks the same one."""
    return zlib.crc32(mission_id.encode()) % hosts


def shared_host_names(config: Config) -> list[str]:
    """Every shared host: the `mission_hosts` the missions are spread over, then the standby."""
    return [shared_host_name(index) for index in range(config.mission_hosts + 1)]


@dataclass
class _Wiring:
    """What the missions of one configuration share in a host: a database pool, the leases, the task
    writer (one statement per turn for all of them) and the ports."""

    db: Database
    leases: MissionLeases
    writer: TaskChangeWriter
    ports: RayMissionPorts


class MissionHostShell:
    """Drives the missions it is asked to run; `run` is idempotent per mission."""

    def __init__(self, *, name: str, shared: bool, config: Config) -> None:
        self._name = name
        self._shared = shared
        self._drives: SingleFlight[str, str] = SingleFlight()
        self._runners: dict[str, MissionRunner] = {}
        self._wirings: dict[bytes, asyncio.Future[_Wiring]] = {}
        # The agent slots an earlier process of this host held went with its attempts. Sent
        # before any acquire of this process, and Ray keeps one caller's calls to an actor in order.
        agent_pool_handle().forget.remote(name)
        # Wire up for the creator's config now (pool, actor handles: a few hundred ms), not when
        # the first mission arrives; a failure here is retried by that mission's `_wiring`.
        self._wiring_for(config).add_done_callback(lambda wiring: wiring.exception())

    async def run(self, mission_id: str, config: Config) -> str:
        """Drive the mission until it ends or parks; return its state's name (or ISOLATE).

        Concurrent calls for one mission share one drive.
        """
        return await self._drives(mission_id, lambda: self._drive(mission_id, config))

    async def wake(self, mission_id: str) -> None:
        """The store changed (cancelled, reviewed): act on it now rather than at the next poll."""
        runner = self._runners.get(mission_id)
        if runner is not None:
            runner.wake()

    async def pid(self) -> int:
        return os.getpid()

    async def _drive(self, mission_id: str, config: Config) -> str:
        wiring = await self._wiring(config)
        async with wiring.leases.hold(mission_id):  # a host cut off, not dead, may still drive it
            return await self._drive_held(mission_id, wiring)

    async def _drive_held(self, mission_id: str, wiring: _Wiring) -> str:
        runner = MissionRunner(mission_id=mission_id, db=wiring.db, ports=wiring.ports, writer=wiring.writer)
        view = await runner.refresh()
        if view.state.is_terminal:
            return view.state.value
        progress = view.progress
        async with wiring.db.transaction() as conn:
            earlier = await store.starts_without_progress(conn, mission_id=mission_id, progress=progress)
            if self._shared and earlier >= ISOLATE_AFTER_STARTS:
                log.warning("mission restarted %d times without progress: isolating it", earlier,
                            extra={"mission_id": mission_id})
                return ISOLATE
            incarnation = await store.record_incarnation(
                conn, mission_id=mission_id, pid=os.getpid(), progress=progress
            )
        streak = earlier + 1  # this start found the mission where the earlier ones did
        if streak >= CRASH_LOOP_STARTS:
            await self._fail_crash_loop(wiring.db, view, streak, incarnation)
            return MissionState.FAILED.value
        self._runners[mission_id] = runner
        try:
            return (await runner.run()).value
        finally:
            self._runners.pop(mission_id, None)

    async def _wiring(self, config: Config) -> _Wiring:
        return await asyncio.shield(self._wiring_for(config))

    def _wiring_for(self, config: Config) -> asyncio.Future[_Wiring]:
        """The pool and ports of `config`, made once (callers of one control plane share one config)."""
        key = pickle.dumps(config)
        wiring = self._wirings.get(key)
        if wiring is None or (wiring.done() and wiring.exception() is not None):
            wiring = asyncio.ensure_future(_wire(config, holder=self._name))
            self._wirings[key] = wiring
        return wiring

    async def _fail_crash_loop(self, db: Database, view: MissionView, streak: int, incarnation: int) -> None:
        reason = f"crash loop: the mission started {streak} times in a row without progress (no task finished, no verdict)"
        log.error(reason, extra={"mission_id": view.mission_id, "incarnation": incarnation})
        try:
            async with db.transaction() as conn:
                await store.set_mission_state(
                    conn, mission_id=view.mission_id, current=view.state, target=MissionState.FAILED,
                    reason=reason, actor="mission",
                )
        except ConflictError:
            pass  # someone else (a cancel) ended it first


async def _wire(config: Config, *, holder: str) -> _Wiring:
    assert config.database.url, "Mission hosts need a concrete DATABASE_URL"
    db = await Database.open(config.database.url, max_size=HOST_POOL_SIZE)
    ports = RayMissionPorts(
        config, db=db, holder=holder, policy_checker=policy_checker_handle(config), agent_pool=agent_pool_handle(),
        routing=RoutingClient(config.addresses.routing),
    )
    leases = MissionLeases(config.database.url)
    await leases.connect()
    return _Wiring(db=db, leases=leases, writer=TaskChangeWriter(db), ports=ports)


MissionHost = ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1)(MissionHostShell)


def mission_host(
    config: Config, mission_id: str, *, isolated: bool = False, avoid: Collection[str] = ()
) -> tuple[str, Any]:
    """Get or create the host that runs `mission_id`: (actor name, handle); detached, one per name.

    Its shared host unless `isolated`; a host of one mission is retired with ray.kill when its
    run ends. A shared host named in `avoid` (its process died, Ray is restarting it) is passed
    over for the next one in index order, the standby last, unless every shared host is in `avoid`.
    """
    if isolated:
        name = isolated_host_name(mission_id)
    else:
        hosts = shared_host_names(config)  # the standby last
        first = shared_host_index(mission_id, config.mission_hosts)
        names = hosts[first:-1] + hosts[:first] + hosts[-1:]
        name = next((candidate for candidate in names if candidate not in avoid), names[0])
    return name, _host(name, shared=not isolated, config=config)


def start_shared_hosts(config: Config) -> None:
    """Create every shared host now (get or create), so the first missions do not wait for their processes."""
    for name in shared_host_names(config):
        _host(name, shared=True, config=config)


def _host(name: str, *, shared: bool, config: Config) -> Any:
    return MissionHost.options(  # type: ignore[attr-defined]
        name=name, namespace=NAMESPACE, lifetime="detached", get_if_exists=True, max_concurrency=MAX_MISSIONS_PER_HOST
    ).remote(name=name, shared=shared, config=config)
