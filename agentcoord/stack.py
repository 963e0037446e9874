"""Bringing the system up: database, Ray, gRPC services, supervisor — in that order.

`agentcoord up`, `agentcoord serve` and the integration tests all start the same way through
here, so what the tests exercise is what users run.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import ray

from agentcoord.actors import NAMESPACE, ray_system_config
from agentcoord.config import Config
from agentcoord.services.context import ServiceContext
from agentcoord.services.host import SERVICE_MODULES, HostedServices, start_services
from agentcoord.store import Database, EmbeddedPostgres, migrate, start_embedded_postgres

log = logging.getLogger(__name__)

ALL_SERVICES: tuple[str, ...] = tuple(SERVICE_MODULES)


def resolve_database(config: Config) -> tuple[Config, EmbeddedPostgres | None]:
    """Start the embedded server when no DATABASE_URL is set, migrate, return the concrete config."""
    embedded = None
    url = config.database.url
    if url is None:
        embedded = start_embedded_postgres(config.database.data_dir)
        url = embedded.url
    migrate(url)
    return config.with_database_url(url), embedded


def ensure_ray(config: Config, *, quiet: bool = False) -> None:
    """Join the Ray cluster named by RAY_ADDRESS, or start a local one, once per process."""
    if ray.is_initialized():
        return
    ray.init(
        address=config.ray_address,
        namespace=NAMESPACE,
        include_dashboard=False,
        log_to_driver=not quiet,
        logging_level=logging.WARNING,
        # Only a Ray started here takes system settings; a cluster's nodes have their own.
        _system_config=None if config.ray_address else ray_system_config(),
    )


@dataclass
class RunningServices:
    """gRPC services hosted by this process, with the pool they share."""

    db: Database
    hosted: HostedServices

    @property
    def config(self) -> Config:
        """The configuration the services run with (addresses point at this server when combined)."""
        return self.hosted.context.config

    @property
    def address(self) -> str:
        return f"{self.config.grpc_host}:{self.hosted.port}"

    async def stop(self) -> None:
        await self.hosted.stop()
        await self.db.close()


async def start_services_stack(config: Config, names: Sequence[str] = ALL_SERVICES, *, port: int) -> RunningServices:
    """Open the pool and host `names` on one gRPC server; with every service, re-attach missions.

    `config` must name a concrete database (see `resolve_database`), and Ray must be initialised
    when the mission service is among `names`.
    """
    assert config.database.url, "resolve_database first"
    db = await Database.open(config.database.url)
    combined = set(names) == set(ALL_SERVICES)
    try:
        hosted = await start_services(
            names, ServiceContext(config=config, db=db), host=config.grpc_host, port=port, advertise_self=combined
        )
    except BaseException:
        await db.close()
        raise
    running = RunningServices(db=db, hosted=hosted)
    if "mission" in names:
        from agentcoord.actors.supervisor import supervisor_handle

        resumed = await supervisor_handle(running.config).reattach.remote(running.config)
        if resumed:
            log.info("re-attached %d unfinished missions", len(resumed))
    return running
