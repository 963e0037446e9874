"""The Mission actor: a detached Ray actor per mission around `MissionRunner`.

It starts driving its mission in its constructor, so after a crash Ray's restart alone resumes
the mission (max_restarts=-1); `run` (re-delivered by max_task_retries=-1) only waits for that.
Each start is recorded as an incarnation: a run of starts with no task finishing in between is a
crash loop, and the mission is failed with that reason instead of restarting forever.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable
from typing import Any

import ray

from agentcoord.actors import NAMESPACE
from agentcoord.actors.agent_pool import agent_pool_handle
from agentcoord.actors.batching import Coalescer
from agentcoord.actors.mission_runner import MissionRunner, RouteChoice
from agentcoord.actors.planner import PLAN_CAPABILITY, run_planning
from agentcoord.actors.policy_checker import policy_checker_handle
from agentcoord.actors.task_executor import AttemptReport, AttemptRequest, run_attempt
from agentcoord.clients import BudgetClient, RoutingClient
from agentcoord.config import Config
from agentcoord.errors import ConflictError
from agentcoord.mission_view import MissionView, TaskView
from agentcoord.planning import PlanResult
from agentcoord.policy import ActionRequest, Decision
from agentcoord.states import MissionState
from agentcoord.store import Database
from agentcoord.store import missions as store
from agentcoord.v1 import routing_pb2

log = logging.getLogger(__name__)

CRASH_LOOP_STARTS = 5
"""This many starts in a row with no task finishing in between fail the mission as a crash loop."""


def mission_actor_name(mission_id: str) -> str:
    return f"mission:{mission_id}"


class RayMissionPorts:
    """MissionPorts over Ray and gRPC."""

    def __init__(
        self, config: Config, *, policy_checker: Any, agent_pool: Any, routing: RoutingClient, budgets: BudgetClient
    ) -> None:
        self._config = config
        self._policy_checker = policy_checker
        self._agent_pool = agent_pool
        self._routing = routing
        self._budgets = budgets
        # A round's concurrent checks go out as one actor call each (see MissionRunner._start_round).
        self._policy_batch: Coalescer[ActionRequest, Decision] = Coalescer(self._check_policies)
        self._slot_batch: Coalescer[tuple[str, str, int], bool] = Coalescer(self._acquire_slots)
        self._budget_checks: dict[tuple[str, str], asyncio.Future[tuple[bool, str]]] = {}

    async def check_policy(self, request: ActionRequest) -> Decision:
        return await self._policy_batch(request)

    async def _check_policies(self, requests: list[ActionRequest]) -> list[Decision]:
        decisions: list[Decision] = await self._policy_checker.check_many.remote(requests)
        return decisions

    async def _acquire_slots(self, requests: list[tuple[str, str, int]]) -> list[bool]:
        granted: list[bool] = await self._agent_pool.acquire_many.remote(requests)
        return granted

    async def route(self, mission_id: str, task: TaskView) -> RouteChoice:
        response = await self._routing.route(
            routing_pb2.RouteRequest(
                mission_id=mission_id, task_id=task.spec.id, capabilities=list(task.spec.capabilities),
                description=task.spec.description,
            )
        )
        return RouteChoice(agent=response.agent, decision_id=response.decision_id, reason=response.reason)

    async def check_budget(self, mission_id: str, agent: str) -> tuple[bool, str]:
        """Concurrent checks of the same (mission, agent) share one call; later ones ask again."""
        key = (mission_id, agent)
        check = self._budget_checks.get(key)
        if check is None:
            check = asyncio.ensure_future(self._budgets.check(mission_id=mission_id, agent=agent))
            self._budget_checks[key] = check
            check.add_done_callback(lambda _: self._budget_checks.pop(key, None))
        return await asyncio.shield(check)

    async def acquire_agent_slot(self, agent: str, attempt_id: str) -> bool:
        return await self._slot_batch((agent, attempt_id, self._config.agent(agent).max_concurrency))

    async def release_agent_slot(self, attempt_id: str) -> None:
        # Sent, not awaited: Ray runs an actor's calls from one caller in order, so this Mission's
        # next acquire already sees the slot free. Should this process die in the instant before
        # Ray sends it, the slot stays taken until the pool restarts (see agent_pool).
        self._agent_pool.release.remote(attempt_id)

    def launch(self, request: AttemptRequest) -> Awaitable[AttemptReport]:
        ref: Awaitable[AttemptReport] = run_attempt.remote(self._config, request)
        return ref

    def cancel(self, attempt: Awaitable[AttemptReport], *, force: bool) -> None:
        ray.cancel(attempt, force=force)  # type: ignore[arg-type]

    async def plan(self, mission_id: str, goal: str) -> PlanResult:
        response = await self._routing.route(
            routing_pb2.RouteRequest(
                mission_id=mission_id, task_id="plan", capabilities=[PLAN_CAPABILITY], description=goal
            )
        )
        result: PlanResult = await run_planning.remote(self._config, response.agent, goal)
        return result


class MissionActorShell:
    """Drives its mission from construction; `run` waits for the outcome, `wake` hurries it."""

    def __init__(self, config: Config, mission_id: str) -> None:
        self._config = config
        self._mission_id = mission_id
        self._runner: MissionRunner | None = None
        self._drive_task = asyncio.ensure_future(self._drive())  # Ray runs async actors' __init__ on their loop

    async def run(self) -> str:
        """Wait until the mission reaches a terminal state; return that state's name."""
        return await asyncio.shield(self._drive_task)

    async def wake(self) -> None:
        """The store changed (cancelled, reviewed): act on it now rather than at the next poll."""
        if self._runner is not None:
            self._runner.wake()

    async def pid(self) -> int:
        return os.getpid()

    async def _drive(self) -> str:
        assert self._config.database.url, "Mission actors need a concrete DATABASE_URL"
        # One connection: the runner makes one store call at a time, and a node runs many Missions.
        db = await Database.open(self._config.database.url, max_size=1)
        routing = RoutingClient(self._config.addresses.routing)
        budgets = BudgetClient(self._config.addresses.cost)
        try:
            ports = RayMissionPorts(
                self._config, policy_checker=policy_checker_handle(self._config), agent_pool=agent_pool_handle(),
                routing=routing, budgets=budgets,
            )
            self._runner = MissionRunner(mission_id=self._mission_id, db=db, ports=ports)
            view = await self._runner.refresh()
            if not view.state.is_terminal and await self._crash_looping(db, view):
                return MissionState.FAILED.value
            return (await self._runner.run()).value
        finally:
            await routing.close()
            await budgets.close()
            await db.close()

    async def _crash_looping(self, db: Database, view: MissionView) -> bool:
        progress = sum(1 for t in view.ordered_tasks() if t.state.is_terminal)
        async with db.transaction() as conn:
            incarnation, streak = await store.record_incarnation(
                conn, mission_id=self._mission_id, pid=os.getpid(), progress=progress
            )
        if streak < CRASH_LOOP_STARTS:
            return False
        reason = f"crash loop: the mission actor started {streak} times in a row without finishing a task"
        log.error(reason, extra={"mission_id": self._mission_id, "incarnation": incarnation})
        try:
            async with db.transaction() as conn:
                await store.set_mission_state(
                    conn, mission_id=self._mission_id, current=view.state, target=MissionState.FAILED,
                    reason=reason, actor="mission",
                )
        except ConflictError:
            pass  # someone else (a cancel) ended it first
        return True


MissionActor = ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1)(MissionActorShell)


def mission_actor(config: Config, mission_id: str) -> Any:
    """Get or create the detached Mission actor of `mission_id` (one per mission, by name)."""
    return MissionActor.options(  # type: ignore[attr-defined]
        name=mission_actor_name(mission_id), namespace=NAMESPACE, lifetime="detached", get_if_exists=True
    ).remote(config, mission_id)
