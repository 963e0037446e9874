"""End to end: a mission file through the CLI, MissionService, Ray actors and sim agents.

Everything is real: PostgreSQL, Ray, the gRPC services on 127.0.0.1, the audit appender.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from agentcoord.cli.main import main
from agentcoord.money import format_usd

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "missions"


def _wait_for_audit(url: str, minimum_events: int, deadline_s: float = 30.0) -> None:
    """Wait until the audit appender has caught up with the event outbox."""
    end = time.monotonic() + deadline_s
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < end:
            events, last = conn.execute(
                "SELECT count(*), max(ARRAY[xact_id, event_id]) FROM events"
            ).fetchone()
            offset = conn.execute(
                "SELECT ARRAY[last_xact_id, last_event_id] FROM consumer_offsets WHERE consumer = 'audit-appender'"
            ).fetchone()
            if events >= minimum_events and offset is not None and offset[0] >= last:
                return
            time.sleep(0.1)
    raise AssertionError("audit appender did not catch up with the event outbox")


def _mission_id(output: str) -> str:
    return output.split("mission ", 1)[1].split(" ", 1)[0]


def test_hello_mission_runs_to_completion_with_routing_usage_and_audit(
    cli_env: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    url = cli_env.config.database.url
    assert main(["mission", "create", str(EXAMPLES / "hello.yaml"), "--wait"]) == 0
    out = capsys.readouterr().out
    mission_id = _mission_id(out)
    assert "state:  completed" in out

    with psycopg.connect(url) as conn:
        states = dict(conn.execute("SELECT task_id, state FROM tasks WHERE mission_id = %s", (mission_id,)).fetchall())
        assert states == {"write": "succeeded", "test": "succeeded", "document": "succeeded"}
        routed = {r[0] for r in conn.execute("SELECT task_id FROM route_decisions WHERE mission_id = %s", (mission_id,))}
        assert routed == set(states)
        usage = conn.execute(
            "SELECT task_id, cost_micro_usd FROM usage_events WHERE mission_id = %s", (mission_id,)
        ).fetchall()
        assert {task for task, _ in usage} == set(states) and all(cost > 0 for _, cost in usage)
        # Dependencies ran in order: each task started after the one it depends on ended.
        ended = dict(conn.execute(
            "SELECT task_id, max(ended_at) FROM attempts WHERE mission_id = %s GROUP BY task_id", (mission_id,)
        ).fetchall())
        started = dict(conn.execute(
            "SELECT task_id, min(started_at) FROM attempts WHERE mission_id = %s GROUP BY task_id", (mission_id,)
        ).fetchall())
        assert ended["write"] <= started["test"] and ended["test"] <= started["document"]

    _wait_for_audit(url, minimum_events=1)
    with psycopg.connect(url) as conn:
        audited = {
            r[0] for r in conn.execute(
                "SELECT DISTINCT action FROM audit_log WHERE subject LIKE %s", (f"mission/{mission_id}%",)
            )
        }
        assert {"mission.created", "mission.state", "task.state", "route.decided", "usage.recorded",
                "policy.decided"} <= audited

    assert main(["report", "--period", "last-7d", "--by", "mission"]) == 0
    mission_line = next(line for line in capsys.readouterr().out.splitlines() if mission_id in line)
    assert format_usd(sum(cost for _, cost in usage)) in mission_line.split()
    assert main(["report", "--period", "today", "--by", "agent,mission"]) == 0
    report = capsys.readouterr().out
    assert mission_id in report and "TOTAL" in report
    assert main(["audit", "verify"]) == 0
    assert "intact" in capsys.readouterr().out


def test_audit_verify_names_the_seq_of_a_row_changed_behind_the_apps_back(
    cli_env: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    url = cli_env.config.database.url
    assert main(["mission", "create", str(EXAMPLES / "hello.yaml"), "--wait"]) == 0
    _wait_for_audit(url, minimum_events=1)
    capsys.readouterr()
    with psycopg.connect(url, autocommit=True) as conn:
        seq, payload = conn.execute("SELECT seq, payload FROM audit_log ORDER BY seq DESC OFFSET 3 LIMIT 1").fetchone()
        conn.execute("SET session_replication_role = replica")  # superuser: bypass the append-only trigger
        conn.execute("UPDATE audit_log SET payload = %s WHERE seq = %s", (bytes(payload).replace(b"}", b",\"x\":1}", 1), seq))
        try:
            assert main(["audit", "verify"]) == 1
            out = capsys.readouterr().out
            assert f"TAMPERED at seq {seq}" in out
            assert main(["audit", "verify", "--json"]) == 1
            assert f'"first_bad_seq": {seq}' in capsys.readouterr().out
        finally:
            conn.execute("UPDATE audit_log SET payload = %s WHERE seq = %s", (payload, seq))
    assert main(["audit", "verify"]) == 0


def test_production_deploy_is_blocked_by_policy_and_the_mission_says_why(
    cli_env: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    url = cli_env.config.database.url
    assert main(["mission", "create", str(EXAMPLES / "deploy-prod.yaml"), "--wait"]) == 1
    mission_id = _mission_id(capsys.readouterr().out)
    with psycopg.connect(url) as conn:
        state, reason = conn.execute("SELECT state, reason FROM missions WHERE mission_id = %s", (mission_id,)).fetchone()
        assert state == "failed"
        assert "deploy blocked_by_policy" in reason and "no-production-deploys" in reason
        task_state, attempts = conn.execute(
            "SELECT state, attempts FROM tasks WHERE mission_id = %s AND task_id = 'deploy'", (mission_id,)
        ).fetchone()
        assert (task_state, attempts) == ("blocked_by_policy", 0)  # the agent never ran
        effect, rules = conn.execute(
            "SELECT effect, rule_ids FROM policy_decisions WHERE mission_id = %s AND task_id = 'deploy'", (mission_id,)
        ).fetchone()
        assert (effect, rules) == ("deny", ["no-production-deploys"])
        build = conn.execute(
            "SELECT state FROM tasks WHERE mission_id = %s AND task_id = 'build'", (mission_id,)
        ).fetchone()[0]
        assert build == "succeeded"


def test_a_goal_only_mission_is_planned_by_an_agent_and_completes(
    cli_env: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["mission", "create", str(EXAMPLES / "goal-only.yaml"), "--wait"]) == 0
    out = capsys.readouterr().out
    assert "planned" in out and "state:  completed" in out
    mission_id = _mission_id(out)
    with psycopg.connect(cli_env.config.database.url) as conn:
        planner = conn.execute(
            "SELECT agent FROM route_decisions WHERE mission_id = %s AND task_id = 'plan'", (mission_id,)
        ).fetchone()[0]
        tasks = conn.execute("SELECT count(*) FROM tasks WHERE mission_id = %s", (mission_id,)).fetchone()[0]
    assert planner == "sim-deep" and tasks >= 4
