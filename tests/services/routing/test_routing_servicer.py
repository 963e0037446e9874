"""RoutingService over real gRPC: Route, RouteBatch, ListAgents, and statuses for bad or unroutable tasks."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import psycopg
import pytest

from agentcoord.services.context import ServiceContext
from agentcoord.services.host import start_services
from agentcoord.v1 import routing_pb2, routing_pb2_grpc


@pytest.fixture
def routing(
    runner, make_db, fresh_database_url, base_config
) -> Iterator[routing_pb2_grpc.RoutingServiceStub]:
    context = ServiceContext(
        base_config.with_database_url(fresh_database_url), make_db(fresh_database_url)
    )
    hosted = runner.run(start_services(["routing"], context, host="127.0.0.1", port=0))
    try:
        with grpc.insecure_channel(f"127.0.0.1:{hosted.port}") as channel:
            yield routing_pb2_grpc.RoutingServiceStub(channel)
    finally:
        runner.run(hosted.stop())


def test_route_returns_the_decision_and_stores_it(routing, fresh_database_url) -> None:
    response = routing.Route(
        routing_pb2.RouteRequest(mission_id="m-1", task_id="t-1", capabilities=["code", "test"]),
        timeout=10,
    )

    assert (response.agent, response.model) == ("sim-fast", "sim-small")
    assert response.reason.startswith(
        "cheapest enabled agent covering code, test: sim-fast ($0.0092 est."
    )
    assert [(c.agent, c.eligible) for c in response.candidates] == [
        ("sim-fast", True),
        ("sim-balanced", True),
        ("sim-deep", True),
        ("sim-slow", False),  # the test registry's slow agent covers only `slow`
    ]
    assert response.candidates[0].estimated_cost_micro_usd == 9_200
    with psycopg.connect(fresh_database_url) as conn:
        stored = conn.execute(
            "SELECT agent, mission_id, task_id FROM route_decisions WHERE decision_id = %s",
            (response.decision_id,),
        ).fetchone()
    assert stored == ("sim-fast", "m-1", "t-1")


def test_list_agents_returns_the_registry(routing, base_config) -> None:
    response = routing.ListAgents(routing_pb2.ListAgentsRequest(), timeout=10)

    assert [a.name for a in response.agents] == [a.name for a in base_config.agents]
    fast = response.agents[0]
    assert (fast.adapter, fast.model, fast.max_concurrency, fast.enabled) == (
        "sim",
        "sim-small",
        4,
        True,
    )
    assert list(fast.capabilities) == ["code", "docs", "test"]
    assert (fast.input_price_micro_usd_per_mtok, fast.output_price_micro_usd_per_mtok) == (
        800_000,
        4_000_000,
    )


def test_unroutable_task_is_a_failed_precondition(routing) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        routing.Route(routing_pb2.RouteRequest(capabilities=["quantum"]), timeout=10)

    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "quantum" in caught.value.details()
    assert "sim-deep (missing capabilities quantum)" in caught.value.details()


def test_negative_expected_tokens_are_invalid(routing) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        routing.Route(
            routing_pb2.RouteRequest(capabilities=["code"], expected_output_tokens=-1), timeout=10
        )

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "expected_output_tokens" in caught.value.details()


def test_route_batch_answers_each_request_in_order(routing, fresh_database_url) -> None:
    requests = [
        routing_pb2.RouteRequest(mission_id="m-1", task_id="t-1", capabilities=["code"]),
        routing_pb2.RouteRequest(mission_id="m-1", task_id="t-2", capabilities=["quantum"]),
        routing_pb2.RouteRequest(mission_id="m-1", task_id="t-3", capabilities=["db"]),
    ]

    response = routing.RouteBatch(routing_pb2.RouteBatchRequest(requests=requests), timeout=10)

    first, refused, third = response.results
    assert (first.decision.agent, third.decision.agent) == ("sim-fast", "sim-balanced")
    assert refused.WhichOneof("result") == "no_eligible_agent"
    assert "sim-deep (missing capabilities quantum)" in refused.no_eligible_agent
    with psycopg.connect(fresh_database_url) as conn:
        stored = conn.execute("SELECT decision_id, task_id FROM route_decisions ORDER BY task_id").fetchall()
    assert stored == [(first.decision.decision_id, "t-1"), (third.decision.decision_id, "t-3")]


def test_route_batch_with_an_invalid_request_is_invalid_argument_naming_it(routing, fresh_database_url) -> None:
    requests = [routing_pb2.RouteRequest(capabilities=["code"]), routing_pb2.RouteRequest(capabilities=[" "])]

    with pytest.raises(grpc.RpcError) as caught:
        routing.RouteBatch(routing_pb2.RouteBatchRequest(requests=requests), timeout=10)

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "requests[1].capabilities" in caught.value.details()
    with psycopg.connect(fresh_database_url) as conn:
        assert conn.execute("SELECT count(*) FROM route_decisions").fetchone()[0] == 0
