"""The Mission's logic without Ray: DAG order, policy blocks, bounded retries, resume after a crash."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from agentcoord.actors.agents import AgentOutcome
from agentcoord.actors.mission_runner import MissionRunner, RouteChoice
from agentcoord.actors.task_executor import AttemptReport, AttemptRequest
from agentcoord.config import Config
from agentcoord.missions import parse_mission
from agentcoord.policy import ActionRequest, Decision, load_policy
from agentcoord.states import MissionState
from agentcoord.store import Database
from agentcoord.store.missions import TaskRecord, insert_mission

DIAMOND = {
    "name": "diamond", "goal": "g",
    "tasks": [
        {"id": "a", "description": "first", "capabilities": ["code"]},
        {"id": "b", "description": "left", "depends_on": ["a"]},
        {"id": "c", "description": "right", "depends_on": ["a"]},
        {"id": "d", "description": "join", "depends_on": ["b", "c"]},
    ],
}


class ScriptedPorts:
    """Real policy; routing always to one agent; attempts follow a per-task script of outcomes."""

    def __init__(self, script: dict[str, list[str]] | None = None, *, hold: set[str] | None = None) -> None:
        self._policy = load_policy(Config.from_env({}).policy_file)
        self._script = {task: list(outcomes) for task, outcomes in (script or {}).items()}
        self.launched: list[tuple[str, str]] = []
        self.hold = hold or set()
        self.release = asyncio.Event()

    async def check_policy(self, request: ActionRequest) -> Decision:
        return self._policy.decide(request)

    async def route(self, mission_id: str, task: TaskRecord) -> RouteChoice:
        return RouteChoice(agent="sim-fast", decision_id=str(uuid.uuid4()), reason="test routing")

    def launch(self, request: AttemptRequest) -> Any:
        self.launched.append((request.run.task_id, request.run.attempt_id))
        return self._attempt(request)

    async def _attempt(self, request: AttemptRequest) -> AttemptReport:
        task_id = request.run.task_id
        if task_id in self.hold:
            await self.release.wait()
        queue = self._script.get(task_id)
        outcome = queue.pop(0) if queue else "ok"
        if outcome == "crash":
            raise RuntimeError("worker died")
        ok = outcome == "ok"
        return AttemptReport(
            attempt_id=request.run.attempt_id, outcome=AgentOutcome.SUCCEEDED if ok else AgentOutcome.FAILED,
            summary=f"did {task_id}", error="" if ok else "agent said no", cost_micro_usd=10,
            input_tokens=1, output_tokens=1, duration_ms=1,
        )


def _create(runner: Any, db: Database, document: dict[str, Any]) -> str:
    mission_id = str(uuid.uuid4())

    async def insert() -> None:
        async with db.transaction() as conn:
            await insert_mission(conn, mission_id=mission_id, request_id=None, spec=parse_mission(document), actor="test")

    runner.run(insert())
    return mission_id


def _tasks(url: str, mission_id: str) -> dict[str, tuple[str, int]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT task_id, state, attempts FROM tasks WHERE mission_id = %s", (mission_id,))
        return {task: (state, attempts) for task, state, attempts in rows}


@pytest.fixture
def setup(runner: Any, make_db: Callable[[str], Database], fresh_database_url: str) -> tuple[Database, str]:
    return make_db(fresh_database_url), fresh_database_url


def test_diamond_runs_in_dependency_order_and_completes(runner: Any, setup: tuple[Database, str]) -> None:
    db, url = setup
    mission_id = _create(runner, db, DIAMOND)
    ports = ScriptedPorts()
    assert runner.run(MissionRunner(mission_id=mission_id, db=db, ports=ports).run()) is MissionState.COMPLETED
    order = [task for task, _ in ports.launched]
    assert order[0] == "a" and order[-1] == "d" and set(order[1:3]) == {"b", "c"}
    assert _tasks(url, mission_id) == {t: ("succeeded", 1) for t in "abcd"}


def test_a_crashing_attempt_retries_only_that_task_with_a_new_attempt_id(runner: Any, setup: tuple[Database, str]) -> None:
    db, url = setup
    mission_id = _create(runner, db, DIAMOND)
    ports = ScriptedPorts({"b": ["crash", "fail", "ok"]})
    assert runner.run(MissionRunner(mission_id=mission_id, db=db, ports=ports).run()) is MissionState.COMPLETED
    assert _tasks(url, mission_id) == {"a": ("succeeded", 1), "b": ("succeeded", 3), "c": ("succeeded", 1), "d": ("succeeded", 1)}
    b_attempts = [attempt for task, attempt in ports.launched if task == "b"]
    assert len(set(b_attempts)) == 3
    with psycopg.connect(url) as conn:
        errors = [r[0] for r in conn.execute(
            "SELECT error FROM attempts WHERE mission_id = %s AND task_id = 'b' ORDER BY number", (mission_id,))]
    assert errors[0].startswith("attempt crashed: RuntimeError: worker died") and errors[1] == "agent said no"


def test_exhausted_retries_fail_the_task_and_the_mission_with_the_last_error(runner: Any, setup: tuple[Database, str]) -> None:
    db, url = setup
    mission_id = _create(runner, db, DIAMOND)
    ports = ScriptedPorts({"c": ["fail", "fail", "fail"]})
    runner_ = MissionRunner(mission_id=mission_id, db=db, ports=ports, max_attempts=3)
    assert runner.run(runner_.run()) is MissionState.FAILED
    tasks = _tasks(url, mission_id)
    assert tasks["c"] == ("failed", 3) and tasks["d"] == ("pending", 0) and tasks["b"] == ("succeeded", 1)
    with psycopg.connect(url) as conn:
        reason = conn.execute("SELECT reason FROM missions WHERE mission_id = %s", (mission_id,)).fetchone()[0]
    assert "task c failed: failed after 3 attempts; last error: agent said no" in reason
    assert "not run (dependencies did not succeed): d" in reason


def test_a_restarted_runner_resumes_without_redoing_finished_tasks(runner: Any, setup: tuple[Database, str]) -> None:
    db, url = setup
    mission_id = _create(runner, db, DIAMOND)
    first = ScriptedPorts(hold={"b"})  # b hangs: the "actor" dies while it runs

    async def crash_midway() -> None:
        run = asyncio.ensure_future(MissionRunner(mission_id=mission_id, db=db, ports=first).run())
        while _tasks(url, mission_id)["c"][0] != "succeeded" or _tasks(url, mission_id)["b"][0] != "running":
            await asyncio.sleep(0.01)
        run.cancel()
        await asyncio.gather(run, return_exceptions=True)

    runner.run(crash_midway())
    second = ScriptedPorts()
    assert runner.run(MissionRunner(mission_id=mission_id, db=db, ports=second).run()) is MissionState.COMPLETED
    assert [task for task, _ in second.launched] == ["b", "d"]  # a and c were not re-run
    tasks = _tasks(url, mission_id)
    assert tasks["a"] == ("succeeded", 1) and tasks["c"] == ("succeeded", 1) and tasks["b"] == ("succeeded", 2)
    with psycopg.connect(url) as conn:
        lost = conn.execute(
            "SELECT error FROM attempts WHERE mission_id = %s AND task_id = 'b' AND number = 1", (mission_id,)
        ).fetchone()[0]
    assert "attempt lost" in lost


def test_policy_denial_blocks_the_task_before_any_attempt(runner: Any, setup: tuple[Database, str]) -> None:
    db, url = setup
    document = {"name": "ship", "goal": "g", "tasks": [
        {"id": "deploy", "description": "ship it", "action": {"kind": "deploy", "environment": "production"}},
    ]}
    mission_id = _create(runner, db, document)
    ports = ScriptedPorts()
    assert runner.run(MissionRunner(mission_id=mission_id, db=db, ports=ports).run()) is MissionState.FAILED
    assert ports.launched == []
    assert _tasks(url, mission_id) == {"deploy": ("blocked_by_policy", 0)}
