"""Fakes for running a MissionRunner without Ray: scripted attempts, real policy, real store."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import psycopg

from agentcoord.actors.agent_pool import AgentPool
from agentcoord.actors.agents import AgentOutcome
from agentcoord.actors.agents.sim_planner import SimulatedPlanner
from agentcoord.actors.mission_runner import RouteChoice
from agentcoord.actors.task_executor import AttemptReport, AttemptRequest
from agentcoord.config import Config
from agentcoord.mission_view import TaskView
from agentcoord.missions import parse_mission
from agentcoord.planning import PlanResult, plan_tasks
from agentcoord.policy import ActionRequest, Decision, load_policy
from agentcoord.store import Database
from agentcoord.store.agents import record_session
from agentcoord.store.missions import insert_mission


class ScriptedPorts:
    """Real policy; routing always to one agent; attempts follow a per-task script of outcomes."""

    def __init__(
        self, script: dict[str, list[str]] | None = None, *, hold: set[str] | None = None, agent_limit: int = 100,
        delay_s: float = 0.01,
    ) -> None:
        self._policy = load_policy(Config.from_env({}).policy_file)
        self._script = {task: list(outcomes) for task, outcomes in (script or {}).items()}
        self.launched: list[tuple[str, str]] = []
        self.hold = hold or set()
        self.release = asyncio.Event()
        self.pool = AgentPool()
        self.agent_limit = agent_limit
        self.running: set[str] = set()
        self.peak_running = 0
        self.peak_slots = 0
        self.cancelled = 0
        self.delay_s = delay_s
        self.invalid_plans = 0
        self.runs: list[Any] = []
        self.budget_left: int | None = None  # attempts the budget allows; None = no budget
        self.policy_checks = 0

    async def check_policy(self, request: ActionRequest) -> Decision:
        self.policy_checks += 1
        return self._policy.decide(request)

    async def route(self, mission_id: str, task: TaskView) -> RouteChoice:
        return RouteChoice(agent="sim-fast", decision_id=str(uuid.uuid4()), reason="test routing")

    async def check_budget(self, mission_id: str, agent: str) -> tuple[bool, str]:
        if self.budget_left is None:
            return True, ""
        if self.budget_left <= 0:
            return False, "budget mission/total spent $1.0000 of hard limit $1.0000"
        self.budget_left -= 1
        return True, ""

    async def acquire_agent_slot(self, agent: str, attempt_id: str, *, waiter: str) -> bool:
        granted = self.pool.acquire(agent, attempt_id, self.agent_limit, waiter=waiter)
        self.peak_slots = max(self.peak_slots, self.pool.in_use().get(agent, 0))
        return granted

    async def release_agent_slot(self, attempt_id: str) -> None:
        self.pool.release(attempt_id)

    def launch(self, request: AttemptRequest) -> Any:
        self.launched.append((request.run.task_id, request.run.attempt_id))
        self.runs.append(request.run)
        self.running.add(request.run.task_id)
        self.peak_running = max(self.peak_running, len(self.running))
        return asyncio.ensure_future(self._attempt(request))

    async def plan(self, mission_id: str, goal: str) -> PlanResult:
        return plan_tasks(goal, planner=SimulatedPlanner(invalid_proposals=self.invalid_plans), max_tries=3)

    def cancel(self, attempt: Any, *, force: bool) -> None:
        self.cancelled += 1
        attempt.cancel()

    async def _attempt(self, request: AttemptRequest) -> AttemptReport:
        task_id = request.run.task_id
        try:
            if task_id in self.hold:
                await self.release.wait()
            await asyncio.sleep(self.delay_s)
        finally:
            self.running.discard(task_id)
        queue = self._script.get(task_id)
        outcome = queue.pop(0) if queue else "ok"
        if outcome == "crash":
            raise RuntimeError("worker died")
        if outcome.startswith("session:"):  # the attempt reports its agent session, then dies
            async with self.db.transaction() as conn:
                await record_session(conn, attempt_id=request.run.attempt_id, mission_id=request.run.mission_id,
                                     task_id=task_id, agent=request.agent, session_id=outcome.split(":", 1)[1])
            raise RuntimeError("worker died after the session started")
        outcome, _, verdict = outcome.partition("+")  # "ok+rejected": a simulated reviewer's verdict comes along
        ok = outcome == "ok"
        result = {"ok": AgentOutcome.SUCCEEDED, "fail": AgentOutcome.FAILED, "blocked": AgentOutcome.BLOCKED_BY_POLICY}
        return AttemptReport(
            attempt_id=request.run.attempt_id, outcome=result[outcome],
            summary=f"did {task_id}", error="" if ok else ("tool call denied" if outcome == "blocked" else "agent said no"),
            cost_micro_usd=10, input_tokens=1, output_tokens=1, duration_ms=1,
            policy_rule_ids=("no-production-deploys",) if outcome == "blocked" else (), simulated_verdict=verdict,
        )


def create_mission(runner: Any, db: Database, document: dict[str, Any]) -> str:
    mission_id = str(uuid.uuid4())

    async def insert() -> None:
        async with db.transaction() as conn:
            await insert_mission(conn, mission_id=mission_id, request_id=None, spec=parse_mission(document), actor="test")

    runner.run(insert())
    return mission_id


def task_states(url: str, mission_id: str) -> dict[str, tuple[str, int]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT task_id, state, attempts FROM tasks WHERE mission_id = %s", (mission_id,))
        return {task: (state, attempts) for task, state, attempts in rows}
