"""`agentcoord review` through MissionService, Ray and the simulated agents: park, reject, rework, accept."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from agentcoord.cli.main import main

MISSION = """\
name: add-column
goal: Add a nullable column and backfill it
max_attempts: 3
tasks:
  - id: schema
    description: Write the migration adding the column
    capabilities: [code, db]
    action: {kind: migrate, paths: [db/migrations/0002_add_column.sql]}
  - id: backfill
    description: Backfill the new column
    capabilities: [code]
    depends_on: [schema]
"""


def _state(url: str, mission_id: str) -> tuple[str, dict[str, tuple[str, int]]]:
    with psycopg.connect(url) as conn:
        mission = conn.execute("SELECT state FROM missions WHERE mission_id = %s", (mission_id,)).fetchone()[0]
        rows = conn.execute("SELECT task_id, state, attempts FROM tasks WHERE mission_id = %s", (mission_id,))
        return mission, {task: (state, attempts) for task, state, attempts in rows}


def _wait_for_mission(url: str, mission_id: str, state: str, timeout_s: float = 60.0) -> dict[str, tuple[str, int]]:
    deadline = time.monotonic() + timeout_s
    while True:
        current, tasks = _state(url, mission_id)
        if current == state:
            return tasks
        if time.monotonic() > deadline:
            raise AssertionError(f"mission stayed {current}, expected {state}: {tasks}")
        time.sleep(0.1)


def test_a_migration_waits_for_review_is_reworked_after_a_rejection_then_completes_when_accepted(
    tmp_path: Path, cli_env: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    url = cli_env.config.database.url
    path = tmp_path / "add-column.yaml"
    path.write_text(MISSION)
    assert main(["mission", "create", str(path), "--wait", "--timeout", "120"]) == 0
    out = capsys.readouterr().out
    assert "results wait for review" in out and "schema: running -> awaiting_review" in out
    mission_id = out.split()[1]
    assert _state(url, mission_id) == ("awaiting_review", {"schema": ("awaiting_review", 1), "backfill": ("pending", 0)})

    assert main(["review", "list"]) == 0
    listing = capsys.readouterr().out
    assert mission_id in listing and "schema" in listing and "add-column" in listing

    with pytest.raises(SystemExit) as usage:  # a rejection without a reason is refused before any call
        main(["review", "reject", mission_id, "schema"])
    assert usage.value.code == 2
    capsys.readouterr()

    assert main(["review", "reject", mission_id, "schema", "--reason", "locks the table", "--reviewer", "ana",
                 "--review-id", "rv-1"]) == 0
    assert "schema rejected by ana: task pending" in capsys.readouterr().out
    tasks = _wait_for_mission(url, mission_id, "awaiting_review")
    assert tasks["schema"] == ("awaiting_review", 2)  # reworked by a second attempt, which waits again

    assert main(["review", "reject", mission_id, "schema", "--reason", "locks the table", "--reviewer", "ana",
                 "--review-id", "rv-1"]) == 0  # a retried request records nothing new
    assert "(already recorded)" in capsys.readouterr().out

    assert main(["review", "accept", mission_id, "schema", "--reviewer", "ana"]) == 0
    tasks = _wait_for_mission(url, mission_id, "completed")
    assert tasks == {"schema": ("accepted", 2), "backfill": ("succeeded", 1)}
    capsys.readouterr()

    assert main(["review", "accept", mission_id, "backfill", "--reviewer", "ana"]) == 1
    assert "backfill is succeeded, not awaiting review" in capsys.readouterr().err
    with psycopg.connect(url) as conn:
        reviews = conn.execute(
            "SELECT verdict, reviewer, reason FROM reviews WHERE mission_id = %s ORDER BY created_at", (mission_id,)
        ).fetchall()
        events = conn.execute(
            "SELECT count(*) FROM events WHERE mission_id = %s AND topic = 'task.reviewed'", (mission_id,)
        ).fetchone()[0]
    assert reviews == [("rejected", "ana", "locks the table"), ("accepted", "ana", "")]
    assert events == 2  # each verdict is on the bus, so the audit log records it
