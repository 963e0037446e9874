"""Supervision on a real Ray: a killed Mission host is restarted and its mission resumes; the supervisor re-attaches."""

from __future__ import annotations

import dataclasses
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import ray

from agentcoord.actors.supervisor import running_host, supervisor_handle
from agentcoord.budgets import Budget, BudgetPeriod, BudgetScope
from agentcoord.clients import CostClient, MissionClient, timestamp
from agentcoord.missions import load_mission_file, parse_mission
from agentcoord.services.mission.convert import create_request
from agentcoord.states import MissionState, TaskState
from agentcoord.store import missions as store
from agentcoord.store.budgets import upsert_budget
from agentcoord.store.task_changes import TaskChange, Transition, apply_task_changes
from agentcoord.v1 import cost_pb2

HELLO = Path(__file__).resolve().parents[2] / "examples" / "missions" / "hello.yaml"


def _state(url: str, mission_id: str) -> tuple[str, dict[str, tuple[str, int]]]:
    with psycopg.connect(url) as conn:
        state = conn.execute("SELECT state FROM missions WHERE mission_id = %s", (mission_id,)).fetchone()[0]
        tasks = {t: (s, a) for t, s, a in conn.execute(
            "SELECT task_id, state, attempts FROM tasks WHERE mission_id = %s", (mission_id,))}
    return state, tasks


def _wait(predicate: Any, deadline_s: float = 60.0) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached before the deadline")


def test_killed_mission_actor_restarts_and_finishes_without_rerunning_done_tasks(stack: Any) -> None:
    url = stack.config.database.url
    client = MissionClient(stack.address)
    try:
        mission_id = client.create(create_request(load_mission_file(HELLO), request_id="")).mission.mission_id
    finally:
        client.close()
    _wait(lambda: _state(url, mission_id)[1]["write"][0] == "succeeded")
    ray.kill(running_host(mission_id), no_restart=False)  # a crash: the supervisor runs the mission again on a live host
    _wait(lambda: _state(url, mission_id)[0] == "completed")
    _, tasks = _state(url, mission_id)
    assert tasks["write"] == ("succeeded", 1)  # finished before the crash: never re-run
    assert all(s == "succeeded" for s, _ in tasks.values())
    with psycopg.connect(url) as conn:
        keys = {r[0] for r in conn.execute("SELECT idempotency_key FROM usage_events WHERE mission_id = %s", (mission_id,))}
        attempts = {f"attempt:{r[0]}" for r in conn.execute("SELECT attempt_id FROM attempts WHERE mission_id = %s", (mission_id,))}
    # Usage is keyed by attempt: every usage row belongs to a recorded attempt, each counted once,
    # and every task that succeeded was paid for.
    assert keys <= attempts and len(keys) >= len(tasks)


def test_after_a_full_restart_the_supervisor_reattaches_unfinished_missions(stack: Any, runner: Any) -> None:
    """The store says a mission was running with an attempt in flight, and no actor exists (Ray went away)."""
    url = stack.config.database.url
    mission_id = str(uuid.uuid4())
    spec = parse_mission({"name": "orphan", "goal": "g", "tasks": [
        {"id": "a", "description": "first", "capabilities": ["code"]},
        {"id": "b", "description": "second", "capabilities": ["code"], "depends_on": ["a"]},
    ]})

    async def orphan() -> None:
        async with stack.db.transaction() as conn:
            await store.insert_mission(conn, mission_id=mission_id, request_id=None, spec=spec, actor="test")
            for current, target in ((MissionState.CREATED, MissionState.PLANNING), (MissionState.PLANNING, MissionState.RUNNING)):
                await store.set_mission_state(conn, mission_id=mission_id, current=current, target=target, actor="test")
            await store.set_task_state(conn, mission_id=mission_id, task_id="a", current=TaskState.PENDING,
                                       target=TaskState.ROUTED, agent="sim-fast", actor="test")
            await apply_task_changes(conn, [TaskChange(
                mission_id, "a", TaskState.ROUTED, (Transition(TaskState.RUNNING),), actor="test",
                starts=str(uuid.uuid4()), agent="sim-fast")])

    runner.run(orphan())
    reattached = ray.get(supervisor_handle(stack.config).reattach.remote(stack.config), timeout=60)
    assert mission_id in reattached
    _wait(lambda: _state(url, mission_id)[0] == "completed")
    _, tasks = _state(url, mission_id)
    assert tasks == {"a": ("succeeded", 2), "b": ("succeeded", 1)}  # the lost attempt was retried, once


def test_a_mission_whose_runs_keep_failing_is_rerun_then_failed_with_the_error(stack: Any, runner: Any) -> None:
    """Routing unreachable: each run raises; the supervisor runs it afresh, then fails the mission."""
    url = stack.config.database.url
    mission_id = str(uuid.uuid4())
    spec = parse_mission({"name": "unroutable", "goal": "g", "tasks": [{"id": "a", "description": "x"}]})
    broken = dataclasses.replace(stack.config, addresses=dataclasses.replace(stack.config.addresses, routing="127.0.0.1:1"))

    async def insert() -> None:
        async with stack.db.transaction() as conn:
            await store.insert_mission(conn, mission_id=mission_id, request_id=None, spec=spec, actor="test")

    runner.run(insert())
    ray.get(supervisor_handle(stack.config).start_mission.remote(mission_id, broken), timeout=30)
    _wait(lambda: _state(url, mission_id)[0] == "failed", deadline_s=90)
    with psycopg.connect(url) as conn:
        reason = conn.execute("SELECT reason FROM missions WHERE mission_id = %s", (mission_id,)).fetchone()[0]
        starts = conn.execute("SELECT count(*) FROM mission_incarnations WHERE mission_id = %s", (mission_id,)).fetchone()[0]
    assert reason.startswith("mission failed 4 runs; last error:") and "RoutingService at 127.0.0.1:1" in reason
    assert starts == 4  # a fresh start each run


def test_a_spent_hard_budget_blocks_the_mission_in_its_host(stack: Any, runner: Any) -> None:
    """The Mission host reads the budgets itself: spend at the hard limit blocks the first attempt."""
    url = stack.config.database.url
    mission_id = str(uuid.uuid4())
    spec = parse_mission({"name": "over budget", "goal": "g", "tasks": [{"id": "a", "description": "x"}]})

    async def spent() -> None:
        async with stack.db.transaction() as conn:
            await store.insert_mission(conn, mission_id=mission_id, request_id=None, spec=spec, actor="test")
            await upsert_budget(conn, Budget(BudgetScope.MISSION, mission_id, BudgetPeriod.TOTAL, hard_limit_micro_usd=5))

    runner.run(spent())
    cost = CostClient(stack.address)
    try:
        now = datetime.now(UTC)
        cost.record_usage(cost_pb2.UsageEvent(
            idempotency_key=f"spent-{mission_id}", mission_id=mission_id, task_id="earlier", agent="sim-fast",
            cost_micro_usd=5, started_at=timestamp(now - timedelta(seconds=1)), ended_at=timestamp(now)))
    finally:
        cost.close()
    ray.get(supervisor_handle(stack.config).start_mission.remote(mission_id, stack.config), timeout=60)
    _wait(lambda: _state(url, mission_id)[0] == "failed")
    assert _state(url, mission_id)[1] == {"a": ("blocked_by_policy", 0)}
    with psycopg.connect(url) as conn:
        reason = conn.execute("SELECT reason FROM tasks WHERE mission_id = %s", (mission_id,)).fetchone()[0]
    assert reason == f"deny by budget-hard-stop: budget mission:{mission_id}/total spent $0.0000 of hard limit $0.0000"
