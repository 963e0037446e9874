"""Read-only queries behind the dashboard, returned as Polars data frames.

The dashboard never writes. Its queries live in agentcoord.store.dashboard_views, each a
named, parameterised SQL constant with the Polars schema of its result. Spend comes from the
same Polars aggregation as `agentcoord report` (agentcoord.reports.spend_frame, per agent and
mission), is regrouped here by agent or by mission with integer sums, and becomes dollar text
only at the end, through agentcoord.money. Budgets come with their spend in the current period
and the newest budget alerts (the budget_alerts rows behind `budget.alert` events); the review
queue and the review tallies routing learns from. A snapshot reads every view in one read-only
REPEATABLE READ transaction, so the tables on screen agree with each other.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import polars as pl
import psycopg
from psycopg import IsolationLevel

from agentcoord.errors import StoreError
from agentcoord.money import format_usd
from agentcoord.reports import Period, spend_frame
from agentcoord.reviews import PRIOR_ACCEPTANCE, PRIOR_REVIEWS
from agentcoord.states import TERMINAL_TASK_STATES
from agentcoord.store.dashboard_views import (
    ACCEPTANCE,
    AUDIT_STATUS,
    BUDGET_ALERTS,
    BUDGETS,
    MISSION_NAMES,
    MISSIONS,
    REVIEW_QUEUE,
    TASKS,
    read_frame,
)

log = logging.getLogger(__name__)

MISSION_LIMIT = 100
"""How many of the newest missions the missions view shows."""
ALERT_LIMIT = 20
"""How many of the newest budget alerts the dashboard shows."""
REVIEW_LIMIT = 50
"""How many of the longest-waiting results the review queue shows."""

_SPEND_TOTALS = ("cost_micro_usd", "input_tokens", "output_tokens", "attempts")
_SPEND_SCHEMA = {
    "agent": pl.String(),
    "mission": pl.String(),
    **{c: pl.Int64() for c in _SPEND_TOTALS},
}
_ALL_TIME = Period(start=None, end=None, label="all time")


def read_missions(conn: psycopg.Connection[Any], *, limit: int = MISSION_LIMIT) -> pl.DataFrame:
    """The newest `limit` missions, newest first, with tasks_done / tasks_total."""
    return read_frame(
        conn, MISSIONS, params={"limit": limit, "terminal_task_states": TERMINAL_TASK_STATES}
    )


def read_tasks(conn: psycopg.Connection[Any], mission_id: str) -> pl.DataFrame:
    """The tasks of `mission_id` in plan order (empty for an unknown mission)."""
    return read_frame(conn, TASKS, params={"mission_id": mission_id})


def read_spend(conn: psycopg.Connection[Any]) -> pl.DataFrame:
    """All-time spend per (agent, mission): integer micro-dollars, tokens and attempts."""
    return spend_frame(conn, _ALL_TIME, by=("agent", "mission")).select(
        "agent", "mission", *_SPEND_TOTALS
    )


@dataclass(frozen=True)
class AuditStatus:
    """The size of the audit log and the time of its newest entry (None when empty)."""

    entries: int
    latest_at: datetime | None


def read_audit_status(conn: psycopg.Connection[Any]) -> AuditStatus:
    """Count the audit entries and find the newest one's time."""
    row = read_frame(conn, AUDIT_STATUS, params={}).row(0, named=True)
    return AuditStatus(entries=row["entries"], latest_at=row["latest_at"])


def read_budgets(conn: psycopg.Connection[Any]) -> pl.DataFrame:
    """Every budget with its spend in the current period (see `budget_view` for the columns)."""
    return budget_view(read_frame(conn, BUDGETS, params={}))


def read_budget_alerts(
    conn: psycopg.Connection[Any], *, limit: int = ALERT_LIMIT
) -> pl.DataFrame:
    """The newest `limit` budget alerts, newest first (see `alert_view` for the columns)."""
    return alert_view(read_frame(conn, BUDGET_ALERTS, params={"limit": limit}))


def read_review_queue(conn: psycopg.Connection[Any], *, limit: int = REVIEW_LIMIT) -> pl.DataFrame:
    """Results waiting for a verdict, longest waiting first."""
    return read_frame(conn, REVIEW_QUEUE, params={"limit": limit})


def read_acceptance(conn: psycopg.Connection[Any]) -> pl.DataFrame:
    """Review tallies per agent and capability (see `acceptance_view` for the columns)."""
    return acceptance_view(read_frame(conn, ACCEPTANCE, params={}))


def acceptance_view(tallies: pl.DataFrame) -> pl.DataFrame:
    """ACCEPTANCE rows plus `rate` (observed) and `estimate`, the smoothed rate routing divides by."""
    return tallies.with_columns(
        rate=pl.col("accepted") / pl.col("reviewed"),
        estimate=(pl.col("accepted") + PRIOR_ACCEPTANCE * PRIOR_REVIEWS) / (pl.col("reviewed") + PRIOR_REVIEWS),
    )


def budget_view(budgets: pl.DataFrame) -> pl.DataFrame:
    """BUDGETS rows plus `budget` (its name), dollar text columns and `status`.

    `status` is `hard limit reached`, `soft limit reached` or `ok`; unset limits show as `-`.
    """
    spent = pl.col("spent_micro_usd")
    return budgets.with_columns(
        budget=_budget_name(),
        spent_text=_usd_text("spent_micro_usd"),
        soft_text=_usd_text("soft_limit_micro_usd"),
        hard_text=_usd_text("hard_limit_micro_usd"),
        status=pl.when(spent >= pl.col("hard_limit_micro_usd"))
        .then(pl.lit("hard limit reached"))
        .when(spent >= pl.col("soft_limit_micro_usd"))
        .then(pl.lit("soft limit reached"))
        .otherwise(pl.lit("ok")),
    )


def alert_view(alerts: pl.DataFrame) -> pl.DataFrame:
    """BUDGET_ALERTS rows plus `budget` (its name) and dollar text columns."""
    return alerts.with_columns(
        budget=_budget_name(),
        limit_text=_usd_text("limit_micro_usd"),
        spent_text=_usd_text("spent_micro_usd"),
    )


def _budget_name() -> pl.Expr:
    # The same `scope:subject/period` as agentcoord.budgets.Budget.name.
    return pl.format("{}:{}/{}", "scope", "subject", "period")


def _usd_text(column: str) -> pl.Expr:
    return (
        pl.col(column).map_elements(format_usd, return_dtype=pl.String).fill_null(pl.lit("-"))
    )


def spend_by_agent(spend: pl.DataFrame) -> pl.DataFrame:
    """Spend per agent from `read_spend` rows, most expensive first, with `cost_text` dollars."""
    return _regroup(spend, "agent")


def spend_by_mission(spend: pl.DataFrame, mission_names: pl.DataFrame) -> pl.DataFrame:
    """Spend per mission from `read_spend` rows, named from `mission_names`, costliest first."""
    per_mission = _regroup(spend, "mission").rename({"mission": "mission_id"})
    return per_mission.join(
        mission_names, on="mission_id", how="left", maintain_order="left"
    ).with_columns(pl.col("mission_name").fill_null(""))


def _regroup(spend: pl.DataFrame, key: str) -> pl.DataFrame:
    # Integer sums of integer sums: exact. Dollars appear only as text, via agentcoord.money.
    return (
        spend.group_by(key)
        .agg(pl.col(column).sum() for column in _SPEND_TOTALS)
        .with_columns(
            cost_text=pl.col("cost_micro_usd").map_elements(format_usd, return_dtype=pl.String)
        )
        .sort(["cost_micro_usd", key], descending=[True, False])
    )


@dataclass(frozen=True)
class Snapshot:
    """Everything the dashboard shows, read in one consistent transaction.

    `mission_id` is the mission whose tasks are in `tasks`: the one asked for, else the newest
    (None when there are no missions).
    """

    missions: pl.DataFrame
    mission_id: str | None
    tasks: pl.DataFrame
    spend_by_agent: pl.DataFrame
    spend_by_mission: pl.DataFrame
    audit: AuditStatus
    budgets: pl.DataFrame
    budget_alerts: pl.DataFrame
    review_queue: pl.DataFrame
    acceptance: pl.DataFrame

    @classmethod
    def empty(cls) -> Snapshot:
        """The snapshot of an empty database (what the dashboard shows before its first read)."""
        spend = pl.DataFrame(schema=_SPEND_SCHEMA)
        return cls(
            missions=pl.DataFrame(schema=dict(MISSIONS.schema)),
            mission_id=None,
            tasks=pl.DataFrame(schema=dict(TASKS.schema)),
            spend_by_agent=spend_by_agent(spend),
            spend_by_mission=spend_by_mission(
                spend, pl.DataFrame(schema=dict(MISSION_NAMES.schema))
            ),
            audit=AuditStatus(entries=0, latest_at=None),
            budgets=budget_view(pl.DataFrame(schema=dict(BUDGETS.schema))),
            budget_alerts=alert_view(pl.DataFrame(schema=dict(BUDGET_ALERTS.schema))),
            review_queue=pl.DataFrame(schema=dict(REVIEW_QUEUE.schema)),
            acceptance=acceptance_view(pl.DataFrame(schema=dict(ACCEPTANCE.schema))),
        )

    @property
    def total_cost_micro_usd(self) -> int:
        """All recorded spend, in micro-dollars."""
        return int(self.spend_by_agent["cost_micro_usd"].sum())


def read_snapshot(
    conn: psycopg.Connection[Any],
    *,
    mission_id: str | None = None,
    mission_limit: int = MISSION_LIMIT,
) -> Snapshot:
    """Read every dashboard view in one transaction (the connection's isolation level applies)."""
    with conn.transaction():
        missions = read_missions(conn, limit=mission_limit)
        shown = mission_id if mission_id is not None else _newest(missions)
        tasks = (
            read_tasks(conn, shown)
            if shown is not None
            else pl.DataFrame(schema=dict(TASKS.schema))
        )
        spend = read_spend(conn)
        names = read_frame(
            conn, MISSION_NAMES, params={"mission_ids": spend["mission"].unique().to_list()}
        )
        audit = read_audit_status(conn)
        budgets = read_budgets(conn)
        budget_alerts = read_budget_alerts(conn)
        review_queue = read_review_queue(conn)
        acceptance = read_acceptance(conn)
    return Snapshot(
        missions=missions,
        mission_id=shown,
        tasks=tasks,
        spend_by_agent=spend_by_agent(spend),
        spend_by_mission=spend_by_mission(spend, names),
        audit=audit,
        budgets=budgets,
        budget_alerts=budget_alerts,
        review_queue=review_queue,
        acceptance=acceptance,
    )


def _newest(missions: pl.DataFrame) -> str | None:
    return None if missions.is_empty() else str(missions["mission_id"][0])


class SnapshotReader:
    """A read-only connection that reads snapshots; reconnects on the next read after a failure.

    psycopg errors become `StoreError` here, so the dashboard handles one error family.
    """

    def __init__(self, database_url: str, *, connect_timeout_s: int = 5) -> None:
        self._url = database_url
        self._connect_timeout_s = connect_timeout_s
        self._conn: psycopg.Connection[Any] | None = None

    def read(
        self, *, mission_id: str | None = None, mission_limit: int = MISSION_LIMIT
    ) -> Snapshot:
        """A consistent snapshot of every dashboard view (see `read_snapshot`)."""
        try:
            return read_snapshot(
                self._connection(), mission_id=mission_id, mission_limit=mission_limit
            )
        except psycopg.Error as exc:
            self.close()
            raise StoreError(f"cannot read the dashboard views: {str(exc).strip()}") from exc

    def close(self) -> None:
        """Close the connection (the next read opens a new one)."""
        if self._conn is not None:
            conn, self._conn = self._conn, None
            conn.close()

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            conn = psycopg.connect(
                self._url, autocommit=True, connect_timeout=self._connect_timeout_s
            )
            conn.read_only = True
            conn.isolation_level = IsolationLevel.REPEATABLE_READ
            self._conn = conn
            log.debug("dashboard connected to PostgreSQL")
        return self._conn
