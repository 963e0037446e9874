"""Hosts one or more gRPC services on one grpc.aio server, with health, reflection and errors.

`agentcoord up` hosts them all on one port; `agentcoord serve routing` hosts one. Background
consumers of the event bus (e.g. the audit appender) run beside the server and stop with it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import ModuleType

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from agentcoord.errors import InvalidInputError
from agentcoord.services.context import ServiceContext
from agentcoord.services.errors import ErrorMappingInterceptor

log = logging.getLogger(__name__)

_WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::", "[::]"})

SERVICE_MODULES: dict[str, str] = {
    "mission": "agentcoord.services.mission",
    "routing": "agentcoord.services.routing",
    "cost": "agentcoord.services.cost",
    "audit": "agentcoord.services.audit",
}


@dataclass
class HostedServices:
    """A started server, the port it listens on, and its background tasks."""

    server: grpc.aio.Server
    port: int
    names: tuple[str, ...]
    context: ServiceContext
    background: list[asyncio.Task[None]] = field(default_factory=list)
    stop_event: asyncio.Event = field(default_factory=asyncio.Event)

    async def stop(self, grace_s: float = 2.0) -> None:
        """Stop background consumers, then the server, letting in-flight calls finish."""
        self.stop_event.set()
        for task in self.background:
            task.cancel()
        await asyncio.gather(*self.background, return_exceptions=True)
        await self.server.stop(grace_s)


async def start_services(
    names: Sequence[str], context: ServiceContext, *, host: str, port: int, advertise_self: bool = False
) -> HostedServices:
    """Mount the named services on one server bound to host:port (0 picks a free port).

    With `advertise_self`, the services (and the actors they start) are told to reach every
    service at this server's own address, which is only known once the port is bound (a
    wildcard bind is advertised as loopback, so this suits one machine; across machines, host
    the services separately and set AGENTCOORD_*_ADDR).
    """
    unknown = [n for n in names if n not in SERVICE_MODULES]
    if unknown:
        raise InvalidInputError(f"unknown service {unknown[0]!r}; known: {', '.join(SERVICE_MODULES)}")
    modules = [importlib.import_module(SERVICE_MODULES[n]) for n in names]
    server = grpc.aio.server(interceptors=[ErrorMappingInterceptor()])
    bound = server.add_insecure_port(f"{host}:{port}")
    if advertise_self:
        # A wildcard bind address is not a place to call; on this machine loopback reaches it.
        reachable = "127.0.0.1" if host in _WILDCARD_HOSTS else host
        context = dataclasses.replace(context, config=context.config.with_addresses(f"{reachable}:{bound}"))
    full_names: list[str] = []
    for module in modules:
        module.add_to_server(server, context)
        full_names.extend(module.SERVICE_NAMES)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        [*full_names, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME], server
    )
    await server.start()
    for name in full_names:
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    await health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    hosted = HostedServices(server=server, port=bound, names=tuple(full_names), context=context)
    hosted.background = [
        asyncio.create_task(_run_background(module, context, hosted.stop_event)) for module in modules
        if hasattr(module, "run_background")
    ]
    log.info("gRPC services %s listening on %s:%d", ",".join(names), host, bound)
    return hosted


async def _run_background(module: ModuleType, context: ServiceContext, stop: asyncio.Event) -> None:
    """Run a service's bus consumer; log and restart it after a crash instead of dying silently."""
    while not stop.is_set():
        try:
            await module.run_background(context, stop)
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("background consumer of %s crashed; restarting in 1 s", module.__name__)
            await asyncio.sleep(1.0)
