"""Lifecycle state machines: legal moves pass, illegal ones are refused, terminals are final."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentcoord.errors import IllegalTransitionError
from agentcoord.states import MissionState, TaskState


def test_the_designed_happy_paths_are_legal() -> None:
    state = MissionState.CREATED
    for target in (MissionState.PLANNING, MissionState.RUNNING, MissionState.AWAITING_REVIEW, MissionState.COMPLETED):
        state = state.transition(target)
    assert state.is_terminal
    task = TaskState.PENDING
    for t in (TaskState.ROUTED, TaskState.RUNNING, TaskState.AWAITING_REVIEW, TaskState.ACCEPTED):
        task = task.transition(t)
    assert task.is_terminal and task.is_success


def test_illegal_moves_name_both_states() -> None:
    with pytest.raises(IllegalTransitionError, match="mission cannot move from created to completed"):
        MissionState.CREATED.transition(MissionState.COMPLETED)
    with pytest.raises(IllegalTransitionError, match="task cannot move from pending to succeeded"):
        TaskState.PENDING.transition(TaskState.SUCCEEDED)


@given(st.sampled_from(list(MissionState)), st.sampled_from(list(MissionState)))
def test_no_mission_leaves_a_terminal_state(current: MissionState, target: MissionState) -> None:
    if current.is_terminal:
        with pytest.raises(IllegalTransitionError):
            current.transition(target)


@given(st.lists(st.sampled_from(list(TaskState)), max_size=12))
def test_any_task_walk_through_transition_stays_inside_the_lifecycle(walk: list[TaskState]) -> None:
    state = TaskState.PENDING
    for target in walk:
        try:
            state = state.transition(target)
        except IllegalTransitionError:
            assert target not in _reachable_in_one_step(state)
    assert isinstance(state, TaskState)


def _reachable_in_one_step(state: TaskState) -> set[TaskState]:
    reachable = set()
    for target in TaskState:
        try:
            state.transition(target)
            reachable.add(target)
        except IllegalTransitionError:
            pass
    return reachable
