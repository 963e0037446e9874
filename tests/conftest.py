"""Session fixtures: real PostgreSQL (embedded or DATABASE_URL), one local Ray, real gRPC servers.

Async code runs on one event loop in a background thread (`runner.run(coro)`), so synchronous
tests can drive grpc.aio servers and psycopg async pools that live on that loop.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from agentcoord.config import Config
from agentcoord.services.host import SERVICE_MODULES
from agentcoord.store import Database, migrate, start_embedded_postgres

# Import every service module here, on the main thread, before any fixture starts threads:
# CPython 3.11.7 can corrupt its AST recursion counter when two threads compile modules at
# once ("AST constructor recursion depth mismatch"), and the runner thread would otherwise do
# the first import of these while Ray's threads import theirs.
for _module in SERVICE_MODULES.values():
    importlib.import_module(_module)

T = TypeVar("T")


class AsyncRunner:
    """An event loop in a daemon thread; `run` executes a coroutine there and returns its result."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="test-loop", daemon=True)
        self._thread.start()

    def run(self, coro: Awaitable[T], timeout: float = 120.0) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)  # type: ignore[arg-type]
        return future.result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)


@pytest.fixture(scope="session")
def runner() -> Iterator[AsyncRunner]:
    r = AsyncRunner()
    yield r
    r.close()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database: DATABASE_URL when set, else an embedded server in a temp dir."""
    url = os.environ.get("DATABASE_URL")
    embedded = None
    if not url:
        embedded = start_embedded_postgres(tmp_path_factory.mktemp("pg") / "data")
        url = embedded.url
    migrate(url)
    yield url
    if embedded is not None:
        embedded.stop()


@pytest.fixture
def fresh_database_url(database_url: str) -> Iterator[str]:
    """A new, migrated, empty database on the same server, dropped after the test."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    params = conninfo_to_dict(database_url)
    params["dbname"] = name
    url = make_conninfo(**params)
    migrate(url)
    yield url
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def base_config(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Config:
    """Configuration pointing at the test database and a temp state dir."""
    state = tmp_path_factory.mktemp("state")
    env = {
        "AGENTCOORD_DATA_DIR": str(state),
        "DATABASE_URL": database_url,
        "AGENTCOORD_AGENTS_FILE": str(Path(__file__).parent / "fixtures" / "test_agents.yaml"),
    }
    if os.environ.get("RAY_ADDRESS"):
        env["RAY_ADDRESS"] = os.environ["RAY_ADDRESS"]
    return Config.from_env(env)


@pytest.fixture(scope="session")
def db(runner: AsyncRunner, database_url: str) -> Iterator[Database]:
    """A pool on the session database, living on the runner's loop."""
    database = runner.run(Database.open(database_url))
    yield database
    runner.run(database.close())


def open_database(runner: AsyncRunner, url: str) -> Database:
    """Open a pool on `url` on the runner's loop (for tests using fresh_database_url)."""
    return runner.run(Database.open(url))


@pytest.fixture
def make_db(runner: AsyncRunner) -> Iterator[Callable[[str], Database]]:
    """Factory for extra pools (e.g. on a fresh database), closed after the test."""
    opened: list[Database] = []

    def make(url: str) -> Database:
        database = open_database(runner, url)
        opened.append(database)
        return database

    yield make
    for database in opened:
        runner.run(database.close())


def pytest_collection_modifyitems(items: list[Any]) -> None:
    """Mark tests by the real parts they use, so `-m` can pick them locally."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & {"database_url", "fresh_database_url", "db", "make_db", "services", "stack"}:
            item.add_marker(pytest.mark.integration)
        if fixtures & {"ray_cluster", "stack"}:
            item.add_marker(pytest.mark.ray)
        if item.path.parent.name == "dashboard":
            item.add_marker(pytest.mark.ui)




@pytest.fixture(scope="session")
def ray_cluster(base_config: Config) -> Iterator[None]:
    """One real Ray for the whole session (RAY_ADDRESS joins an existing cluster instead)."""
    import ray

    from agentcoord.actors import NAMESPACE, ray_system_config

    if base_config.ray_address:
        ray.init(address=base_config.ray_address, namespace=NAMESPACE, include_dashboard=False)
    else:  # as `agentcoord up` starts it
        ray.init(num_cpus=2, include_dashboard=False, namespace=NAMESPACE, logging_level="WARNING",
                 _system_config=ray_system_config(2))
    yield
    ray.shutdown()


@pytest.fixture(scope="session")
def stack(runner: AsyncRunner, base_config: Config, ray_cluster: None) -> Iterator[Any]:
    """Every gRPC service on one 127.0.0.1 port, with the audit appender and the supervisor."""
    from agentcoord.stack import ALL_SERVICES, start_services_stack

    running = runner.run(start_services_stack(base_config, ALL_SERVICES, port=0))
    yield running
    runner.run(running.stop())


@pytest.fixture
def cli_env(stack: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Environment so an in-process `agentcoord` command reaches the test stack and database."""
    monkeypatch.setenv("DATABASE_URL", stack.config.database.url)
    monkeypatch.setenv("AGENTCOORD_GRPC_ADDR", stack.address)
    monkeypatch.setenv("AGENTCOORD_DATA_DIR", str(stack.config.state_dir))
    monkeypatch.setenv("AGENTCOORD_AGENTS_FILE", str(Path(__file__).parent / "fixtures" / "test_agents.yaml"))
    return stack
