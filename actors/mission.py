"""The Mission actor: a detached Ray actor per mission around `MissionRunner`.

Ray restarts it after a crash (max_restarts=-1) and re-delivers `run` (max_task_retries=-1);
the runner then resumes from the store. Its ports reach the PolicyChecker actor, the
RoutingService over gRPC, and TaskExecutor Ray tasks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

import ray

from agentcoord.actors import NAMESPACE
from agentcoord.actors.mission_runner import MissionRunner, RouteChoice
from agentcoord.actors.policy_checker import policy_checker_handle
from agentcoord.actors.task_executor import AttemptReport, AttemptRequest, run_attempt
from agentcoord.clients import RoutingClient
from agentcoord.config import Config
from agentcoord.policy import ActionRequest, Decision
from agentcoord.store import Database
from agentcoord.store.missions import TaskRecord
from agentcoord.v1 import routing_pb2


def mission_actor_name(mission_id: str) -> str:
    return f"mission:{mission_id}"


class RayMissionPorts:
    """MissionPorts over Ray and gRPC."""

    def __init__(self, config: Config, policy_checker: Any, routing: RoutingClient) -> None:
        self._config = config
        self._policy_checker = policy_checker
        self._routing = routing

    async def check_policy(self, request: ActionRequest) -> Decision:
        decision: Decision = await self._policy_checker.check.remote(request)
        return decision

    async def route(self, mission_id: str, task: TaskRecord) -> RouteChoice:
        response = await self._routing.route(
            routing_pb2.RouteRequest(
                mission_id=mission_id, task_id=task.spec.id, capabilities=list(task.spec.capabilities),
                description=task.spec.description,
            )
        )
        return RouteChoice(agent=response.agent, decision_id=response.decision_id, reason=response.reason)

    def launch(self, request: AttemptRequest) -> Awaitable[AttemptReport]:
        ref: Awaitable[AttemptReport] = run_attempt.remote(self._config, request)
        return ref


class MissionActorShell:
    """Runs its mission once per incarnation; concurrent `run` calls share that one run."""

    def __init__(self, config: Config, mission_id: str) -> None:
        self._config = config
        self._mission_id = mission_id
        self._run: asyncio.Task[str] | None = None

    async def run(self) -> str:
        """Drive the mission to a terminal state and return that state's name."""
        if self._run is None:
            self._run = asyncio.ensure_future(self._drive())
        return await asyncio.shield(self._run)

    async def _drive(self) -> str:
        assert self._config.database.url, "Mission actors need a concrete DATABASE_URL"
        db = await Database.open(self._config.database.url, max_size=2)
        routing = RoutingClient(self._config.addresses.routing)
        try:
            ports = RayMissionPorts(self._config, policy_checker_handle(self._config), routing)
            runner = MissionRunner(mission_id=self._mission_id, db=db, ports=ports)
            return (await runner.run()).value
        finally:
            await routing.close()
            await db.close()


MissionActor = ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1)(MissionActorShell)


def mission_actor(config: Config, mission_id: str) -> Any:
    """Get or create the detached Mission actor of `mission_id` (one per mission, by name)."""
    return MissionActor.options(  # type: ignore[attr-defined]
        name=mission_actor_name(mission_id), namespace=NAMESPACE, lifetime="detached", get_if_exists=True
    ).remote(config, mission_id)
