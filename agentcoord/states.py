"""Lifecycle state machines for missions and tasks.

Each state is an enum member with a docstring; every change goes through `transition`, which
refuses moves the lifecycle in DESIGN.md does not allow.
"""

from __future__ import annotations

import enum

from agentcoord.errors import IllegalTransitionError


class MissionState(enum.Enum):
    """Where a mission stands: created → planning → running → (awaiting_review) → terminal."""

    CREATED = "created"
    """Stored and validated; the supervisor has not picked it up yet."""
    PLANNING = "planning"
    """Turning the goal into a task DAG (a no-op when the file lists the tasks)."""
    RUNNING = "running"
    """Tasks are being routed and executed."""
    AWAITING_REVIEW = "awaiting_review"
    """Every task ran; some results wait for a human or reviewer agent."""
    COMPLETED = "completed"
    """Every task finished successfully."""
    FAILED = "failed"
    """A task failed or was blocked and the mission cannot finish; `reason` says which."""
    CANCELLED = "cancelled"
    """Stopped on request."""

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL_MISSION

    def transition(self, target: MissionState) -> MissionState:
        """Return `target` if the lifecycle allows moving there from here, else raise."""
        if target not in _MISSION_MOVES[self]:
            raise IllegalTransitionError("mission", self.value, target.value)
        return target


class TaskState(enum.Enum):
    """Where a task stands: pending → routed → running → an outcome."""

    PENDING = "pending"
    """Waiting for its dependencies or for a free slot."""
    ROUTED = "routed"
    """An agent has been chosen; the attempt has not started."""
    RUNNING = "running"
    """An attempt is executing."""
    SUCCEEDED = "succeeded"
    """The agent finished and reported success."""
    FAILED = "failed"
    """Every allowed attempt failed; `reason` holds the last error."""
    BLOCKED_BY_POLICY = "blocked_by_policy"
    """Policy denied the task's action; `reason` names the rules."""
    AWAITING_REVIEW = "awaiting_review"
    """The result waits for a review before it counts."""
    ACCEPTED = "accepted"
    """A reviewer accepted the result."""
    REJECTED = "rejected"
    """A reviewer rejected the result."""

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL_TASK

    @property
    def is_success(self) -> bool:
        """True for outcomes that let dependent tasks run."""
        return self in (TaskState.SUCCEEDED, TaskState.ACCEPTED)

    def transition(self, target: TaskState) -> TaskState:
        """Return `target` if the lifecycle allows moving there from here, else raise."""
        if target not in _TASK_MOVES[self]:
            raise IllegalTransitionError("task", self.value, target.value)
        return target


_TERMINAL_MISSION = frozenset({MissionState.COMPLETED, MissionState.FAILED, MissionState.CANCELLED})
_MISSION_MOVES: dict[MissionState, frozenset[MissionState]] = {
    MissionState.CREATED: frozenset({MissionState.PLANNING, MissionState.CANCELLED, MissionState.FAILED}),
    MissionState.PLANNING: frozenset({MissionState.RUNNING, MissionState.FAILED, MissionState.CANCELLED}),
    MissionState.RUNNING: frozenset(
        {MissionState.AWAITING_REVIEW, MissionState.COMPLETED, MissionState.FAILED, MissionState.CANCELLED}
    ),
    MissionState.AWAITING_REVIEW: frozenset(
        {MissionState.RUNNING, MissionState.COMPLETED, MissionState.FAILED, MissionState.CANCELLED}
    ),
    MissionState.COMPLETED: frozenset(),
    MissionState.FAILED: frozenset(),
    MissionState.CANCELLED: frozenset(),
}

_TERMINAL_TASK = frozenset(
    {TaskState.SUCCEEDED, TaskState.FAILED, TaskState.BLOCKED_BY_POLICY, TaskState.ACCEPTED, TaskState.REJECTED}
)
_TASK_MOVES: dict[TaskState, frozenset[TaskState]] = {
    TaskState.PENDING: frozenset({TaskState.ROUTED, TaskState.BLOCKED_BY_POLICY, TaskState.FAILED}),
    TaskState.ROUTED: frozenset({TaskState.RUNNING, TaskState.BLOCKED_BY_POLICY, TaskState.FAILED}),
    # running → routed is a retry: the attempt died and a new one is about to start;
    # running → blocked_by_policy: the agent's hook refused one of its tool calls mid-run.
    TaskState.RUNNING: frozenset(
        {TaskState.SUCCEEDED, TaskState.FAILED, TaskState.AWAITING_REVIEW, TaskState.ROUTED, TaskState.BLOCKED_BY_POLICY}
    ),
    # awaiting_review → pending is rework: the result was rejected and attempts remain, so the
    # task is routed again (the rejection has lowered that agent's score for the task's kind).
    TaskState.AWAITING_REVIEW: frozenset({TaskState.ACCEPTED, TaskState.REJECTED, TaskState.PENDING}),
    TaskState.SUCCEEDED: frozenset(),
    TaskState.FAILED: frozenset(),
    TaskState.BLOCKED_BY_POLICY: frozenset(),
    TaskState.ACCEPTED: frozenset(),
    TaskState.REJECTED: frozenset(),
}

TERMINAL_TASK_STATES = [state.value for state in TaskState if state.is_terminal]
"""The names of the terminal task states (a task is done in them: no move leads out), as queries take them."""
