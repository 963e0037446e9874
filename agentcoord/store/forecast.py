"""Queries for cost forecasts: what finished past tasks with given capability sets cost.

A past task's cost is the sum of every usage event recorded for it (all attempts). Only tasks in
a terminal state count, so a task still running does not pass for a cheap one. Capability sets
are compared as sets: both sides are sorted and deduplicated, in the "C" collation so the order
matches Python's (code point) order in `agentcoord.forecast.capability_set`.
"""

from __future__ import annotations

from collections.abc import Iterable

from psycopg.types.json import Jsonb

from agentcoord.forecast import PastTaskCost, capability_set
from agentcoord.states import TaskState
from agentcoord.store.database import Connection

_FINISHED_STATES = [state.value for state in TaskState if state.is_terminal]

_HISTORY_QUERY = """
WITH wanted AS (
    SELECT DISTINCT ARRAY(
        SELECT DISTINCT e.c COLLATE "C" FROM jsonb_array_elements_text(s.caps) AS e(c) ORDER BY 1
    ) AS caps
    FROM jsonb_array_elements(%(capability_sets)s::jsonb) AS s(caps)
), past AS (
    SELECT t.mission_id, t.task_id, t.agent,
           ARRAY(SELECT DISTINCT e.c COLLATE "C" FROM unnest(t.capabilities) AS e(c) ORDER BY 1) AS caps
    FROM tasks t
    WHERE t.state = ANY(%(finished_states)s)
)
SELECT p.caps, COALESCE(NULLIF(p.agent, ''), min(u.agent)) AS agent, sum(u.cost_micro_usd) AS cost_micro_usd
FROM past p
JOIN wanted w ON w.caps = p.caps
JOIN usage_events u ON u.mission_id = p.mission_id AND u.task_id = p.task_id
GROUP BY p.mission_id, p.task_id, p.agent, p.caps
ORDER BY p.mission_id, p.task_id
"""


async def load_cost_history(
    conn: Connection, *, capability_sets: Iterable[Iterable[str]]
) -> dict[tuple[str, ...], tuple[PastTaskCost, ...]]:
    """Finished past tasks' total costs for each wanted capability set that has any.

    Keys are `capability_set(...)` of the wanted sets; sets without history are absent. A past
    task counts for the agent recorded on it (or, if none was, the agent its usage names).
    """
    wanted = sorted({capability_set(caps) for caps in capability_sets})
    if not wanted:
        return {}
    cur = await conn.execute(
        _HISTORY_QUERY,
        {"capability_sets": Jsonb([list(caps) for caps in wanted]), "finished_states": _FINISHED_STATES},
    )
    history: dict[tuple[str, ...], list[PastTaskCost]] = {}
    for row in await cur.fetchall():
        history.setdefault(tuple(row["caps"]), []).append(
            PastTaskCost(agent=row["agent"], cost_micro_usd=int(row["cost_micro_usd"]))
        )
    return {caps: tuple(costs) for caps, costs in history.items()}
