"""Hosting: health and reflection on every server, unknown names refused, reachable self-address."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from agentcoord.config import Config
from agentcoord.errors import InvalidInputError
from agentcoord.services.context import ServiceContext
from agentcoord.services.host import start_services
from agentcoord.store import Database


def test_health_and_reflection_name_every_hosted_service(runner: Any, db: Database, base_config: Config) -> None:
    hosted = runner.run(start_services(["routing", "cost"], ServiceContext(base_config, db), host="0.0.0.0", port=0,
                                       advertise_self=True))
    try:
        assert hosted.context.config.addresses.cost == f"127.0.0.1:{hosted.port}"  # callable, not 0.0.0.0
        with grpc.insecure_channel(f"127.0.0.1:{hosted.port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)
            for name in ("agentcoord.v1.RoutingService", "agentcoord.v1.CostService", ""):
                status = health.Check(health_pb2.HealthCheckRequest(service=name), timeout=5).status
                assert status == health_pb2.HealthCheckResponse.SERVING
            with pytest.raises(grpc.RpcError) as caught:
                health.Check(health_pb2.HealthCheckRequest(service="agentcoord.v1.AuditService"), timeout=5)
            assert caught.value.code() == grpc.StatusCode.NOT_FOUND
            stub = reflection_pb2_grpc.ServerReflectionStub(channel)
            answer = next(stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]),
                                                     timeout=5))
            listed = {service.name for service in answer.list_services_response.service}
            assert {"agentcoord.v1.RoutingService", "agentcoord.v1.CostService", "grpc.health.v1.Health"} <= listed
    finally:
        runner.run(hosted.stop())


def test_unknown_service_names_are_refused(runner: Any, db: Database, base_config: Config) -> None:
    with pytest.raises(InvalidInputError, match="unknown service 'billing'; known: mission, routing, cost, audit"):
        runner.run(start_services(["billing"], ServiceContext(base_config, db), host="127.0.0.1", port=0))
