"""Queries for route decisions: every decision the router makes is kept, with all its candidates.

The caller writes the matching `route.decided` event in the same transaction (see
agentcoord.store.events), so the stored decision and the audited fact never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from psycopg.types.json import Jsonb

from agentcoord.routing import RouteCandidate, RouteDecision
from agentcoord.store.database import Connection


@dataclass(frozen=True)
class StoredRouteDecision:
    """A route decision as recorded: for which mission and task, and when."""

    mission_id: str
    task_id: str
    decision: RouteDecision
    created_at: datetime


async def insert_route_decision(
    conn: Connection, decision: RouteDecision, *, mission_id: str, task_id: str
) -> None:
    """Store one decision inside the caller's transaction."""
    await conn.execute(
        "INSERT INTO route_decisions (decision_id, mission_id, task_id, agent, model, reason,"
        " capabilities, expected_input_tokens, expected_output_tokens, candidates)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
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
