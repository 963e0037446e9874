"""apply_task_changes: a round of task writes as one statement, all of it or none of it."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from agentcoord.errors import ConflictError, IllegalTransitionError
from agentcoord.missions import parse_mission
from agentcoord.states import TaskState
from agentcoord.store import missions as store
from agentcoord.store.task_changes import (
    Applied,
    AttemptEnd,
    PolicyRecord,
    TaskChange,
    Transition,
    apply_task_changes,
)

MISSION = "m-round"
SPEC = parse_mission({"name": "round", "goal": "g", "tasks": [
    {"id": "a", "description": "x"}, {"id": "b", "description": "y"}, {"id": "c", "description": "z"},
]})


def _record(decision_id: str, effect: str = "allow", reason: str = "allowed") -> PolicyRecord:
    return PolicyRecord(decision_id, {"kind": "code"}, effect, ("r1",) if effect != "allow" else (), reason,
                        actor="policy-checker")


def _round() -> list[TaskChange]:
    """a: decided, routed and started; b: denied by policy; c: routed, then blocked by the budget."""
    return [
        TaskChange(MISSION, "a", TaskState.PENDING, (
            _record("d-a"), Transition(TaskState.ROUTED, "cheapest", agent="sim"), Transition(TaskState.RUNNING),
        ), actor="mission", starts="at-a1", agent="sim"),
        TaskChange(MISSION, "b", TaskState.PENDING, (
            _record("d-b", "deny", "deny by r1"), Transition(TaskState.BLOCKED_BY_POLICY, "deny by r1"),
        ), actor="mission"),
        TaskChange(MISSION, "c", TaskState.PENDING, (
            _record("d-c1"), Transition(TaskState.ROUTED, "cheapest", agent="sim"),
            _record("d-c2", "deny", "over budget"), Transition(TaskState.BLOCKED_BY_POLICY, "over budget"),
        ), actor="mission"),
    ]


def _snapshot(url: str) -> dict[str, Any]:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        return {
            "tasks": {r["task_id"]: (r["state"], r["agent"], r["attempts"]) for r in conn.execute(
                "SELECT task_id, state, agent, attempts FROM tasks WHERE mission_id = %s", (MISSION,))},
            "events": [(r["task_id"], r["topic"], r["actor"], r["payload"]) for r in conn.execute(
                "SELECT task_id, topic, actor, payload FROM events WHERE mission_id = %s AND topic <> 'mission.created'"
                " ORDER BY event_id", (MISSION,))],
            "decisions": sorted(r["decision_id"] for r in conn.execute(
                "SELECT decision_id FROM policy_decisions WHERE mission_id = %s", (MISSION,))),
            "attempts": {r["attempt_id"]: (r["task_id"], r["number"], r["outcome"]) for r in conn.execute(
                "SELECT attempt_id, task_id, number, outcome FROM attempts WHERE mission_id = %s", (MISSION,))},
        }


@pytest.fixture
def db(runner, make_db, fresh_database_url: str):
    database = make_db(fresh_database_url)

    async def create() -> None:
        async with database.transaction() as conn:
            await store.insert_mission(conn, mission_id=MISSION, request_id=None, spec=SPEC, actor="test")

    runner.run(create())
    return database


def _apply(runner, db, url: str, changes: list[TaskChange]) -> list[Applied | None]:
    """Apply `changes`; check the events it returns are the ones it stored, in order."""
    before = len(_snapshot(url)["events"])

    async def apply() -> Any:
        async with db.connection() as conn:
            return await apply_task_changes(conn, changes)

    written = runner.run(apply())
    stored = _snapshot(url)["events"][before:]
    assert [(e.task_id, e.topic, e.actor, e.payload) for e in written.events] == stored
    return written.applied


def test_a_round_is_written_in_one_statement_with_every_event_in_order(runner, db, fresh_database_url: str) -> None:
    assert _apply(runner, db, fresh_database_url, _round()) == [Applied(1), Applied(0), Applied(0)]
    written = _snapshot(fresh_database_url)
    assert written["tasks"] == {"a": ("running", "sim", 1), "b": ("blocked_by_policy", "", 0),
                                "c": ("blocked_by_policy", "sim", 0)}
    assert written["decisions"] == ["d-a", "d-b", "d-c1", "d-c2"]
    assert written["attempts"] == {"at-a1": ("a", 1, None)}
    assert [(task, topic, actor) for task, topic, actor, _ in written["events"]] == [
        ("a", "policy.decided", "policy-checker"), ("a", "task.state", "mission"), ("a", "task.state", "mission"),
        ("b", "policy.decided", "policy-checker"), ("b", "task.state", "mission"),
        ("c", "policy.decided", "policy-checker"), ("c", "task.state", "mission"),
        ("c", "policy.decided", "policy-checker"), ("c", "task.state", "mission"),
    ]
    moves = [(p["from"], p["to"]) for task, topic, _, p in written["events"] if topic == "task.state"]
    assert moves == [("pending", "routed"), ("routed", "running"), ("pending", "blocked_by_policy"),
                     ("pending", "routed"), ("routed", "blocked_by_policy")]
    running = written["events"][2][3]
    assert running == {"from": "routed", "to": "running", "reason": "", "attempt_id": "at-a1", "attempt": 1}


def test_a_round_with_one_stale_task_writes_nothing_and_names_it(runner, db, fresh_database_url: str) -> None:
    before = _snapshot(fresh_database_url)
    stale = _round()
    stale[1] = TaskChange(MISSION, "b", TaskState.ROUTED, (Transition(TaskState.RUNNING),), actor="mission",
                          starts="at-b1", agent="sim")
    with pytest.raises(ConflictError, match=f"task {MISSION}/b is no longer routed"):
        _apply(runner, db, fresh_database_url, stale)
    assert _snapshot(fresh_database_url) == before  # not a's decision, move or attempt either


def test_an_attempt_outcome_is_recorded_once_and_a_replay_changes_nothing(runner, db, fresh_database_url: str) -> None:
    _apply(runner, db, fresh_database_url, _round()[:1])
    failed = TaskChange(MISSION, "a", TaskState.RUNNING, (Transition(TaskState.ROUTED, "retrying"),),
                        actor="mission", ends=AttemptEnd("at-a1", "failed", error="boom"))
    assert _apply(runner, db, fresh_database_url, [failed]) == [Applied(1)]
    after_first = _snapshot(fresh_database_url)
    assert _apply(runner, db, fresh_database_url, [failed]) == [None]  # the same result again: skipped whole, no conflict
    assert _snapshot(fresh_database_url) == after_first
    retry = TaskChange(MISSION, "a", TaskState.ROUTED, (Transition(TaskState.RUNNING),), actor="mission",
                       starts="at-a2", agent="sim")
    assert _apply(runner, db, fresh_database_url, [retry]) == [Applied(2)]
    assert _snapshot(fresh_database_url)["attempts"] == {"at-a1": ("a", 1, "failed"), "at-a2": ("a", 2, None)}


def test_a_decision_alone_leaves_the_task_as_it_is(runner, db, fresh_database_url: str) -> None:
    change = TaskChange(MISSION, "a", None, (_record("d-hook", "deny", "no force-push"),), actor="hook")
    assert _apply(runner, db, fresh_database_url, [change]) == [Applied(0)]
    written = _snapshot(fresh_database_url)
    assert written["tasks"]["a"] == ("pending", "", 0)
    assert written["decisions"] == ["d-hook"]
    assert [(task, topic) for task, topic, _, _ in written["events"]] == [("a", "policy.decided")]


def test_a_move_the_lifecycle_forbids_is_refused_before_anything_is_written(
    runner, db, fresh_database_url: str
) -> None:
    before = _snapshot(fresh_database_url)
    illegal = TaskChange(MISSION, "a", TaskState.PENDING, (Transition(TaskState.SUCCEEDED),), actor="mission")
    with pytest.raises(IllegalTransitionError):
        _apply(runner, db, fresh_database_url, [*_round()[1:], illegal])
    assert _snapshot(fresh_database_url) == before


def test_a_task_is_finished_once_and_its_other_moves_stay_hot_updates(runner, db, fresh_database_url: str) -> None:
    """Only the move to a terminal state writes an indexed column (finished_at, migration 0013);
    the others are HOT updates, which add nothing to the indexes of tasks."""

    async def apply_and_count(changes: list[TaskChange]) -> int:
        """HOT updates of tasks by `changes` (the backend's pending count can include earlier transactions')."""
        async with db.transaction() as conn:
            before = await hot_updates(conn)
            await apply_task_changes(conn, changes)
            return await hot_updates(conn) - before

    async def hot_updates(conn: Any) -> int:
        cur = await conn.execute("SELECT pg_stat_get_xact_tuples_hot_updated('tasks'::regclass) AS hot")
        row = await cur.fetchone()
        assert row is not None
        return int(row["hot"])

    moves = [TaskChange(MISSION, "a", TaskState.PENDING, (Transition(TaskState.ROUTED, "cheapest", agent="sim"),),
                        actor="mission"),
             TaskChange(MISSION, "a", TaskState.ROUTED, (Transition(TaskState.RUNNING),), actor="mission",
                        starts="at-a1", agent="sim")]
    assert [runner.run(apply_and_count([move])) for move in moves] == [1, 1]
    with psycopg.connect(fresh_database_url) as conn:
        assert conn.execute("SELECT finished_at FROM tasks WHERE mission_id = %s AND task_id = 'a'",
                            (MISSION,)).fetchone() == (None,)
    finish = TaskChange(MISSION, "a", TaskState.RUNNING, (Transition(TaskState.SUCCEEDED, "done"),), actor="mission",
                        ends=AttemptEnd("at-a1", "succeeded"))
    assert runner.run(apply_and_count([finish])) == 0  # finished_at changed: the indexes get the new version
    with psycopg.connect(fresh_database_url) as conn:
        finished = conn.execute("SELECT finished_at IS NOT NULL FROM tasks WHERE mission_id = %s AND task_id = 'a'",
                                (MISSION,)).fetchone()
    assert finished == (True,)
