"""The routing desk on real PostgreSQL: a decision is stored only together with its event, alone or in a batch."""

from __future__ import annotations

import psycopg
import pytest

from agentcoord.errors import InvalidInputError, NoEligibleAgentError, StoreError
from agentcoord.routing import TaskToRoute
from agentcoord.services.routing.router import Router
from agentcoord.services.routing.service import RoutingDesk
from agentcoord.store.routing import list_route_decisions


def _counts(url: str) -> tuple[int, int]:
    with psycopg.connect(url) as conn:
        decisions = conn.execute("SELECT count(*) FROM route_decisions").fetchone()[0]
        events = conn.execute("SELECT count(*) FROM events").fetchone()[0]
    return decisions, events


def test_decision_and_event_are_stored_together(
    runner, make_db, fresh_database_url, base_config
) -> None:
    db = make_db(fresh_database_url)
    desk = RoutingDesk(db, Router(base_config.agents))

    async def scenario():
        decision = await desk.route(
            TaskToRoute(
                ("db", "code"),
                mission_id="m-1",
                task_id="t-1",
                description="add an index",
                expected_input_tokens=8_000,
            )
        )
        async with db.transaction() as conn:
            stored = await list_route_decisions(conn, mission_id="m-1", task_id="t-1")
            # Every committed event, settled or not: a transaction open elsewhere on the server
            # (another test's) may hold the settled horizon back for a moment.
            cur = await conn.execute("SELECT topic, actor, mission_id, task_id, payload FROM events")
            events = await cur.fetchall()
        return decision, stored, events

    decision, stored, events = runner.run(scenario())

    assert decision.agent == "sim-balanced"
    assert [s.decision for s in stored] == [decision]
    assert (stored[0].mission_id, stored[0].task_id) == ("m-1", "t-1")
    assert decision.expected_input_tokens == 8_000
    [event] = events
    assert (event["topic"], event["actor"], event["mission_id"], event["task_id"]) == (
        "route.decided",
        "routing",
        "m-1",
        "t-1",
    )
    assert event["payload"] == {**decision.to_json(), "description": "add an index"}
    assert [c["agent"] for c in event["payload"]["candidates"]] == [
        "sim-balanced",
        "sim-deep",
        "sim-fast",
        "sim-slow",
    ]


def test_a_failed_event_write_leaves_no_decision(
    runner, make_db, fresh_database_url, base_config
) -> None:
    with psycopg.connect(fresh_database_url, autocommit=True) as conn:
        conn.execute(
            "ALTER TABLE events ADD CONSTRAINT refuse_routes CHECK (topic <> 'route.decided')"
        )
    desk = RoutingDesk(make_db(fresh_database_url), Router(base_config.agents))

    with pytest.raises(StoreError, match="refuse_routes"):
        runner.run(desk.route(TaskToRoute(("code",), mission_id="m-1", task_id="t-1")))

    assert _counts(fresh_database_url) == (0, 0)


def test_no_eligible_agent_stores_nothing(runner, make_db, fresh_database_url, base_config) -> None:
    desk = RoutingDesk(make_db(fresh_database_url), Router(base_config.agents))

    with pytest.raises(NoEligibleAgentError):
        runner.run(desk.route(TaskToRoute(("quantum",), mission_id="m-1", task_id="t-1")))

    assert _counts(fresh_database_url) == (0, 0)


def test_routing_reads_the_review_tallies_so_rejections_move_the_next_decision(
    runner, make_db, fresh_database_url, base_config
) -> None:
    db = make_db(fresh_database_url)
    desk = RoutingDesk(db, Router(base_config.agents))
    assert runner.run(desk.route(TaskToRoute(("docs",)))).agent == "sim-fast"
    with psycopg.connect(fresh_database_url, autocommit=True) as conn:
        conn.execute("INSERT INTO review_tallies VALUES ('sim-fast', 'docs', 0, 30), ('sim-fast', 'code', 30, 30)")
    decision = runner.run(desk.route(TaskToRoute(("docs",))))
    assert decision.agent == "sim-balanced"
    assert "sim-fast" in decision.reason and "from 30 reviews" in decision.reason
    assert runner.run(desk.route(TaskToRoute(("code",)))).agent == "sim-fast"  # only the rejected kind of task moved


def test_a_batch_stores_each_decision_with_its_event_in_order_and_refuses_only_the_unroutable(
    runner, make_db, fresh_database_url, base_config
) -> None:
    desk = RoutingDesk(make_db(fresh_database_url), Router(base_config.agents))
    tasks = [
        TaskToRoute(("code",), mission_id="m-1", task_id="t-1", description="first"),
        TaskToRoute(("quantum",), mission_id="m-1", task_id="t-2"),
        TaskToRoute(("db", "code"), mission_id="m-2", task_id="t-3", description="third"),
    ]

    first, refused, third = runner.run(desk.route_many(tasks))

    assert isinstance(refused, NoEligibleAgentError) and "quantum" in str(refused)
    assert (first.agent, third.agent) == ("sim-fast", "sim-balanced")
    with psycopg.connect(fresh_database_url) as conn:
        decisions = conn.execute(
            "SELECT decision_id, mission_id, task_id, agent, capabilities FROM route_decisions ORDER BY task_id"
        ).fetchall()
        events = conn.execute("SELECT task_id, payload FROM events ORDER BY event_id").fetchall()
    assert decisions == [
        (first.decision_id, "m-1", "t-1", "sim-fast", ["code"]),
        (third.decision_id, "m-2", "t-3", "sim-balanced", ["code", "db"]),
    ]
    assert events == [
        ("t-1", {**first.to_json(), "description": "first"}),
        ("t-3", {**third.to_json(), "description": "third"}),
    ]


def test_an_invalid_task_in_a_batch_names_its_index_and_stores_nothing(
    runner, make_db, fresh_database_url, base_config
) -> None:
    desk = RoutingDesk(make_db(fresh_database_url), Router(base_config.agents))
    tasks = [TaskToRoute(("code",)), TaskToRoute(("code",), expected_output_tokens=-1)]

    with pytest.raises(InvalidInputError) as caught:
        runner.run(desk.route_many(tasks))

    assert caught.value.field == "requests[1].expected_output_tokens"
    assert _counts(fresh_database_url) == (0, 0)
