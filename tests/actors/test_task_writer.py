"""TaskChangeWriter on a real PostgreSQL: the writes of one turn share a statement, and a conflict
stays with the caller that caused it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from agentcoord.actors.task_writer import TaskChangeWriter
from agentcoord.errors import ConflictError
from agentcoord.missions import parse_mission
from agentcoord.states import TaskState
from agentcoord.store import missions as store
from agentcoord.store.task_changes import (
    Applied,
    AttemptEnd,
    PolicyRecord,
    TaskChange,
    Transition,
    Written,
)

SPEC = parse_mission({"name": "w", "goal": "g", "tasks": [{"id": "a", "description": "x"}, {"id": "b", "description": "y"}]})
MISSIONS = ("m-write-1", "m-write-2", "m-write-3")


@pytest.fixture
def writer(runner, make_db, fresh_database_url: str) -> TaskChangeWriter:
    db = make_db(fresh_database_url)

    async def create() -> None:
        async with db.transaction() as conn:
            for mission_id in MISSIONS:
                await store.insert_mission(conn, mission_id=mission_id, request_id=None, spec=SPEC, actor="test")

    runner.run(create())
    return TaskChangeWriter(db)


def _start(mission_id: str, task_id: str, attempt_id: str, current: TaskState = TaskState.PENDING) -> TaskChange:
    steps: tuple[Transition | PolicyRecord, ...] = (Transition(TaskState.RUNNING),)
    if current is TaskState.PENDING:
        decision = PolicyRecord(f"d-{attempt_id}", {"kind": "code"}, "allow", (), "allowed", actor="policy-checker")
        steps = (decision, Transition(TaskState.ROUTED, "cheapest", agent="sim"), *steps)
    return TaskChange(mission_id, task_id, current, steps, actor="mission", starts=attempt_id, agent="sim")


def _finish(mission_id: str, task_id: str, attempt_id: str) -> TaskChange:
    return TaskChange(mission_id, task_id, TaskState.RUNNING, (Transition(TaskState.SUCCEEDED, "done"),),
                      actor="mission", ends=AttemptEnd(attempt_id, "succeeded"))


def _together(runner: Any, writer: TaskChangeWriter, *batches: list[TaskChange]) -> list[Written | BaseException]:
    async def write() -> list[Written | BaseException]:
        return await asyncio.gather(*(writer.write(batch) for batch in batches), return_exceptions=True)

    return runner.run(write())


def test_callers_of_one_turn_share_a_statement_and_each_gets_its_own_part(runner, writer) -> None:
    one, two = _together(runner, writer,
                         [_start(MISSIONS[0], "a", "at-1a"), _start(MISSIONS[0], "b", "at-1b")],
                         [_start(MISSIONS[1], "a", "at-2a")])
    assert isinstance(one, Written) and isinstance(two, Written)
    assert one.applied == [Applied(1), Applied(1)] and two.applied == [Applied(1)]
    assert [(e.mission_id, e.task_id, e.topic) for e in two.events] == [
        (MISSIONS[1], "a", "policy.decided"), (MISSIONS[1], "a", "task.state"), (MISSIONS[1], "a", "task.state")]
    assert {e.mission_id for e in one.events} == {MISSIONS[0]} and len(one.events) == 6
    assert len({e.xact_id for e in one.events + two.events}) == 1  # one statement, one transaction


def test_a_replayed_result_is_skipped_without_shifting_the_other_callers_events(runner, writer) -> None:
    _together(runner, writer, [_start(MISSIONS[0], "a", "at-1a")], [_start(MISSIONS[1], "a", "at-2a")])
    _together(runner, writer, [_finish(MISSIONS[0], "a", "at-1a")])
    replayed, fresh = _together(runner, writer, [_finish(MISSIONS[0], "a", "at-1a")],
                                [_finish(MISSIONS[1], "a", "at-2a")])
    assert isinstance(replayed, Written) and isinstance(fresh, Written)
    assert replayed == Written([None], [])
    assert fresh.applied == [Applied(1)]  # the task's attempt count
    assert [(e.mission_id, e.payload["to"]) for e in fresh.events] == [(MISSIONS[1], "succeeded")]


def test_a_conflict_fails_only_the_caller_that_caused_it(runner, writer) -> None:
    stale, fine, also_fine = _together(
        runner, writer,
        [_start(MISSIONS[0], "a", "at-1a", current=TaskState.ROUTED)],  # it is still pending
        [_start(MISSIONS[1], "a", "at-2a")],
        [_start(MISSIONS[2], "b", "at-3b")],
    )
    assert isinstance(stale, ConflictError) and f"task {MISSIONS[0]}/a is no longer routed" in str(stale)
    assert isinstance(fine, Written) and fine.applied == [Applied(1)]
    assert isinstance(also_fine, Written) and [e.mission_id for e in also_fine.events] == [MISSIONS[2]] * 3
