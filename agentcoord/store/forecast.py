"""Queries for cost forecasts: what finished past tasks with given capability sets cost.

A past task's cost is the sum of every usage event recorded for it (all attempts). Only tasks in
a terminal state count, so a task still running does not pass for a cheap one. Capability sets
are compared as sets: both sides are sorted and deduplicated, in the "C" collation so the order
matches Python's (code point) order in `agentcoord.forecast.capability_set`; each task stores its
set (migration 0012), indexed with its finish time (migration 0013), so only the latest finished
tasks of a set are read.
"""

from __future__ import annotations

from collections.abc import Iterable

from psycopg.types.json import Jsonb

from agentcoord.forecast import PastTaskCost, capability_set
from agentcoord.store.database import Connection

HISTORY_PER_SET = 200
"""How many of the latest finished tasks of a capability set a forecast draws on."""

# For each wanted set, its latest finished tasks (by the tasks_finished_by_capability_set_idx index),
# each with the total of its usage; tasks without usage (never attempted) do not count.
_HISTORY_QUERY = """
WITH wanted AS (
    SELECT DISTINCT agentcoord_capability_set(ARRAY(SELECT jsonb_array_elements_text(s.caps))) AS caps
    FROM jsonb_array_elements(%(capability_sets)s::jsonb) AS s(caps)
)
SELECT w.caps, COALESCE(NULLIF(p.agent, ''), u.agent) AS agent, u.cost_micro_usd
FROM wanted w
CROSS JOIN LATERAL (
    SELECT t.mission_id, t.task_id, t.agent FROM tasks t
    WHERE t.capability_set = w.caps AND t.finished_at IS NOT NULL
    ORDER BY t.finished_at DESC LIMIT %(per_set)s
) p
CROSS JOIN LATERAL (
    SELECT min(agent) AS agent, sum(cost_micro_usd) AS cost_micro_usd FROM usage_events
    WHERE mission_id = p.mission_id AND task_id = p.task_id
) u
WHERE u.cost_micro_usd IS NOT NULL
ORDER BY p.mission_id, p.task_id
"""


async def load_cost_history(
    conn: Connection, *, capability_sets: Iterable[Iterable[str]], per_set: int = HISTORY_PER_SET
) -> dict[tuple[str, ...], tuple[PastTaskCost, ...]]:
    """Finished past tasks' total costs for each wanted capability set that has any: its latest
    `per_set` finished tasks, so a forecast costs the same however much history is stored.

    Keys are `capability_set(...)` of the wanted sets; sets without history are absent. A past
    task counts for the agent recorded on it (or, if none was, the agent its usage names).
    """
    wanted = sorted({capability_set(caps) for caps in capability_sets})
    if not wanted:
        return {}
    cur = await conn.execute(
        _HISTORY_QUERY,
        {"capability_sets": Jsonb([list(caps) for caps in wanted]), "per_set": per_set},
    )
    history: dict[tuple[str, ...], list[PastTaskCost]] = {}
    for row in await cur.fetchall():
        history.setdefault(tuple(row["caps"]), []).append(
            PastTaskCost(agent=row["agent"], cost_micro_usd=int(row["cost_micro_usd"]))
        )
    return {caps: tuple(costs) for caps, costs in history.items()}
