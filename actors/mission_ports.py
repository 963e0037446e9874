"""RayMissionPorts: what a MissionRunner needs from the outside world, over Ray and gRPC.

One instance serves every mission of a Mission host, so the concurrent checks of all their rounds
go out together: per event-loop turn, one PolicyChecker, one RoutingService and one AgentPool
call, and one budget query.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Any

import ray

from agentcoord.actors.agent_pool import SlotRequest
from agentcoord.actors.batching import Coalescer
from agentcoord.actors.mission_runner import RouteChoice
from agentcoord.actors.planner import PLAN_CAPABILITY, run_planning
from agentcoord.actors.task_executor import AttemptReport, AttemptRequest, run_attempt
from agentcoord.clients import RoutingClient
from agentcoord.config import Config
from agentcoord.errors import NoEligibleAgentError
from agentcoord.mission_view import TaskView
from agentcoord.planning import PlanResult
from agentcoord.policy import ActionRequest, Decision
from agentcoord.store import Database
from agentcoord.store.budgets import hard_budget_checks
from agentcoord.v1 import routing_pb2

RELEASE_LINGER_S = 0.05
"""How long a freed agent slot waits for an acquire to ride along with before it is sent alone."""


class RayMissionPorts:
    """MissionPorts over Ray, gRPC (routing) and the store (budgets)."""

    def __init__(
        self, config: Config, *, db: Database, holder: str, policy_checker: Any, agent_pool: Any,
        routing: RoutingClient,
    ) -> None:
        self._config = config
        self._db = db
        self._holder = holder
        """Who takes this host's agent slots: its actor name (see AgentPool.forget)."""
        self._policy_checker = policy_checker
        self._agent_pool = agent_pool
        self._routing = routing
        # A round's concurrent checks go out as one call each (see MissionRunner._start_round).
        self._policy_batch: Coalescer[ActionRequest, Decision] = Coalescer(self._check_policies)
        self._slot_batch: Coalescer[SlotRequest, bool] = Coalescer(self._acquire_slots)
        self._route_batch: Coalescer[routing_pb2.RouteRequest, routing_pb2.RouteResult] = Coalescer(routing.route_batch)
        self._budget_batch: Coalescer[tuple[str, str], tuple[bool, str]] = Coalescer(self._check_budgets)
        self._releases: list[str] = []

    async def check_policy(self, request: ActionRequest) -> Decision:
        return await self._policy_batch(request)

    async def _check_policies(self, requests: list[ActionRequest]) -> list[Decision]:
        decisions: list[Decision] = await self._policy_checker.check_many.remote(requests)
        return decisions

    async def _acquire_slots(self, requests: list[SlotRequest]) -> list[bool]:
        # The releases gathered so far ride along, and go first: these requests can have their slots.
        released, self._releases = self._releases, []
        granted: list[bool] = await self._agent_pool.acquire_many.remote(
            requests, released=released, holder=self._holder
        )
        return granted

    async def route(self, mission_id: str, task: TaskView) -> RouteChoice:
        result = await self._route_batch(
            routing_pb2.RouteRequest(
                mission_id=mission_id, task_id=task.spec.id, capabilities=list(task.spec.capabilities),
                description=task.spec.description,
            )
        )
        if result.WhichOneof("result") == "no_eligible_agent":
            raise NoEligibleAgentError(result.no_eligible_agent)
        decision = result.decision
        return RouteChoice(agent=decision.agent, decision_id=decision.decision_id, reason=decision.reason)

    async def check_budget(self, mission_id: str, agent: str) -> tuple[bool, str]:
        """The checks of one event-loop turn, of every mission of the host, are one statement.

        The host reads the budgets' spend from the store itself, as the CostService would,
        instead of making a gRPC call around the same statement.
        """
        return await self._budget_batch((mission_id, agent))

    async def _check_budgets(self, requests: list[tuple[str, str]]) -> list[tuple[bool, str]]:
        asked = list(dict.fromkeys(requests))  # a mission's round asks once per agent
        async with self._db.connection() as conn:
            decisions = await hard_budget_checks(
                conn, at=datetime.now(UTC), attempts=[(mission_id, agent, ()) for mission_id, agent in asked]
            )
        answers = {request: (decision.allowed, decision.reason) for request, decision in zip(asked, decisions, strict=True)}
        return [answers[request] for request in requests]

    async def acquire_agent_slot(self, agent: str, attempt_id: str, *, waiter: str) -> bool:
        return await self._slot_batch((agent, attempt_id, self._config.agent(agent).max_concurrency, waiter))

    async def release_agent_slot(self, attempt_id: str) -> None:
        # Not sent at once: the next acquire of any mission of this host carries it (a finished
        # attempt is usually followed by its successor's start), or it leaves alone after
        # RELEASE_LINGER_S. Ray runs an actor's calls from one caller in order, so a release is
        # never overtaken by a later acquire of this host. Releases this process never sent are
        # dropped with its other leases when it restarts (AgentPool.forget).
        self._releases.append(attempt_id)
        if len(self._releases) == 1:
            asyncio.get_running_loop().call_later(RELEASE_LINGER_S, self._send_releases)

    def _send_releases(self) -> None:
        released, self._releases = self._releases, []
        if released:
            self._agent_pool.release_many.remote(released)

    def launch(self, request: AttemptRequest) -> Awaitable[AttemptReport]:
        # The config goes by value (under a kilobyte, inlined in the task): an object-store
        # reference cost the raylet about 0.3 ms more per attempt than serialising it.
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
