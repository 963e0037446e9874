"""The Mission's logic without Ray: DAG order, policy blocks, bounded retries, resume after a crash."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scripted_ports import ScriptedPorts, create_mission, task_states

from agentcoord.actors.mission_runner import MissionRunner
from agentcoord.mission_view import MissionView
from agentcoord.policy import ActionRequest, Decision
from agentcoord.states import MissionState
from agentcoord.store import Database
from agentcoord.store.missions import mission_events, set_mission_state

DIAMOND = {
    "name": "diamond", "goal": "g",
    "tasks": [
        {"id": "a", "description": "first", "capabilities": ["code"]},
        {"id": "b", "description": "left", "depends_on": ["a"]},
        {"id": "c", "description": "right", "depends_on": ["a"]},
        {"id": "d", "description": "join", "depends_on": ["b", "c"]},
    ],
}


@pytest.fixture
def setup(runner: Any, make_db: Callable[[str], Database], fresh_database_url: str) -> tuple[Database, str]:
    return make_db(fresh_database_url), fresh_database_url


def test_diamond_runs_in_dependency_order_and_completes(runner: Any, setup: tuple[Database, str]) -> None:
    db, url = setup
    mission_id = create_mission(runner, db, DIAMOND)
    ports = ScriptedPorts()
    assert runner.run(MissionRunner(mission_id=mission_id, db=db, ports=ports).run()) is MissionState.COMPLETED
    order = [task for task, _ in ports.launched]
    assert order[0] == "a" and order[-1] == "d" and set(order[1:3]) == {"b", "c"}
    assert task_states(url, mission_id) == {t: ("succeeded", 1) for t in "abcd"}


def test_a_crashing_attempt_retries_only_that_task_with_a_new_attempt_id(runner: Any, setup: tuple[Database, str]) -> None:
    db, url = setup
    mission_id = create_mission(runner, db, DIAMOND)
    ports = ScriptedPorts({"b": ["crash", "fail", "ok"]})
    assert runner.run(MissionRunner(mission_id=mission_id, db=db, ports=ports).run()) is MissionState.COMPLETED
    assert task_states(url, mission_id) == {"a": ("succeeded", 1), "b": ("succeeded", 3), "c": ("succeeded", 1), "d": ("succeeded", 1)}
    b_attempts = [attempt for task, attempt in ports.launched if task == "b"]
    assert len(set(b_attempts)) == 3
    with psycopg.connect(url) as conn:
        errors = [r[0] for r in conn.execute(
            "SELECT error FROM attempts WHERE mission_id = %s AND task_id = 'b' ORDER BY number", (mission_id,))]
    assert errors[0].startswith("attempt crashed: RuntimeError: worker died") and errors[1] == "agent said no"


def test_exhausted_retries_fail_the_task_and_the_mission_with_the_last_error(runner: Any, setup: tuple[Database, str]) -> None:
    db, url = setup
    mission_id = create_mission(runner, db, DIAMOND)
    ports = ScriptedPorts({"c": ["fail", "fail", "fail"]})
    assert runner.run(MissionRunner(mission_id=mission_id, db=db, ports=ports).run()) is MissionState.FAILED
    tasks = task_states(url, mission_id)
    assert tasks["c"] == ("failed", 3) and tasks["d"] == ("pending", 0) and tasks["b"] == ("succeeded", 1)
    with psycopg.connect(url) as conn:
        reason = conn.execute("SELECT reason FROM missions WHERE mission_id = %s", (mission_id,)).fetchone()[0]
    assert "task c failed: failed after 3 attempts; last error: agent said no" in reason
    assert "not run: d" in reason


def test_a_restarted_runner_resumes_without_redoing_finished_tasks(runner: Any, setup: tuple[Database, str]) -> None:
    db, url = setup
    mission_id = create_mission(runner, db, DIAMOND)
    first = ScriptedPorts(hold={"b"})  # b hangs: the "actor" dies while it runs

    async def crash_midway() -> None:
        run = asyncio.ensure_future(MissionRunner(mission_id=mission_id, db=db, ports=first).run())
        while task_states(url, mission_id)["c"][0] != "succeeded" or task_states(url, mission_id)["b"][0] != "running":
            await asyncio.sleep(0.01)
        run.cancel()
        await asyncio.gather(run, return_exceptions=True)

    runner.run(crash_midway())
    second = ScriptedPorts()
    assert runner.run(MissionRunner(mission_id=mission_id, db=db, ports=second).run()) is MissionState.COMPLETED
    assert [task for task, _ in second.launched] == ["b", "d"]  # a and c were not re-run
    tasks = task_states(url, mission_id)
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
    mission_id = create_mission(runner, db, document)
    ports = ScriptedPorts()
    assert runner.run(MissionRunner(mission_id=mission_id, db=db, ports=ports).run()) is MissionState.FAILED
    assert ports.launched == []
    assert task_states(url, mission_id) == {"deploy": ("blocked_by_policy", 0)}


WIDE = {
    "name": "wide", "goal": "g", "max_parallel": 3,
    "tasks": [{"id": f"t{i}", "description": f"task {i}"} for i in range(8)],
}


def test_parallel_tasks_respect_the_mission_and_agent_limits(runner: Any, setup: tuple[Database, str]) -> None:
    db, _ = setup
    ports = ScriptedPorts(delay_s=0.3)
    mission_id = create_mission(runner, db, WIDE)
    assert runner.run(MissionRunner(mission_id=mission_id, db=db, ports=ports).run()) is MissionState.COMPLETED
    assert ports.peak_running == 3  # max_parallel of the mission, reached and never exceeded
    limited = ScriptedPorts(agent_limit=2, delay_s=0.3)
    mission_id = create_mission(runner, db, WIDE)
    assert runner.run(MissionRunner(mission_id=mission_id, db=db, ports=limited).run()) is MissionState.COMPLETED
    assert limited.peak_slots == 2 and limited.peak_running <= 2
    # Tasks that waited for a slot were checked against policy once, when they were routed.
    assert limited.policy_checks == len(WIDE["tasks"])


def test_tasks_touching_the_same_paths_are_serialised_and_the_deferral_recorded(
    runner: Any, setup: tuple[Database, str]
) -> None:
    db, url = setup
    document = {"name": "conflict", "goal": "g", "tasks": [
        {"id": "api", "description": "edit api", "action": {"kind": "edit", "paths": ["src/api"]}},
        {"id": "handler", "description": "edit handler", "action": {"kind": "edit", "paths": ["src/api/handler.py"]}},
        {"id": "docs", "description": "edit docs", "action": {"kind": "edit", "paths": ["docs/*.md"]}},
    ]}
    mission_id = create_mission(runner, db, document)
    ports = ScriptedPorts(hold={"api"})

    async def scenario() -> MissionState:
        run = asyncio.ensure_future(MissionRunner(mission_id=mission_id, db=db, ports=ports).run())
        while len(ports.launched) < 2:
            await asyncio.sleep(0.01)
        assert {task for task, _ in ports.launched} == {"api", "docs"}  # handler waits for api
        ports.release.set()
        return await run

    assert runner.run(scenario()) is MissionState.COMPLETED
    assert [task for task, _ in ports.launched][-1] == "handler"
    with psycopg.connect(url) as conn:
        deferred = conn.execute(
            "SELECT task_id, payload->>'blocked_by' FROM events WHERE mission_id = %s AND topic = 'task.deferred'",
            (mission_id,),
        ).fetchall()
    assert deferred == [("handler", "api")]


def test_fail_fast_stops_the_mission_at_the_first_failure(runner: Any, setup: tuple[Database, str]) -> None:
    db, url = setup
    document = {**DIAMOND, "on_failure": "fail_fast", "max_attempts": 1}
    mission_id = create_mission(runner, db, document)
    ports = ScriptedPorts({"b": ["fail"]}, hold={"c"})
    assert runner.run(MissionRunner(mission_id=mission_id, db=db, ports=ports).run()) is MissionState.FAILED
    tasks = task_states(url, mission_id)
    assert tasks["b"] == ("failed", 1) and tasks["c"] == ("failed", 1) and tasks["d"] == ("pending", 0)
    assert ports.cancelled == 1  # c was running and was cancelled


def test_cancelling_in_the_store_stops_running_attempts(runner: Any, setup: tuple[Database, str]) -> None:
    db, url = setup
    mission_id = create_mission(runner, db, DIAMOND)
    ports = ScriptedPorts(hold={"b", "c"})

    async def scenario() -> MissionState:
        mission_runner = MissionRunner(mission_id=mission_id, db=db, ports=ports)
        run = asyncio.ensure_future(mission_runner.run())
        while len(ports.running) < 2:
            await asyncio.sleep(0.01)
        async with db.transaction() as conn:
            await set_mission_state(conn, mission_id=mission_id, current=MissionState.RUNNING,
                                    target=MissionState.CANCELLED, reason="user asked", actor="test")
        mission_runner.wake()
        return await run

    assert runner.run(scenario()) is MissionState.CANCELLED
    assert ports.cancelled == 2
    tasks = task_states(url, mission_id)
    assert tasks["b"][0] == tasks["c"][0] == "failed" and tasks["d"] == ("pending", 0)


def test_the_fold_of_the_event_log_matches_the_tables(runner: Any, setup: tuple[Database, str]) -> None:
    db, url = setup
    mission_id = create_mission(runner, db, DIAMOND)
    runner.run(MissionRunner(mission_id=mission_id, db=db, ports=ScriptedPorts({"b": ["fail", "ok"]})).run())

    async def fold() -> MissionView:
        async with db.transaction() as conn:
            return MissionView.fold(mission_id, await mission_events(conn, mission_id))

    view = runner.run(fold())
    assert view.state is MissionState.COMPLETED
    assert {t.spec.id: (t.state.value, t.attempts) for t in view.ordered_tasks()} == task_states(url, mission_id)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_random_dags_complete_in_a_topological_order(runner: Any, setup: tuple[Database, str], data: st.DataObject) -> None:
    db, url = setup
    size = data.draw(st.integers(min_value=1, max_value=12))
    tasks = []
    for i in range(size):
        deps = data.draw(st.lists(st.integers(0, i - 1), max_size=3, unique=True)) if i else []
        tasks.append({"id": f"n{i}", "description": "x", "depends_on": [f"n{d}" for d in deps]})
    mission_id = create_mission(runner, db, {"name": "random", "goal": "g", "max_parallel": 4, "tasks": tasks})
    assert runner.run(MissionRunner(mission_id=mission_id, db=db, ports=ScriptedPorts()).run()) is MissionState.COMPLETED
    with psycopg.connect(url) as conn:
        window = {t: (s, e) for t, s, e in conn.execute(
            "SELECT task_id, started_at, ended_at FROM attempts WHERE mission_id = %s", (mission_id,))}
    for task in tasks:
        for dep in task["depends_on"]:
            assert window[dep][1] <= window[task["id"]][0]  # every dependency ended before the task started


def test_a_goal_only_mission_is_planned_then_run(runner: Any, setup: tuple[Database, str]) -> None:
    db, url = setup
    ports = ScriptedPorts()
    ports.invalid_plans = 2  # two rejected proposals, then a valid plan
    mission_id = create_mission(runner, db, {"name": "planned", "goal": "Add rate limiting to the public API"})
    assert runner.run(MissionRunner(mission_id=mission_id, db=db, ports=ports).run()) is MissionState.COMPLETED
    tasks = task_states(url, mission_id)
    assert len(tasks) >= 4 and all(state == "succeeded" for state, _ in tasks.values())
    with psycopg.connect(url) as conn:
        rejected = conn.execute(
            "SELECT jsonb_array_length(payload->'rejected') FROM events WHERE mission_id = %s AND topic = 'mission.planned'",
            (mission_id,),
        ).fetchone()[0]
    assert rejected == 2


def test_a_planner_that_never_gives_a_valid_plan_fails_the_mission_with_its_reasons(
    runner: Any, setup: tuple[Database, str]
) -> None:
    db, url = setup
    ports = ScriptedPorts()
    ports.invalid_plans = 5
    mission_id = create_mission(runner, db, {"name": "unplannable", "goal": "Do something vague"})
    assert runner.run(MissionRunner(mission_id=mission_id, db=db, ports=ports).run()) is MissionState.FAILED
    with psycopg.connect(url) as conn:
        reason = conn.execute("SELECT reason FROM missions WHERE mission_id = %s", (mission_id,)).fetchone()[0]
    assert reason.startswith("planning failed") and "plan proposal 3" in reason
    assert ports.launched == []


def test_a_spent_hard_budget_blocks_the_next_attempt_as_a_policy_denial(runner: Any, setup: tuple[Database, str]) -> None:
    db, url = setup
    ports = ScriptedPorts()
    ports.budget_left = 1  # the budget covers one attempt, then it is spent
    mission_id = create_mission(runner, db, DIAMOND)
    assert runner.run(MissionRunner(mission_id=mission_id, db=db, ports=ports).run()) is MissionState.FAILED
    assert [task for task, _ in ports.launched] == ["a"]
    tasks = task_states(url, mission_id)
    assert tasks["a"] == ("succeeded", 1) and tasks["b"] == tasks["c"] == ("blocked_by_policy", 0)
    with psycopg.connect(url) as conn:
        rules = conn.execute(
            "SELECT DISTINCT rule_ids FROM policy_decisions WHERE mission_id = %s AND effect = 'deny'", (mission_id,)
        ).fetchall()
    assert rules == [(["budget-hard-stop"],)]


def test_an_agent_stopped_by_its_policy_hook_blocks_the_task_without_retrying(
    runner: Any, setup: tuple[Database, str]
) -> None:
    db, url = setup
    mission_id = create_mission(runner, db, DIAMOND)
    ports = ScriptedPorts({"b": ["blocked"]})
    assert runner.run(MissionRunner(mission_id=mission_id, db=db, ports=ports).run()) is MissionState.FAILED
    assert task_states(url, mission_id)["b"] == ("blocked_by_policy", 1)
    with psycopg.connect(url) as conn:
        reason = conn.execute("SELECT reason FROM tasks WHERE mission_id = %s AND task_id = 'b'", (mission_id,)).fetchone()[0]
    assert reason == "deny by no-production-deploys: tool call denied"


def test_a_retry_resumes_the_session_the_last_attempt_reported(runner: Any, setup: tuple[Database, str]) -> None:
    db, _ = setup
    mission_id = create_mission(runner, db, DIAMOND)
    ports = ScriptedPorts({"a": ["session:sess-42", "ok"]})
    ports.db = db
    assert runner.run(MissionRunner(mission_id=mission_id, db=db, ports=ports).run()) is MissionState.COMPLETED
    a_runs = [run for run in ports.runs if run.task_id == "a"]
    assert [(run.attempt_number, run.resume_session_id) for run in a_runs] == [(1, ""), (2, "sess-42")]


def test_every_attempt_gets_the_context_the_mission_chose(runner: Any, setup: tuple[Database, str]) -> None:
    db, _ = setup
    context = ["Decision: greetings are plain ASCII", "Lesson: run the linter before committing"]
    mission_id = create_mission(runner, db, {**DIAMOND, "context": context})
    ports = ScriptedPorts()
    assert runner.run(MissionRunner(mission_id=mission_id, db=db, ports=ports).run()) is MissionState.COMPLETED
    assert {run.context for run in ports.runs} == {tuple(context)}


class CountingPorts(ScriptedPorts):
    """ScriptedPorts that note how many policy checks are under way at once."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.checking = 0
        self.peak_checking = 0

    async def check_policy(self, request: ActionRequest) -> Decision:
        self.checking += 1
        self.peak_checking = max(self.peak_checking, self.checking)
        await asyncio.sleep(0.01)
        self.checking -= 1
        return await super().check_policy(request)


def test_a_round_of_ready_tasks_is_checked_together_and_started_in_one_transaction(
    runner: Any, setup: tuple[Database, str]
) -> None:
    db, url = setup
    ports = CountingPorts(delay_s=0.3)
    mission_id = create_mission(runner, db, WIDE)
    assert runner.run(MissionRunner(mission_id=mission_id, db=db, ports=ports).run()) is MissionState.COMPLETED
    with psycopg.connect(url) as conn:
        first_round = conn.execute(
            "SELECT count(DISTINCT xact_id), count(*) FROM events WHERE mission_id = %s AND topic = 'task.state'"
            " AND payload->>'to' = 'running' AND task_id = ANY(%s)", (mission_id, ["t0", "t1", "t2"]),
        ).fetchone()
    assert ports.peak_checking == 3  # the round's checks ran concurrently (the ports batch them)
    assert first_round == (1, 3)  # one commit started the whole round
