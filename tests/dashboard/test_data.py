"""The dashboard's read side: missions, tasks, spend and audit status as Polars frames."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import psycopg
import pytest
from dashboard_rows import (
    NEWEST,
    NEWEST_NAME,
    OLDER,
    OLDER_NAME,
    SEEDED_AGENT_ATTEMPTS,
    SEEDED_AGENT_COST_MICRO_USD,
    SEEDED_ALERT_AT,
    SEEDED_ALERTS,
    SEEDED_AUDIT_AT,
    SEEDED_BUDGETS,
    SEEDED_MISSION_COST_MICRO_USD,
    insert_mission,
)

from agentcoord.dashboard.data import AuditStatus, Snapshot, SnapshotReader, read_snapshot
from agentcoord.errors import StoreError


def test_snapshot_holds_missions_tasks_exact_spend_and_audit_status(
    seeded_database_url: str,
) -> None:
    reader = SnapshotReader(seeded_database_url)
    try:
        snapshot = reader.read()
    finally:
        reader.close()

    assert snapshot.missions.select("mission_id", "name", "tasks_done", "tasks_total").rows() == [
        (NEWEST, NEWEST_NAME, 2, 3),
        (OLDER, OLDER_NAME, 1, 1),
    ]
    assert snapshot.mission_id == NEWEST
    assert snapshot.tasks.rows() == [
        ("t1", "succeeded", "claude", 1, ""),
        ("t2", "failed", "codex", 3, "tests failed"),
        ("t3", "running", "claude", 1, ""),
    ]

    by_agent = snapshot.spend_by_agent
    assert by_agent["agent"].to_list() == ["claude", "codex"]  # most expensive first
    assert by_agent.schema["cost_micro_usd"] == pl.Int64
    assert dict(by_agent.select("agent", "cost_micro_usd").rows()) == SEEDED_AGENT_COST_MICRO_USD
    assert dict(by_agent.select("agent", "attempts").rows()) == SEEDED_AGENT_ATTEMPTS
    assert dict(by_agent.select("agent", "cost_text").rows()) == {
        "claude": "$2.2346",
        "codex": "$1.0000",
    }
    assert by_agent.filter(pl.col("agent") == "claude").select("input_tokens", "output_tokens").row(
        0
    ) == (1510, 2520)

    by_mission = snapshot.spend_by_mission
    assert {
        row[0]: row[1:]
        for row in by_mission.select("mission_id", "mission_name", "cost_micro_usd").rows()
    } == {
        NEWEST: (NEWEST_NAME, SEEDED_MISSION_COST_MICRO_USD[NEWEST]),
        OLDER: (OLDER_NAME, SEEDED_MISSION_COST_MICRO_USD[OLDER]),
    }
    assert snapshot.total_cost_micro_usd == sum(SEEDED_AGENT_COST_MICRO_USD.values())
    assert snapshot.audit == AuditStatus(entries=3, latest_at=SEEDED_AUDIT_AT)


def test_snapshot_holds_budgets_with_current_period_spend_and_the_latest_alerts(
    seeded_database_url: str,
) -> None:
    reader = SnapshotReader(seeded_database_url)
    try:
        snapshot = reader.read()
    finally:
        reader.close()

    budgets = snapshot.budgets
    assert budgets.select("budget", "spent_text", "soft_text", "hard_text", "status").rows() == (
        SEEDED_BUDGETS
    )
    assert budgets["spent_micro_usd"].to_list() == [SEEDED_AGENT_COST_MICRO_USD["claude"], 0]
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    assert budgets["period_start"].to_list() == [None, today]  # `total` has no period start

    alerts = snapshot.budget_alerts
    assert alerts.select("budget", "level", "limit_text", "spent_text").rows() == SEEDED_ALERTS
    assert alerts["raised_at"].to_list() == [SEEDED_ALERT_AT]


def test_snapshot_of_a_chosen_mission_outside_the_missions_view(seeded_database_url: str) -> None:
    with psycopg.connect(seeded_database_url, autocommit=True) as conn:
        snapshot = read_snapshot(conn, mission_id=OLDER, mission_limit=1)

    assert snapshot.missions["mission_id"].to_list() == [NEWEST]
    assert snapshot.mission_id == OLDER
    assert snapshot.tasks.select("task_id", "state").rows() == [("t1", "accepted")]
    # Spend still names the mission the missions view no longer shows.
    names = dict(snapshot.spend_by_mission.select("mission_id", "mission_name").rows())
    assert names[OLDER] == OLDER_NAME


def test_empty_database_gives_typed_empty_frames(fresh_database_url: str) -> None:
    reader = SnapshotReader(fresh_database_url)
    try:
        snapshot = reader.read()
    finally:
        reader.close()

    empty = Snapshot.empty()
    for view in (
        "missions", "tasks", "spend_by_agent", "spend_by_mission", "budgets", "budget_alerts"
    ):
        frame = getattr(snapshot, view)
        assert frame.is_empty()
        assert frame.schema == getattr(empty, view).schema, view
        assert pl.Null not in frame.schema.dtypes(), view
    assert snapshot.mission_id is None
    assert snapshot.total_cost_micro_usd == 0
    assert snapshot.audit == AuditStatus(entries=0, latest_at=None)


def test_reader_reports_a_lost_connection_then_reconnects(seeded_database_url: str) -> None:
    reader = SnapshotReader(seeded_database_url)
    try:
        assert reader.read().mission_id == NEWEST
        with psycopg.connect(seeded_database_url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        with pytest.raises(StoreError, match="cannot read the dashboard views"):
            reader.read()
        assert reader.read().mission_id == NEWEST
    finally:
        reader.close()


def test_snapshot_holds_the_review_queue_and_the_acceptance_routing_learns_from(fresh_database_url: str) -> None:
    waiting_since = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
    insert_mission(fresh_database_url, "m-review", "schema change", created_at=waiting_since,
                   tasks=[("schema", "awaiting_review", "claude", 1, ""), ("docs", "succeeded", "codex", 1, "")])
    with psycopg.connect(fresh_database_url) as conn:
        conn.execute("UPDATE tasks SET updated_at = %s WHERE task_id = 'schema'", (waiting_since,))
        conn.execute(
            "INSERT INTO attempts (attempt_id, mission_id, task_id, number, agent, outcome, summary) VALUES"
            " ('a-1', 'm-review', 'schema', 1, 'claude', 'succeeded', 'added the column'),"
            " ('a-2', 'm-review', 'docs', 1, 'codex', 'succeeded', 'documented it')"
        )
        conn.execute("INSERT INTO review_tallies VALUES ('claude', 'db', 3, 4), ('codex', 'docs', 0, 2)")
    reader = SnapshotReader(fresh_database_url)
    try:
        snapshot = reader.read()
    finally:
        reader.close()
    assert snapshot.review_queue.rows() == [
        ("m-review", "schema change", "schema", "claude", "added the column", waiting_since)
    ]
    acceptance = snapshot.acceptance.select("agent", "capability", "accepted", "reviewed", "rate").rows()
    assert acceptance == [("claude", "db", 3, 4, 0.75), ("codex", "docs", 0, 2, 0.0)]
    assert snapshot.acceptance["estimate"].to_list() == pytest.approx([(3 + 3.6) / 8, 3.6 / 6])
