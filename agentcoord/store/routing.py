"""Queries for route decisions: every decision the router makes is kept, with all its candidates.

A decision is written together with its `route.decided` event, in one statement (see
agentcoord.store.events), so the stored decision and the audited fact never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import sql
from psycopg.types.json import Jsonb

from agentcoord.routing import RouteCandidate, RouteDecision
from agentcoord.store.database import Connection
from agentcoord.store.events import write_with_event


@dataclass(frozen=True)
class StoredRouteDecision:
    """A route decision as recorded: for which mission and task, and when."""

    mission_id: str
    task_id: str
    decision: RouteDecision
    created_at: datetime


async def record_route_decision(
    conn: Connection, decision: RouteDecision, *, mission_id: str, task_id: str, topic: str, actor: str,
    payload: Mapping[str, Any],
) -> None:
    """Store one decision with its event (`topic`, `payload`), in one statement."""
    await write_with_event(
        conn,
        sql.SQL(
            "INSERT INTO route_decisions (decision_id, mission_id, task_id, agent, model, reason,"
            " capabilities, expected_input_tokens, expected_output_tokens, candidates)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING 1"
        ),
        (
            decision.decision_id,
            mission_id,
            task_id,
            decision.agent,
            decision.model,
            decision.reason,
            list(decision.capabilities),
            decision.expected_input_tokens,
            decision.expected_output_tokens,
            Jsonb([c.to_json() for c in decision.candidates]),
        ),
        topic=topic, actor=actor, payload=payload, mission_id=mission_id, task_id=task_id,
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
