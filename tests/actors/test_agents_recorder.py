"""The event recorder: one warm connection per executor thread, re-made when it breaks, closed when idle."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from agentcoord.actors.agents import recorder as recorder_module
from agentcoord.actors.agents.base import AgentEvent, EventKind
from agentcoord.actors.agents.recorder import EventRecorder


def _record(url: str, attempt: str) -> None:
    recorder = EventRecorder(url, mission_id="m1", task_id="t1", attempt_id=attempt, agent="sim")
    recorder.add(AgentEvent(EventKind.MESSAGE, {"text": f"hello from {attempt}"}))
    recorder.close()


def _backends(conn: psycopg.Connection) -> list[int]:
    """Client backends on this database other than `conn` itself."""
    return [pid for (pid,) in conn.execute(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        " AND backend_type = 'client backend'"
    )]


def test_attempts_of_one_thread_share_a_connection_and_a_broken_one_is_replaced(
    fresh_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recorder_module, "IDLE_CLOSE_S", 0.5)
    results: dict[str, object] = {}

    def executor_thread() -> None:  # a Ray worker runs its attempts one after another on one thread
        with psycopg.connect(fresh_database_url, autocommit=True) as conn:
            _record(fresh_database_url, "a1")
            first = _backends(conn)
            _record(fresh_database_url, "a2")
            results["reused"] = (first, _backends(conn))
            conn.execute("SELECT pg_terminate_backend(%s)", (first[0],))
            _record(fresh_database_url, "a3")  # the warm connection died in between: reconnect
            results["after_kill"] = _backends(conn)
            time.sleep(1.5)  # no attempt follows: the idle connection is closed
            results["idle"] = _backends(conn)

    thread = threading.Thread(target=executor_thread)
    thread.start()
    thread.join(timeout=60)
    with psycopg.connect(fresh_database_url) as conn:
        recorded = [r[0] for r in conn.execute("SELECT payload->>'attempt_id' FROM events ORDER BY event_id")]
    first, second = results["reused"]  # type: ignore[misc]
    assert len(first) == 1 and first == second
    assert results["after_kill"] != first and len(results["after_kill"]) == 1  # type: ignore[arg-type]
    assert results["idle"] == []
    assert recorded == ["a1", "a2", "a3"]
