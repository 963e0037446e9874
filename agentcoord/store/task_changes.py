"""Task changes, set-based: a whole round of a mission's writes in one statement.

A `TaskChange` is everything that happens to one task at once: the attempt it ends (if any), the
policy decisions taken about it and the transitions it goes through (each with its event, in the
order given), and the attempt its last transition starts. `apply_task_changes` writes any number
of them, of any missions, as one statement: one round trip whatever the size of the round, and,
being one statement, atomic even outside a transaction.

Each change's first transition is a compare-and-set on the state the caller believes is current.
If any fails, the statement raises (SQLSTATE AC409, see migration 0010) and writes nothing: this
function raises ConflictError naming the tasks. A change whose attempt already had an outcome (a
replayed or late result) is skipped whole, and reported as not applied.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from agentcoord.errors import ConflictError
from agentcoord.states import TERMINAL_TASK_STATES, TaskState
from agentcoord.store.database import Connection
from agentcoord.store.events import EVENTS_CHANNEL, Event

CONFLICT_SQLSTATE = "AC409"
TASK_STATE_TOPIC = "task.state"
POLICY_DECIDED_TOPIC = "policy.decided"


@dataclass(frozen=True)
class Transition:
    """A move of the task to `target`; `agent` (when given) records who has it."""

    target: TaskState
    reason: str = ""
    agent: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    """More for the event's payload (e.g. the attempt id)."""


@dataclass(frozen=True)
class PolicyRecord:
    """A policy decision about the task's action, stored with its `policy.decided` event."""

    decision_id: str
    action: Mapping[str, Any]
    effect: str
    rule_ids: tuple[str, ...]
    reason: str
    actor: str


@dataclass(frozen=True)
class AttemptEnd:
    """The outcome of an attempt, recorded once."""

    attempt_id: str
    outcome: str
    summary: str = ""
    error: str = ""


@dataclass(frozen=True)
class TaskChange:
    """What happens to one task in one write (see the module docstring)."""

    mission_id: str
    task_id: str
    current: TaskState | None
    """The state the first transition moves the task from (None for a change with no transition)."""
    steps: tuple[Transition | PolicyRecord, ...]
    actor: str
    """Who makes the transitions (policy records name their own actor)."""
    starts: str | None = None
    """The id of the attempt the last transition starts (it counts, and its event carries the number)."""
    agent: str = ""
    """The agent of the started attempt."""
    ends: AttemptEnd | None = None
    """The attempt this change records the outcome of; the change applies only if that is new."""

    @property
    def transitions(self) -> list[Transition]:
        return [step for step in self.steps if isinstance(step, Transition)]


@dataclass(frozen=True)
class Applied:
    """A change as written: `attempts` is the task's attempt count after it (the started attempt's number)."""

    attempts: int


@dataclass(frozen=True)
class Written:
    """What `apply_task_changes` wrote: per change, what it did (None: skipped), and the events in bus order."""

    applied: list[Applied | None]
    events: list[Event]


async def apply_task_changes(conn: Connection, changes: Sequence[TaskChange]) -> Written:
    """Write `changes` in one statement; per change what it did, and the events written.

    The events come back so a writer can fold its own writes without reading them again.

    Raises IllegalTransitionError (before writing) for a move the task lifecycle forbids, and
    ConflictError (having written nothing) when a task was no longer in the state a change expects.
    """
    if not changes:
        return Written([], [])
    rows: list[dict[str, Any]] = []
    decisions: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for n, change in enumerate(changes):
        state = change.current
        last: Transition | None = None
        agent: str | None = None
        starting = change.transitions[-1] if change.starts is not None and change.transitions else None
        for step in change.steps:
            if isinstance(step, PolicyRecord):
                decisions.append({"n": n, "decision_id": step.decision_id, "action": dict(step.action),
                                  "effect": step.effect, "rule_ids": list(step.rule_ids), "reason": step.reason})
                events.append({"n": n, "ord": len(events), "topic": POLICY_DECIDED_TOPIC, "actor": step.actor,
                               "numbered": False, "payload": _decision_payload(step)})
                continue
            if state is None:
                raise ValueError(f"task {change.task_id}: a change with transitions needs its current state")
            state.transition(step.target)
            payload: dict[str, Any] = {"from": state.value, "to": step.target.value, "reason": step.reason}
            if step.agent is not None:
                payload["agent"] = agent = step.agent
            payload.update(step.extra)
            numbered = step is starting
            if numbered:
                payload["attempt_id"] = change.starts
            events.append({"n": n, "ord": len(events), "topic": TASK_STATE_TOPIC, "actor": change.actor,
                           "numbered": numbered, "payload": payload})
            state, last = step.target, step
        if change.starts is not None and last is None:
            raise ValueError(f"task {change.task_id}: a change that starts an attempt needs a transition")
        ends = change.ends
        rows.append({
            "n": n, "mission_id": change.mission_id, "task_id": change.task_id, "current": change.current.value if change.current else None,
            "target": last.target.value if last else None, "reason": last.reason if last else "", "agent": agent,
            "attempt_id": change.starts, "attempt_agent": change.agent,
            "ended_attempt_id": ends.attempt_id if ends else None, "outcome": ends.outcome if ends else None,
            "summary": ends.summary if ends else "", "error": ends.error if ends else "",
        })
    try:
        cur = await conn.execute(
            _APPLY, {"changes": Jsonb(rows), "decisions": Jsonb(decisions), "events": Jsonb(events),
                     "channel": EVENTS_CHANNEL, "terminal": TERMINAL_TASK_STATES},
        )
    except psycopg.Error as exc:
        if exc.sqlstate == CONFLICT_SQLSTATE:
            raise ConflictError(exc.diag.message_primary or str(exc)) from exc
        raise
    rows = await cur.fetchall()
    applied: dict[str, int] = rows[0]["applied"]
    return Written(
        applied=[Applied(applied[str(n)]) if str(n) in applied else None for n in range(len(changes))],
        events=[Event(**{k: v for k, v in row.items() if k != "applied"}) for row in rows if row["event_id"] is not None],
    )


def _decision_payload(record: PolicyRecord) -> dict[str, Any]:
    return {"decision_id": record.decision_id, "action": dict(record.action), "effect": record.effect,
            "rule_ids": list(record.rule_ids), "reason": record.reason}


# One statement, read top to bottom: end attempts (skipping changes whose attempt already ended),
# move tasks with a compare-and-set (a move to a terminal state also sets finished_at, migration
# 0013; no move leads out of one), start attempts, store decisions, write every event in order,
# then fail the whole statement if any compare-and-set missed; return the events written. The
# changes are read with agentcoord_batch_rows (migration 0011) so the planner, knowing they are
# few, finds tasks and attempts by primary key instead of reading the whole tables.
_APPLY = """
WITH change AS (
    SELECT c.* FROM agentcoord_batch_rows(%(changes)s) AS r, jsonb_to_record(r) AS c (
        n int, mission_id text, task_id text, current text, target text, reason text, agent text,
        attempt_id text, attempt_agent text, ended_attempt_id text, outcome text, summary text, error text)
), ended AS (
    UPDATE attempts a SET outcome = c.outcome, summary = c.summary, error = c.error, ended_at = now()
    FROM change c
    WHERE c.ended_attempt_id IS NOT NULL AND a.attempt_id = c.ended_attempt_id AND a.outcome IS NULL
    RETURNING c.n
), due AS (
    SELECT * FROM change WHERE ended_attempt_id IS NULL OR n IN (SELECT n FROM ended)
), moved AS (
    UPDATE tasks t SET state = d.target, reason = d.reason, agent = coalesce(d.agent, t.agent),
        attempts = t.attempts + (d.attempt_id IS NOT NULL)::int, updated_at = now(),
        finished_at = CASE WHEN d.target = ANY(%(terminal)s) THEN now() END
    FROM due d
    WHERE d.target IS NOT NULL AND t.mission_id = d.mission_id AND t.task_id = d.task_id AND t.state = d.current
    RETURNING d.n, t.attempts
), applied AS (
    SELECT n, attempts FROM moved
    UNION ALL
    SELECT n, 0 FROM due WHERE target IS NULL
), started AS (
    INSERT INTO attempts (attempt_id, mission_id, task_id, number, agent)
    SELECT d.attempt_id, d.mission_id, d.task_id, a.attempts, d.attempt_agent
    FROM due d JOIN applied a USING (n) WHERE d.attempt_id IS NOT NULL
), decided AS (
    INSERT INTO policy_decisions (decision_id, mission_id, task_id, action, effect, rule_ids, reason)
    SELECT p.decision_id, c.mission_id, c.task_id, p.action, p.effect, p.rule_ids, p.reason
    FROM jsonb_to_recordset(%(decisions)s) AS p (
        n int, decision_id text, action jsonb, effect text, rule_ids text[], reason text)
    JOIN change c USING (n) JOIN applied USING (n)
), logged AS (
    INSERT INTO events (topic, actor, mission_id, task_id, payload)
    SELECT e.topic, e.actor, c.mission_id, c.task_id,
        CASE WHEN e.numbered THEN e.payload || jsonb_build_object('attempt', a.attempts) ELSE e.payload END
    FROM jsonb_to_recordset(%(events)s) AS e (n int, ord int, topic text, actor text, numbered boolean, payload jsonb)
    JOIN change c USING (n) JOIN applied a USING (n)
    ORDER BY e.ord
    RETURNING event_id, xact_id, topic, actor, mission_id, task_id, payload, created_at
), outcome AS (
    SELECT
        agentcoord_require(
            NOT EXISTS (SELECT 1 FROM due WHERE target IS NOT NULL AND n NOT IN (SELECT n FROM moved)),
            (SELECT string_agg(format('task %%s/%%s is no longer %%s', mission_id, task_id, current), '; ' ORDER BY n)
             FROM due WHERE target IS NOT NULL AND n NOT IN (SELECT n FROM moved))
        ) AS ok,
        (SELECT coalesce(jsonb_object_agg(n, attempts), '{}') FROM applied) AS applied,
        pg_notify(%(channel)s, '') AS notified
)
SELECT o.applied, l.event_id, l.xact_id, l.topic, l.actor, l.mission_id, l.task_id, l.payload, l.created_at
FROM outcome o LEFT JOIN logged l ON true
ORDER BY l.xact_id, l.event_id
"""
