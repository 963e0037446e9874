"""RayMissionPorts: what a MissionRunner needs from the outside world, over Ray and gRPC.

One instance serves every mission of a Mission host, so the concurrent checks of all their rounds
go out together (one PolicyChecker and one AgentPool call per event-loop turn).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

import ray

from agentcoord.actors.batching import Coalescer
from agentcoord.actors.mission_runner import RouteChoice
from agentcoord.actors.planner import PLAN_CAPABILITY, run_planning
from agentcoord.actors.task_executor import AttemptReport, AttemptRequest, run_attempt
from agentcoord.clients import BudgetClient, RoutingClient
from agentcoord.config import Config
from agentcoord.mission_view import TaskView
from agentcoord.planning import PlanResult
from agentcoord.policy import ActionRequest, Decision
from agentcoord.v1 import routing_pb2


class RayMissionPorts:
    """MissionPorts over Ray and gRPC."""

    def __init__(
        self, config: Config, *, policy_checker: Any, agent_pool: Any, routing: RoutingClient, budgets: BudgetClient
    ) -> None:
        self._config = config
        # Sent to every attempt: put in the object store once instead of serialised per task.
        # The host owns it; should the host die, its attempts are lost with it anyway.
        self._config_ref = ray.put(config)
        self._policy_checker = policy_checker
        self._agent_pool = agent_pool
        self._routing = routing
        self._budgets = budgets
        # A round's concurrent checks go out as one actor call each (see MissionRunner._start_round).
        self._policy_batch: Coalescer[ActionRequest, Decision] = Coalescer(self._check_policies)
        self._slot_batch: Coalescer[tuple[str, str, int], bool] = Coalescer(self._acquire_slots)
        self._budget_checks: dict[tuple[str, str], asyncio.Future[tuple[bool, str]]] = {}
        self._releases: list[str] = []

    async def check_policy(self, request: ActionRequest) -> Decision:
        return await self._policy_batch(request)

    async def _check_policies(self, requests: list[ActionRequest]) -> list[Decision]:
        decisions: list[Decision] = await self._policy_checker.check_many.remote(requests)
        return decisions

    async def _acquire_slots(self, requests: list[tuple[str, str, int]]) -> list[bool]:
        if self._releases:  # slots freed in this turn go first, so these requests can have them
            self._send_releases()
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
        # Sent, not awaited, and the releases of one event-loop turn (every mission of this host)
        # go out as one call. Ray runs an actor's calls from one caller in order, and the batch
        # leaves at the end of this turn, before any later acquire: this Mission's next acquire
        # already sees the slot free. Should this process die before Ray sends it, the slot
        # stays taken until the pool restarts (see agent_pool).
        self._releases.append(attempt_id)
        if len(self._releases) == 1:
            asyncio.get_running_loop().call_soon(self._send_releases)

    def _send_releases(self) -> None:
        released, self._releases = self._releases, []
        if released:
            self._agent_pool.release_many.remote(released)

    def launch(self, request: AttemptRequest) -> Awaitable[AttemptReport]:
        ref: Awaitable[AttemptReport] = run_attempt.remote(self._config_ref, request)
        return ref

    def cancel(self, attempt: Awaitable[AttemptReport], *, force: bool) -> None:
        ray.cancel(attempt, force=force)  # type: ignore[arg-type]

    async def plan(self, mission_id: str, goal: str) -> PlanResult:
        response = await self._routing.route(
            routing_pb2.RouteRequest(
                mission_id=mission_id, task_id="plan", capabilities=[PLAN_CAPABILITY], description=goal
            )
        )
        result: PlanResult = await run_planning.remote(self._config_ref, response.agent, goal)
        return result
