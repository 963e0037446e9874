"""What every service gets when it is mounted: the configuration and the database."""

from __future__ import annotations

from dataclasses import dataclass

from agentcoord.config import Config
from agentcoord.store import Database


@dataclass(frozen=True)
class ServiceContext:
    """Shared dependencies of the services hosted by one process."""

    config: Config
    db: Database
