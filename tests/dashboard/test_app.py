"""The Panel dashboard: served over HTTP and the Bokeh protocol, refreshed live from the DB."""

from __future__ import annotations

import json
import socket
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from bokeh.client import pull_session
from bokeh.document import Document
from dashboard_rows import (
    NEWEST,
    NEWEST_NAME,
    OLDER,
    OLDER_NAME,
    SEEDED_ALERTS,
    SEEDED_BUDGETS,
    insert_alert,
    insert_budget,
    insert_mission,
    insert_usage,
)
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from agentcoord.config import Config
from agentcoord.dashboard.app import TITLE, create_dashboard, serve_dashboard
from agentcoord.errors import InvalidInputError


def _eventually(predicate: Callable[[], bool], *, timeout_s: float = 15.0) -> bool:
    """Poll `predicate` until it holds or the deadline passes."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def _document_text(document: Document) -> str:
    return json.dumps(document.to_json(), default=str)


def test_served_dashboard_shows_missions_and_spend_and_follows_the_database(
    seeded_database_url: str, base_config: Config
) -> None:
    server = serve_dashboard(base_config.with_database_url(seeded_database_url), port=0)
    try:
        with urllib.request.urlopen(server.url, timeout=10) as response:
            assert response.status == 200
            assert f"<title>{TITLE}</title>" in response.read().decode()

        # The page loads its document over the Bokeh websocket, as a browser does.
        client = pull_session(url=server.url)
        try:
            served = _document_text(client.document)
        finally:
            client.close()
        assert NEWEST_NAME in served
        assert "$2.2346" in served  # claude's spend
        assert "$1.0000" in served  # codex's spend
        assert "agent:claude/total" in served  # the budget and its alert
        assert "soft limit reached" in served

        insert_mission(
            seeded_database_url, "m-live", "Live mission 42", created_at=datetime.now(UTC)
        )
        insert_budget(seeded_database_url, "tag", "team:live", "week", soft=None, hard=7_000_000)
        insert_alert(
            seeded_database_url,
            ("agent", "claude", "total"),
            level="hard",
            limits=(5_000_000, 5_000_001),
            raised_at=datetime.now(UTC),
        )

        def a_session_shows_the_new_rows() -> bool:
            return any(
                "Live mission 42" in dashboard.missions_table.value["name"].tolist()
                and "tag:team:live/week" in dashboard.budgets_table.value["budget"].tolist()
                and dashboard.budget_alerts_table.value["level"].tolist() == ["hard", "soft"]
                for dashboard in server.sessions()
            )

        assert _eventually(a_session_shows_the_new_rows)
    finally:
        server.stop()
    with pytest.raises(OSError):
        socket.create_connection((server.address, server.port), timeout=1).close()


def test_dashboard_refreshes_in_place_and_follows_the_chosen_mission(
    seeded_database_url: str, base_config: Config
) -> None:
    dashboard = create_dashboard(base_config.with_database_url(seeded_database_url))
    try:
        missions_table, agent_spend_table = dashboard.missions_table, dashboard.agent_spend_table
        budgets_table = dashboard.budgets_table
        shown_budgets = budgets_table.value[["budget", "spent", "soft limit", "hard limit", "status"]]
        assert [tuple(row) for row in shown_budgets.itertuples(index=False)] == SEEDED_BUDGETS
        shown_alerts = dashboard.budget_alerts_table.value[["budget", "level", "limit", "spent"]]
        assert [tuple(row) for row in shown_alerts.itertuples(index=False)] == SEEDED_ALERTS
        assert dashboard.tasks_table.value["task_id"].tolist() == ["t1", "t2", "t3"]
        assert NEWEST_NAME in dashboard.tasks_title.object
        assert dashboard.spend_chart_source.data["cost_text"] == ["$2.2346", "$1.0000"]
        assert "$3.2346" in dashboard.summary.object
        assert "**3** entries" in dashboard.audit_line.object

        dashboard.select_mission(OLDER)
        assert dashboard.tasks_table.value["task_id"].tolist() == ["t1"]
        assert OLDER_NAME in dashboard.tasks_title.object

        insert_usage(
            seeded_database_url,
            "u-gemini",
            mission_id=NEWEST,
            task_id="t3",
            agent="gemini",
            tokens=(1, 1),
            cost_micro_usd=5_000_000,
        )
        insert_budget(seeded_database_url, "agent", "gemini", "total", soft=4_000_000, hard=None)
        dashboard.refresh()
        # Same widgets, new data: the page is updated, not rebuilt.
        assert dashboard.missions_table is missions_table
        assert dashboard.agent_spend_table is agent_spend_table
        assert dashboard.budgets_table is budgets_table
        shown_budgets = dashboard.budgets_table.value[["budget", "spent", "hard limit", "status"]]
        assert [tuple(row) for row in shown_budgets.itertuples(index=False)][1] == (
            "agent:gemini/total",
            "$5.0000",
            "-",
            "soft limit reached",
        )
        assert dashboard.agent_spend_table.value["spend"].tolist() == [
            "$5.0000",
            "$2.2346",
            "$1.0000",
        ]
        assert dashboard.spend_chart_source.data["agent"] == ["gemini", "claude", "codex"]
        assert list(dashboard.spend_chart.x_range.factors) == ["gemini", "claude", "codex"]
        assert dashboard.tasks_table.value["task_id"].tolist() == ["t1"]  # still the chosen mission
    finally:
        dashboard.close()


def test_dashboard_shows_an_unreachable_database_instead_of_failing(
    database_url: str, base_config: Config
) -> None:
    params = conninfo_to_dict(database_url)
    params["dbname"] = "no_such_database"
    dashboard = create_dashboard(base_config.with_database_url(make_conninfo(**params)))
    try:
        assert dashboard.error_alert.visible
        assert "Database unavailable" in dashboard.error_alert.object
        assert dashboard.missions_table.value.empty
    finally:
        dashboard.close()


def test_dashboard_needs_a_database_url(base_config: Config) -> None:
    config = Config.from_env({"AGENTCOORD_DATA_DIR": str(base_config.state_dir)})
    with pytest.raises(InvalidInputError, match="database.url"):
        create_dashboard(config)
    with pytest.raises(InvalidInputError, match="database.url"):
        serve_dashboard(config, port=0)
