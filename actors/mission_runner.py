"""The Mission's logic: walk the task DAG, check policy, route, run attempts, record every step.

State of record is PostgreSQL: the runner reloads the mission from the store each round and every
transition is written (with its outbox event) before it counts. A restarted runner therefore
resumes where the last one stopped: finished tasks stay finished, and attempts that never
reported are closed as lost and retried with a new attempt id.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Protocol

from agentcoord.actors.agents import AgentOutcome, AgentRun
from agentcoord.actors.task_executor import AttemptReport, AttemptRequest
from agentcoord.errors import NoEligibleAgentError
from agentcoord.policy import ActionRequest, Decision, Effect
from agentcoord.states import MissionState, TaskState
from agentcoord.store import Database
from agentcoord.store import missions as store
from agentcoord.store.missions import MissionRecord, TaskRecord

log = logging.getLogger(__name__)

ACTOR = "mission"


@dataclass(frozen=True)
class RouteChoice:
    """The agent the routing service picked for a task."""

    agent: str
    decision_id: str
    reason: str


class MissionPorts(Protocol):
    """What a Mission needs from the outside world (Ray and gRPC in production, fakes in tests)."""

    async def check_policy(self, request: ActionRequest) -> Decision: ...

    async def route(self, mission_id: str, task: TaskRecord) -> RouteChoice: ...

    def launch(self, request: AttemptRequest) -> Awaitable[AttemptReport]: ...


class MissionRunner:
    """Drives one mission to a terminal state."""

    def __init__(
        self, *, mission_id: str, db: Database, ports: MissionPorts, max_parallel: int = 4, max_attempts: int = 3
    ) -> None:
        self._mission_id = mission_id
        self._db = db
        self._ports = ports
        self._max_parallel = max_parallel
        self._max_attempts = max_attempts
        self._in_flight: dict[asyncio.Future[AttemptReport], tuple[str, str]] = {}
        self._review_required: set[str] = set()

    async def run(self) -> MissionState:
        """Run until every reachable task is finished; return the mission's final state."""
        mission = await self._load()
        if mission.state.is_terminal:
            return mission.state
        if mission.state is MissionState.CREATED:
            await self._set_mission(mission.state, MissionState.PLANNING)
            mission = await self._load()
        if mission.state is MissionState.PLANNING:
            # The mission file listed its tasks: the plan is the file. Goal-only planning comes later.
            await self._set_mission(mission.state, MissionState.RUNNING)
        await self._close_lost_attempts()
        while True:
            mission = await self._load()
            for task in self._ready(mission):
                await self._start(mission, task)
            if not self._in_flight:
                break
            done, _ = await asyncio.wait(list(self._in_flight), return_when=asyncio.FIRST_COMPLETED)
            for future in done:
                task_id, attempt_id = self._in_flight.pop(future)
                await self._finish(task_id, attempt_id, future)
        return await self._conclude(await self._load())

    def _ready(self, mission: MissionRecord) -> list[TaskRecord]:
        """Tasks that can start now: routed ones first (resumed), then pending ones whose deps succeeded."""
        busy = {task_id for task_id, _ in self._in_flight.values()}
        done = {t.spec.id for t in mission.tasks if t.state.is_success}
        candidates = [t for t in mission.tasks if t.state is TaskState.ROUTED and t.spec.id not in busy]
        candidates += [
            t for t in mission.tasks
            if t.state is TaskState.PENDING and all(dep in done for dep in t.spec.depends_on)
        ]
        return candidates[: max(0, self._max_parallel - len(self._in_flight))]

    async def _start(self, mission: MissionRecord, task: TaskRecord) -> None:
        decision = await self._ports.check_policy(self._action(task))
        if decision.effect is Effect.REQUIRE_REVIEW:
            self._review_required.add(task.spec.id)
        state, agent = task.state, task.agent
        if state is TaskState.PENDING:
            async with self._db.transaction() as conn:
                await store.insert_policy_decision(
                    conn, decision_id=str(uuid.uuid4()), mission_id=self._mission_id, task_id=task.spec.id,
                    action=self._action_payload(task), effect=decision.effect.value,
                    rule_ids=list(decision.rule_ids), reason=decision.reason, actor="policy-checker",
                )
                if decision.effect is Effect.DENY:
                    await store.set_task_state(
                        conn, mission_id=self._mission_id, task_id=task.spec.id, current=state,
                        target=TaskState.BLOCKED_BY_POLICY, reason=decision.reason, actor=ACTOR,
                    )
            if decision.effect is Effect.DENY:
                log.info("task blocked by policy", extra={"mission_id": self._mission_id, "task_id": task.spec.id})
                return
            try:
                choice = await self._ports.route(self._mission_id, task)
            except NoEligibleAgentError as exc:
                await self._set_task(task.spec.id, state, TaskState.FAILED, reason=str(exc))
                return
            await self._set_task(task.spec.id, state, TaskState.ROUTED, agent=choice.agent, reason=choice.reason)
            state, agent = TaskState.ROUTED, choice.agent
        attempt_id = str(uuid.uuid4())
        async with self._db.transaction() as conn:
            number = await store.start_attempt(
                conn, attempt_id=attempt_id, mission_id=self._mission_id, task_id=task.spec.id, agent=agent,
                actor=ACTOR,
            )
        run = AgentRun(
            attempt_id=attempt_id, mission_id=self._mission_id, task_id=task.spec.id, attempt_number=number,
            goal=mission.goal, description=task.spec.description, capabilities=task.spec.capabilities,
        )
        future = asyncio.ensure_future(self._ports.launch(AttemptRequest(agent=agent, run=run)))
        self._in_flight[future] = (task.spec.id, attempt_id)

    async def _finish(self, task_id: str, attempt_id: str, future: asyncio.Future[AttemptReport]) -> None:
        try:
            report = future.result()
            outcome, summary, error = report.outcome, report.summary, report.error
        except Exception as exc:  # noqa: BLE001 -- any crash of the attempt (worker died, service down) retries only this task
            outcome, summary, error = AgentOutcome.FAILED, "", f"attempt crashed: {type(exc).__name__}: {exc}"
        async with self._db.transaction() as conn:
            await store.finish_attempt(conn, attempt_id=attempt_id, outcome=outcome.value, summary=summary, error=error)
            mission = await store.get_mission(conn, self._mission_id)
            task = mission.task(task_id)
            if outcome is AgentOutcome.SUCCEEDED:
                target = TaskState.AWAITING_REVIEW if task_id in self._review_required else TaskState.SUCCEEDED
                reason = summary
            elif task.attempts < self._max_attempts:
                target, reason = TaskState.ROUTED, f"retrying after attempt {task.attempts} failed: {error}"
            else:
                target, reason = TaskState.FAILED, f"failed after {task.attempts} attempts; last error: {error}"
            await store.set_task_state(
                conn, mission_id=self._mission_id, task_id=task_id, current=task.state, target=target,
                reason=reason, actor=ACTOR, extra={"attempt_id": attempt_id},
            )

    async def _close_lost_attempts(self) -> None:
        """Attempts a previous incarnation started but never heard back from are lost: retry them."""
        async with self._db.transaction() as conn:
            for attempt in await store.unfinished_attempts(conn, self._mission_id):
                await store.finish_attempt(
                    conn, attempt_id=attempt["attempt_id"], outcome=AgentOutcome.FAILED.value, summary="",
                    error="attempt lost: the mission actor restarted while it ran",
                )
                await store.set_task_state(
                    conn, mission_id=self._mission_id, task_id=attempt["task_id"], current=TaskState.RUNNING,
                    target=TaskState.ROUTED, reason="resuming after mission restart", actor=ACTOR,
                )

    async def _conclude(self, mission: MissionRecord) -> MissionState:
        states = {t.spec.id: t.state for t in mission.tasks}
        if all(s.is_success for s in states.values()):
            target, reason = MissionState.COMPLETED, f"all {len(states)} tasks succeeded"
        elif all(s.is_success or s is TaskState.AWAITING_REVIEW for s in states.values()):
            target, reason = MissionState.AWAITING_REVIEW, "results wait for review"
        else:
            problems = [
                f"task {t.spec.id} {t.state.value}: {t.reason}" for t in mission.tasks
                if t.state.is_terminal and not t.state.is_success
            ]
            unreached = [t.spec.id for t in mission.tasks if t.state is TaskState.PENDING]
            if unreached:
                problems.append(f"not run (dependencies did not succeed): {', '.join(unreached)}")
            target, reason = MissionState.FAILED, "; ".join(problems)
        await self._set_mission(mission.state, target, reason=reason)
        log.info("mission %s", target.value, extra={"mission_id": self._mission_id})
        return target

    async def _load(self) -> MissionRecord:
        async with self._db.transaction() as conn:
            return await store.get_mission(conn, self._mission_id)

    async def _set_mission(self, current: MissionState, target: MissionState, *, reason: str = "") -> None:
        async with self._db.transaction() as conn:
            await store.set_mission_state(
                conn, mission_id=self._mission_id, current=current, target=target, reason=reason, actor=ACTOR
            )

    async def _set_task(
        self, task_id: str, current: TaskState, target: TaskState, *, agent: str | None = None, reason: str = ""
    ) -> None:
        async with self._db.transaction() as conn:
            await store.set_task_state(
                conn, mission_id=self._mission_id, task_id=task_id, current=current, target=target, agent=agent,
                reason=reason, actor=ACTOR,
            )

    def _action(self, task: TaskRecord) -> ActionRequest:
        action = task.spec.action
        return ActionRequest(
            kind=action.kind, environment=action.environment, paths=action.paths, command=action.command,
            agent=task.agent, mission_id=self._mission_id, task_id=task.spec.id,
        )

    @staticmethod
    def _action_payload(task: TaskRecord) -> dict[str, object]:
        action = task.spec.action
        return {"kind": action.kind, "environment": action.environment, "paths": list(action.paths),
                "command": action.command}
