"""A mission's state as a fold over its events.

The events table is the mission's log: every transition is appended there (in the same
transaction as the table update that mirrors it for queries). A mission runner rebuilds its
working state by folding the log, so a restarted runner knows exactly what was done, what was
running and what was never started, without trusting anything but the log.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agentcoord.errors import NotFoundError
from agentcoord.missions import Action, MissionSettings, TaskSpec
from agentcoord.states import MissionState, TaskState
from agentcoord.store.events import START, Event, EventPosition


@dataclass(frozen=True)
class TaskView:
    """One task as the log tells it."""

    spec: TaskSpec
    state: TaskState = TaskState.PENDING
    agent: str = ""
    reason: str = ""
    attempts: int = 0
    current_attempt_id: str = ""
    cost_micro_usd: int = 0
    review_required: bool = False
    """A require_review rule matched the task when it was routed: its result waits for a review."""
    reviews: int = 0
    """Verdicts on its results so far (transitions out of awaiting_review)."""


@dataclass
class MissionView:
    """Everything the log says about one mission; `apply` one event at a time, in order."""

    mission_id: str
    name: str = ""
    goal: str = ""
    state: MissionState = MissionState.CREATED
    reason: str = ""
    settings: MissionSettings = field(default_factory=MissionSettings)
    context: tuple[str, ...] = ()
    tasks: dict[str, TaskView] = field(default_factory=dict)
    position: EventPosition = START
    """The bus position of the last event folded in."""
    held: list[Event] = field(default_factory=list)
    """Transitions read before the transition they follow (see `apply`), waiting for it."""

    @classmethod
    def fold(cls, mission_id: str, events: Iterable[Event]) -> MissionView:
        view = cls(mission_id)
        view.apply_all(events)
        return view

    def apply_all(self, events: Iterable[Event]) -> None:
        for event in events:
            self.apply(event)

    def apply(self, event: Event) -> None:
        """Fold one event in; events of other missions or already applied ones are ignored.

        The bus orders events by writing transaction, which is not always the order in which
        transitions happened: a review's transaction may take its id before the runner's that
        moved the task to awaiting_review commits. Every transition is a compare-and-set from
        the state it names (`from`), so one whose starting state the view has not reached yet
        waits in `held` until the transition before it is folded in.
        """
        if event.mission_id != self.mission_id or event.position <= self.position:
            return
        self.position = event.position
        if not self._follows(event):
            self.held.append(event)
            return
        self._fold(event)
        while self.held:
            ready = next((held for held in self.held if self._follows(held)), None)
            if ready is None:
                return
            self.held.remove(ready)
            self._fold(ready)

    def _follows(self, event: Event) -> bool:
        """Whether `event` can be folded now: it is no transition, or it starts where the view is."""
        start = event.payload.get("from") if event.topic in ("mission.state", "task.state") else None
        if start is None:
            return True
        if event.topic == "mission.state":
            return bool(start == self.state.value)
        task = self.tasks.get(event.task_id)
        return task is not None and start == task.state.value

    def _fold(self, event: Event) -> None:
        handler = _HANDLERS.get(event.topic)
        if handler is not None:
            handler(self, event.task_id, event.payload)

    def advance(self, events: Sequence[Event], *, horizon: int) -> MissionView:
        """Fold settled `events` (xact_id below `horizon`) in; return the view with the rest folded too.

        `events` are in bus order, so the settled ones come first. Events above the horizon are
        committed but not final in order (an earlier-ordered event may still commit), so they
        are folded into a copy only, and folded again, in their final order, on a later call.
        """
        unsettled = next((i for i, event in enumerate(events) if event.xact_id >= horizon), len(events))
        self.apply_all(events[:unsettled])
        if unsettled == len(events):
            return self
        current = dataclasses.replace(self, tasks=dict(self.tasks), held=list(self.held))
        current.apply_all(events[unsettled:])
        return current

    def task(self, task_id: str) -> TaskView:
        try:
            return self.tasks[task_id]
        except KeyError:
            raise NotFoundError(f"mission {self.mission_id} has no task {task_id!r}") from None

    def ordered_tasks(self) -> list[TaskView]:
        """Tasks in the order the mission listed them."""
        return list(self.tasks.values())

    @property
    def progress(self) -> int:
        """How far the mission has come: finished tasks plus verdicts on results.

        Starts that find the same progress in a row are a crash loop in the making (see
        actors.mission_host). Verdicts count because a rejection sends a task back without
        finishing it, and a mission reworked after each of several reviews must not look stuck.
        """
        return sum(1 for t in self.tasks.values() if t.state.is_terminal) + sum(t.reviews for t in self.tasks.values())


def task_spec_payload(task: TaskSpec) -> dict[str, Any]:
    """A task spec as event payload (the inverse of `_task_spec`)."""
    a = task.action
    return {
        "id": task.id, "description": task.description, "capabilities": list(task.capabilities),
        "depends_on": list(task.depends_on),
        "action": {"kind": a.kind, "environment": a.environment, "paths": list(a.paths), "command": a.command},
    }


def settings_payload(settings: MissionSettings) -> dict[str, Any]:
    return dataclasses.asdict(settings)


def _task_spec(raw: Mapping[str, Any]) -> TaskSpec:
    action = raw.get("action", {})
    return TaskSpec(
        id=raw["id"], description=raw["description"], capabilities=tuple(raw.get("capabilities", ())),
        depends_on=tuple(raw.get("depends_on", ())),
        action=Action(kind=action.get("kind", "edit"), environment=action.get("environment", ""),
                      paths=tuple(action.get("paths", ())), command=action.get("command", "")),
    )


def _created(view: MissionView, _task_id: str, payload: Mapping[str, Any]) -> None:
    view.name = payload["name"]
    view.goal = payload["goal"]
    view.settings = MissionSettings(**payload.get("settings", {}))
    view.context = tuple(payload.get("context", ()))
    _add_tasks(view, _task_id, payload)


def _add_tasks(view: MissionView, _task_id: str, payload: Mapping[str, Any]) -> None:
    for raw in payload.get("tasks", ()):
        spec = _task_spec(raw)
        view.tasks[spec.id] = TaskView(spec=spec)


def _mission_state(view: MissionView, _task_id: str, payload: Mapping[str, Any]) -> None:
    view.state = MissionState(payload["to"])
    view.reason = payload.get("reason", "")


def _task_state(view: MissionView, task_id: str, payload: Mapping[str, Any]) -> None:
    task = view.tasks[task_id]
    target = TaskState(payload["to"])
    changes: dict[str, Any] = {"state": target, "reason": payload.get("reason", "")}
    if payload.get("agent") is not None:
        changes["agent"] = payload["agent"]
    if "review_required" in payload:
        changes["review_required"] = bool(payload["review_required"])
    if payload.get("from") == TaskState.AWAITING_REVIEW.value:
        changes["reviews"] = task.reviews + 1
    if target is TaskState.RUNNING:
        changes["attempts"] = task.attempts + 1
        changes["current_attempt_id"] = payload.get("attempt_id", "")
    view.tasks[task_id] = dataclasses.replace(task, **changes)


def _usage(view: MissionView, task_id: str, payload: Mapping[str, Any]) -> None:
    task = view.tasks.get(task_id)
    if task is not None:
        view.tasks[task_id] = dataclasses.replace(
            task, cost_micro_usd=task.cost_micro_usd + int(payload.get("cost_micro_usd", 0))
        )


_HANDLERS = {
    "mission.created": _created,
    "mission.planned": _add_tasks,
    "mission.state": _mission_state,
    "task.state": _task_state,
    "usage.recorded": _usage,
}

FOLDED_TOPICS: tuple[str, ...] = tuple(_HANDLERS)
"""The topics a fold reads; other events of the mission do not change its view."""
