"""Queries about agent runs: the sessions agents reported, for resuming them on a retry."""

from __future__ import annotations

from agentcoord.store.database import Connection


async def record_session(
    conn: Connection, *, attempt_id: str, mission_id: str, task_id: str, agent: str, session_id: str,
    resumed_from: str = "",
) -> None:
    """Remember that `attempt_id` ran in agent session `session_id` (idempotent)."""
    await conn.execute(
        "INSERT INTO agent_sessions (attempt_id, mission_id, task_id, agent, session_id, resumed_from)"
        " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
        (attempt_id, mission_id, task_id, agent, session_id, resumed_from),
    )


async def latest_session(conn: Connection, *, mission_id: str, task_id: str, agent: str) -> str | None:
    """The session the latest attempt of this task on this agent reported, if any."""
    cur = await conn.execute(
        "SELECT session_id FROM agent_sessions WHERE mission_id = %s AND task_id = %s AND agent = %s"
        " ORDER BY created_at DESC LIMIT 1",
        (mission_id, task_id, agent),
    )
    row = await cur.fetchone()
    return str(row["session_id"]) if row else None
