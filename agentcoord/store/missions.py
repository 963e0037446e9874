"""Queries for missions, tasks and attempts.

Every state change is a compare-and-set on the state the caller believes is current, and writes
its outbox event in the same transaction, so the event log and the tables never disagree. Task
changes go through `agentcoord.store.task_changes`, which writes a whole round in one statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from agentcoord.errors import ConflictError, NotFoundError
from agentcoord.mission_view import settings_payload, task_spec_payload
from agentcoord.missions import Action, MissionSettings, MissionSpec, TaskSpec
from agentcoord.states import MissionState, TaskState
from agentcoord.store.database import Connection
from agentcoord.store.events import (
    START,
    Event,
    EventPosition,
    append_event,
    mission_log_after,
    settled_mission_events,
)
from agentcoord.store.task_changes import PolicyRecord, TaskChange, Transition, apply_task_changes


@dataclass(frozen=True)
class TaskRecord:
    """A task as stored: its spec and live state."""

    spec: TaskSpec
    state: TaskState
    agent: str
    reason: str
    attempts: int
    cost_micro_usd: int


@dataclass(frozen=True)
class MissionRecord:
    """A mission as stored, with its tasks in file order."""

    mission_id: str
    name: str
    goal: str
    state: MissionState
    reason: str
    created_at: datetime
    updated_at: datetime
    tasks: tuple[TaskRecord, ...]
    settings: MissionSettings = field(default_factory=MissionSettings)
    forecast_p50_micro_usd: int | None = None
    forecast_p90_micro_usd: int | None = None

    def task(self, task_id: str) -> TaskRecord:
        for task in self.tasks:
            if task.spec.id == task_id:
                return task
        raise NotFoundError(f"mission {self.mission_id} has no task {task_id!r}")


async def insert_mission(
    conn: Connection, *, mission_id: str, request_id: str | None, spec: MissionSpec, actor: str
) -> None:
    """Store a validated mission and its tasks in state created/pending, with its event."""
    settings = spec.settings
    await conn.execute(
        "INSERT INTO missions (mission_id, request_id, name, goal, state, max_parallel, max_attempts, on_failure,"
        " budget_micro_usd, review) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (mission_id, request_id, spec.name, spec.goal, MissionState.CREATED.value, settings.max_parallel,
         settings.max_attempts, settings.on_failure, settings.budget_micro_usd, settings.review),
    )
    await _insert_tasks(conn, mission_id, spec.tasks)
    await append_event(
        conn, topic="mission.created", actor=actor, mission_id=mission_id,
        payload={"name": spec.name, "goal": spec.goal, "settings": settings_payload(settings),
                 "context": list(spec.context), "tasks": [task_spec_payload(t) for t in spec.tasks]},
    )


async def insert_planned_tasks(
    conn: Connection, *, mission_id: str, tasks: tuple[TaskSpec, ...], rejected: tuple[str, ...], actor: str
) -> None:
    """Store the tasks a planner proposed for a goal-only mission, with the rejected proposals."""
    await _insert_tasks(conn, mission_id, tasks)
    await append_event(
        conn, topic="mission.planned", actor=actor, mission_id=mission_id,
        payload={"tasks": [task_spec_payload(t) for t in tasks], "rejected": list(rejected)},
    )


async def _insert_tasks(conn: Connection, mission_id: str, tasks: tuple[TaskSpec, ...]) -> None:
    """All of a mission's tasks in one statement (a mission of 20 tasks was 20 inserts)."""
    await conn.execute(
        "INSERT INTO tasks (mission_id, task_id, position, description, capabilities, depends_on, action, state)"
        " SELECT %s, t.id, t.position, t.description, t.capabilities, t.depends_on, t.action, %s"
        " FROM jsonb_to_recordset(%s) AS t (id text, position int, description text, capabilities text[],"
        " depends_on text[], action jsonb)",
        (mission_id, TaskState.PENDING.value, Jsonb([
            {"id": t.id, "position": i, "description": t.description, "capabilities": list(t.capabilities),
             "depends_on": list(t.depends_on), "action": _action_json(t.action)}
            for i, t in enumerate(tasks)
        ])),
    )


async def mission_events(
    conn: Connection, mission_id: str, *, after: EventPosition = START, limit: int = 1000
) -> list[Event]:
    """The mission's settled log after `after`, oldest first (see `agentcoord.store.events`)."""
    return await settled_mission_events(conn, mission_id, after, limit=limit)


async def mission_log(
    conn: Connection, mission_id: str, *, after: EventPosition = START, topics: Sequence[str] | None = None
) -> tuple[list[Event], int]:
    """Every committed event of the mission after `after`, settled or not, and the settling horizon."""
    return await mission_log_after(conn, mission_id, after, topics=topics)


async def record_incarnation(conn: Connection, *, mission_id: str, pid: int, progress: int) -> int:
    """Record a new start of the mission by process `pid`; return its incarnation number.

    `progress` is the mission's progress when it started (`MissionView.progress`); a run of starts
    with no progress between them is a crash loop (see `starts_without_progress`).
    """
    cur = await conn.execute(
        "INSERT INTO mission_incarnations (mission_id, incarnation, pid, progress)"
        " SELECT %s, coalesce(max(incarnation), 0) + 1, %s, %s FROM mission_incarnations WHERE mission_id = %s"
        " RETURNING incarnation",
        (mission_id, pid, progress, mission_id),
    )
    row = await cur.fetchone()
    assert row is not None
    return int(row["incarnation"])


async def starts_without_progress(conn: Connection, *, mission_id: str, progress: int) -> int:
    """How many of the mission's latest recorded starts, in a row, found it at `progress`."""
    cur = await conn.execute(
        "SELECT progress FROM mission_incarnations WHERE mission_id = %s ORDER BY incarnation DESC LIMIT 100",
        (mission_id,),
    )
    streak = 0
    for earlier in await cur.fetchall():
        if earlier["progress"] != progress:
            break
        streak += 1
    return streak


async def record_deferral(
    conn: Connection, *, mission_id: str, task_id: str, blocked_by: str, paths: list[str], actor: str
) -> None:
    """Record that a ready task waits because a running task touches the same paths."""
    await append_event(
        conn, topic="task.deferred", actor=actor, mission_id=mission_id, task_id=task_id,
        payload={"blocked_by": blocked_by, "paths": paths, "reason": "path conflict with a running task"},
    )


async def set_forecast(conn: Connection, *, mission_id: str, p50_micro_usd: int, p90_micro_usd: int) -> None:
    await conn.execute(
        "UPDATE missions SET forecast_p50_micro_usd = %s, forecast_p90_micro_usd = %s WHERE mission_id = %s",
        (p50_micro_usd, p90_micro_usd, mission_id),
    )


async def find_mission_id_by_request(conn: Connection, request_id: str) -> str | None:
    cur = await conn.execute("SELECT mission_id FROM missions WHERE request_id = %s", (request_id,))
    row = await cur.fetchone()
    return row["mission_id"] if row else None


async def get_mission(conn: Connection, mission_id: str) -> MissionRecord:
    """One mission with its tasks and per-task spend; NotFoundError if absent."""
    cur = await conn.execute(_SELECT_MISSIONS + " WHERE mission_id = %s", (mission_id,))
    row = await cur.fetchone()
    if row is None:
        raise NotFoundError(f"no mission {mission_id!r}")
    return (await _with_tasks(conn, [row]))[0]


async def list_missions(
    conn: Connection, *, state: MissionState | None, limit: int, before: tuple[datetime, str] | None
) -> list[MissionRecord]:
    """Missions newest first; `before` is the (created_at, mission_id) of the last one already seen."""
    cur = await conn.execute(
        _SELECT_MISSIONS
        + " WHERE (%(state)s::text IS NULL OR state = %(state)s)"
        " AND (%(before_at)s::timestamptz IS NULL OR (created_at, mission_id) < (%(before_at)s, %(before_id)s))"
        " ORDER BY created_at DESC, mission_id DESC LIMIT %(limit)s",
        {
            "state": state.value if state else None,
            "before_at": before[0] if before else None,
            "before_id": before[1] if before else None,
            "limit": limit,
        },
    )
    return await _with_tasks(conn, await cur.fetchall())


async def mission_ids_in_states(conn: Connection, states: tuple[MissionState, ...]) -> list[str]:
    cur = await conn.execute(
        "SELECT mission_id FROM missions WHERE state = ANY(%s) ORDER BY created_at", ([s.value for s in states],)
    )
    return [row["mission_id"] for row in await cur.fetchall()]


async def set_mission_state(
    conn: Connection, *, mission_id: str, current: MissionState, target: MissionState,
    reason: str = "", actor: str,
) -> Event:
    """Move a mission from `current` to `target` (checked against its lifecycle and the row); its event."""
    current.transition(target)
    cur = await conn.execute(
        "UPDATE missions SET state = %s, reason = %s, updated_at = now() WHERE mission_id = %s AND state = %s",
        (target.value, reason, mission_id, current.value),
    )
    if cur.rowcount != 1:
        raise ConflictError(f"mission {mission_id} is no longer {current.value}")
    return await append_event(
        conn, topic="mission.state", actor=actor, mission_id=mission_id,
        payload={"from": current.value, "to": target.value, "reason": reason},
    )


async def set_task_state(
    conn: Connection, *, mission_id: str, task_id: str, current: TaskState, target: TaskState,
    agent: str | None = None, reason: str = "", actor: str, extra: dict[str, Any] | None = None,
) -> None:
    """Move a task from `current` to `target`; `agent` (when given) records who has it."""
    await apply_task_changes(conn, [TaskChange(
        mission_id, task_id, current, (Transition(target, reason, agent, extra or {}),), actor=actor,
    )])


async def insert_policy_decision(
    conn: Connection, *, decision_id: str, mission_id: str, task_id: str,
    action: dict[str, Any], effect: str, rule_ids: list[str], reason: str, actor: str,
) -> None:
    """Store a policy decision about a task's action, with its event (the task's state is not touched)."""
    record = PolicyRecord(decision_id, action, effect, tuple(rule_ids), reason, actor)
    await apply_task_changes(conn, [TaskChange(mission_id, task_id, None, (record,), actor=actor)])


_SELECT_MISSIONS = (
    "SELECT mission_id, name, goal, state, reason, created_at, updated_at, max_parallel, max_attempts,"
    " on_failure, budget_micro_usd, review, forecast_p50_micro_usd, forecast_p90_micro_usd FROM missions"
)


async def _with_tasks(conn: Connection, rows: list[dict[str, Any]]) -> list[MissionRecord]:
    ids = [row["mission_id"] for row in rows]
    cur = await conn.execute(
        "SELECT t.mission_id, t.task_id, t.description, t.capabilities, t.depends_on, t.action, t.state,"
        " t.agent, t.reason, t.attempts,"
        " coalesce((SELECT sum(u.cost_micro_usd) FROM usage_events u"
        "           WHERE u.mission_id = t.mission_id AND u.task_id = t.task_id), 0)::bigint AS cost_micro_usd"
        " FROM tasks t WHERE t.mission_id = ANY(%s) ORDER BY t.mission_id, t.position",
        (ids,),
    )
    tasks: dict[str, list[TaskRecord]] = {mission_id: [] for mission_id in ids}
    for t in await cur.fetchall():
        action = t["action"]
        spec = TaskSpec(
            id=t["task_id"], description=t["description"], capabilities=tuple(t["capabilities"]),
            depends_on=tuple(t["depends_on"]),
            action=Action(kind=action["kind"], environment=action["environment"], paths=tuple(action["paths"]),
                          command=action["command"]),
        )
        tasks[t["mission_id"]].append(
            TaskRecord(spec, TaskState(t["state"]), t["agent"], t["reason"], t["attempts"], int(t["cost_micro_usd"]))
        )
    return [
        MissionRecord(
            mission_id=row["mission_id"], name=row["name"], goal=row["goal"], state=MissionState(row["state"]),
            reason=row["reason"], created_at=row["created_at"], updated_at=row["updated_at"],
            tasks=tuple(tasks[row["mission_id"]]),
            settings=MissionSettings(
                max_parallel=row["max_parallel"], max_attempts=row["max_attempts"], on_failure=row["on_failure"],
                budget_micro_usd=row["budget_micro_usd"], review=row["review"],
            ),
            forecast_p50_micro_usd=row["forecast_p50_micro_usd"],
            forecast_p90_micro_usd=row["forecast_p90_micro_usd"],
        )
        for row in rows
    ]


def _action_json(action: Action) -> dict[str, Any]:
    return {"kind": action.kind, "environment": action.environment, "paths": list(action.paths), "command": action.command}
