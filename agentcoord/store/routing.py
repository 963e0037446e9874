"""Queries for route decisions: every decision the router makes is kept, with all its candidates.

Decisions are written together with their `route.decided` events, in one statement, so the
stored decision and the audited fact never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from agentcoord.routing import RouteCandidate, RouteDecision
from agentcoord.store.database import Connection
from agentcoord.store.events import EVENTS_CHANNEL


@dataclass(frozen=True)
class StoredRouteDecision:
    """A route decision as recorded: for which mission and task, and when."""

    mission_id: str
    task_id: str
    decision: RouteDecision
    created_at: datetime


@dataclass(frozen=True)
class DecisionRecord:
    """A decision to store: for which mission and task, and the payload of its event."""

    decision: RouteDecision
    mission_id: str
    task_id: str
    payload: Mapping[str, Any]


async def record_route_decisions(
    conn: Connection, records: Sequence[DecisionRecord], *, topic: str, actor: str
) -> None:
    """Store decisions, each with its event (`topic`), in one statement: all of them or none.

    The events follow the order of `records`.
    """
    if not records:
        return
    rows = [
        {
            "n": n, "decision_id": r.decision.decision_id, "mission_id": r.mission_id, "task_id": r.task_id,
            "agent": r.decision.agent, "model": r.decision.model, "reason": r.decision.reason,
            "capabilities": list(r.decision.capabilities),
            "expected_input_tokens": r.decision.expected_input_tokens,
            "expected_output_tokens": r.decision.expected_output_tokens,
            "candidates": [c.to_json() for c in r.decision.candidates], "payload": dict(r.payload),
        }
        for n, r in enumerate(records)
    ]
    await conn.execute(
        "WITH r AS (SELECT * FROM jsonb_to_recordset(%s) AS r (n int, decision_id text, mission_id text,"
        " task_id text, agent text, model text, reason text, capabilities text[], expected_input_tokens bigint,"
        " expected_output_tokens bigint, candidates jsonb, payload jsonb)),"
        " d AS (INSERT INTO route_decisions (decision_id, mission_id, task_id, agent, model, reason, capabilities,"
        " expected_input_tokens, expected_output_tokens, candidates)"
        " SELECT decision_id, mission_id, task_id, agent, model, reason, capabilities, expected_input_tokens,"
        " expected_output_tokens, candidates FROM r),"
        " e AS (INSERT INTO events (topic, actor, mission_id, task_id, payload)"
        " SELECT %s, %s, mission_id, task_id, payload FROM r ORDER BY n RETURNING 1)"
        " SELECT pg_notify(%s, '')",
        # One JSON array, not arrays of each column: psycopg sends it as one parameter.
        (Jsonb(rows), topic, actor, EVENTS_CHANNEL),
    )


async def list_route_decisions(
    conn: Connection, *, mission_id: str, task_id: str
) -> list[StoredRouteDecision]:
    """Every decision made for one task, oldest first."""
    cur = await conn.execute(
        "SELECT decision_id, mission_id, task_id, agent, model, reason, capabilities,"
        " expected_input_tokens, expected_output_tokens, candidates, created_at"
        " FROM route_decisions WHERE mission_id = %s AND task_id = %s"
        " ORDER BY created_at, decision_id",
        (mission_id, task_id),
    )
    return [
        StoredRouteDecision(
            mission_id=row["mission_id"],
            task_id=row["task_id"],
            decision=RouteDecision(
                decision_id=row["decision_id"],
                agent=row["agent"],
                model=row["model"],
                reason=row["reason"],
                capabilities=tuple(row["capabilities"]),
                expected_input_tokens=row["expected_input_tokens"],
                expected_output_tokens=row["expected_output_tokens"],
                candidates=tuple(RouteCandidate.from_json(c) for c in row["candidates"]),
            ),
            created_at=row["created_at"],
        )
        for row in await cur.fetchall()
    ]
