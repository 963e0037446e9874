"""The mission view: a fold of the log that follows each transition chain, in whatever order it is read."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from agentcoord.mission_view import MissionView
from agentcoord.states import MissionState, TaskState
from agentcoord.store.events import Event

AT = datetime(2026, 12, 4, tzinfo=UTC)
CHAIN = ["pending", "routed", "running", "awaiting_review", "accepted"]


def _event(event_id: int, topic: str, payload: dict[str, Any], *, task_id: str = "", xact_id: int = 0) -> Event:
    return Event(event_id=event_id, topic=topic, actor="test", mission_id="m1", task_id=task_id, payload=payload,
                 created_at=AT, xact_id=xact_id or event_id)


def _created() -> Event:
    task = {"id": "t1", "description": "d", "capabilities": ["code"], "depends_on": [],
            "action": {"kind": "edit", "environment": "", "paths": [], "command": ""}}
    return _event(1, "mission.created", {"name": "n", "goal": "g", "settings": {}, "tasks": [task]})


def _transitions() -> list[Event]:
    return [
        _event(10 + i, "task.state", {"from": start, "to": end}, task_id="t1")
        for i, (start, end) in enumerate(pairwise(CHAIN))
    ]


def test_a_review_ordered_before_the_transition_it_follows_still_lands_last() -> None:
    routed, running, awaiting, accepted = _transitions()
    # The review's transaction took its id before the runner's awaiting_review commit: bus order
    # puts "awaiting_review -> accepted" first.
    accepted = _event(accepted.event_id, accepted.topic, dict(accepted.payload), task_id="t1", xact_id=12)
    awaiting = _event(awaiting.event_id, awaiting.topic, dict(awaiting.payload), task_id="t1", xact_id=13)
    view = MissionView.fold("m1", [_created(), routed, running, accepted, awaiting])
    assert view.task("t1").state is TaskState.ACCEPTED
    assert view.held == []


@given(st.permutations(range(4)))
def test_a_chain_read_in_any_order_folds_to_the_same_state(order: list[int]) -> None:
    transitions = _transitions()
    shuffled = [_event(20 + i, transitions[k].topic, dict(transitions[k].payload), task_id="t1")
                for i, k in enumerate(order)]
    view = MissionView.fold("m1", [_created(), *shuffled])
    assert view.task("t1").state is TaskState.ACCEPTED
    assert view.held == []


def test_unsettled_events_are_folded_into_a_copy_and_again_once_settled() -> None:
    log = MissionView("m1")
    created, (routed, running, *_) = _created(), _transitions()
    current = log.advance([created, routed, running], horizon=running.xact_id)  # running is not settled yet
    assert current.task("t1").state is TaskState.RUNNING
    assert log.task("t1").state is TaskState.ROUTED and log.position == routed.position
    again = log.advance([running], horizon=running.xact_id + 1)
    assert again is log and log.task("t1").state is TaskState.RUNNING
    assert log.state is MissionState.CREATED


def test_progress_counts_finished_tasks_and_verdicts_so_rework_after_a_rejection_is_progress() -> None:
    routed, running, awaiting, _ = _transitions()
    view = MissionView.fold("m1", [_created(), routed, running, awaiting])
    assert view.progress == 0
    rework = [
        _event(20, "task.state", {"from": "awaiting_review", "to": "pending"}, task_id="t1"),
        _event(21, "task.state", {"from": "pending", "to": "routed"}, task_id="t1"),
        _event(22, "task.state", {"from": "routed", "to": "running"}, task_id="t1"),
        _event(23, "task.state", {"from": "running", "to": "awaiting_review"}, task_id="t1"),
    ]
    view.apply_all(rework)
    assert view.task("t1").state is TaskState.AWAITING_REVIEW and view.progress == 1  # rejected once
    view.apply(_event(24, "task.state", {"from": "awaiting_review", "to": "accepted"}, task_id="t1"))
    assert view.progress == 3  # a second verdict, and the task is finished
