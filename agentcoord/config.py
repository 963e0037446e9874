"""Configuration: one frozen dataclass tree, built once from the environment.

Nothing else in AgentCoordinator reads environment variables. The tree is picklable so it can be
handed to Ray actors, which must not read the environment of whatever node they land on.

Environment variables:
  DATABASE_URL             PostgreSQL to use; unset starts the embedded server.
  AGENTCOORD_DATA_DIR      state directory (embedded PostgreSQL data, keys); default: user state dir.
  RAY_ADDRESS              Ray cluster to join; unset starts a local Ray.
  AGENTCOORD_GRPC_HOST     bind host for gRPC services (default 127.0.0.1).
  AGENTCOORD_GRPC_PORT     port of the combined gRPC server of `agentcoord up` (default 50051).
  AGENTCOORD_GRPC_ADDR     where clients find the services (default host:port above);
  AGENTCOORD_{MISSION,ROUTING,COST,AUDIT}_ADDR override it per service.
  AGENTCOORD_DASHBOARD_PORT  dashboard port (default 5006).
  AGENTCOORD_AGENTS_FILE   agent registry YAML (default: the bundled simulated agents).
  AGENTCOORD_POLICY_FILE   policy YAML (default: the bundled policy).
  AGENTCOORD_PRICES_FILE   versioned model price table YAML (default: the bundled one).
  AGENTCOORD_HOOK_PORT     port of the Claude Code PreToolUse policy endpoint of `up` (default 8787).
  AGENTCOORD_HOOK_TOKEN    bearer token that endpoint requires; unset leaves the endpoint off.
  AGENTCOORD_GITHUB_WEBHOOK_SECRET  secret of the GitHub webhook (POST /hooks/github on the
                           hook port: pull requests of task branches become review verdicts);
                           unset leaves it off.
  AGENTCOORD_MISSION_HOSTS  how many Mission host actors share the missions (default 1; a
                           standby host is kept besides); change it only with Ray restarted,
                           since it decides which host runs a mission.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any

import platformdirs
import yaml

from agentcoord.errors import InvalidInputError

_MICRO = Decimal(1_000_000)


@dataclass(frozen=True)
class AgentConfig:
    """One registered agent: how to run it, what it can do, what it costs."""

    name: str
    adapter: str
    model: str
    capabilities: tuple[str, ...]
    input_price_micro_usd_per_mtok: int
    output_price_micro_usd_per_mtok: int
    max_concurrency: int = 1
    enabled: bool = True
    settings: Mapping[str, Any] = field(default_factory=dict)

    def cost_micro_usd(self, *, input_tokens: int, output_tokens: int) -> int:
        """Price tokens at this agent's rates, rounded half-up to a micro-dollar."""
        total = input_tokens * self.input_price_micro_usd_per_mtok + output_tokens * self.output_price_micro_usd_per_mtok
        return (total + 500_000) // 1_000_000


@dataclass(frozen=True)
class DatabaseConfig:
    """Where PostgreSQL is: a URL, or (url None) the embedded server in `data_dir`."""

    url: str | None
    data_dir: Path


@dataclass(frozen=True)
class ServiceAddresses:
    """Where clients reach each gRPC service (host:port)."""

    mission: str
    routing: str
    cost: str
    audit: str


@dataclass(frozen=True)
class Config:
    """The whole configuration of a process and of the actors it starts."""

    database: DatabaseConfig
    ray_address: str | None
    grpc_host: str
    grpc_port: int
    addresses: ServiceAddresses
    dashboard_port: int
    agents: tuple[AgentConfig, ...]
    policy_file: Path
    state_dir: Path
    prices_file: Path
    hook_port: int = 8787
    hook_token: str = field(default="", repr=False)  # a secret: never printed with the config
    github_webhook_secret: str = field(default="", repr=False)  # a secret too
    mission_hosts: int = 1
    """Mission host actors (processes) the missions are spread over, besides the standby host that
    takes the missions of a host that died; see actors.mission_host."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Config:
        """Build the configuration from environment variables (see module docstring)."""
        env = os.environ if environ is None else environ
        state_dir = Path(env.get("AGENTCOORD_DATA_DIR") or platformdirs.user_state_dir("agentcoord"))
        host = env.get("AGENTCOORD_GRPC_HOST", "127.0.0.1")
        port = _port(env, "AGENTCOORD_GRPC_PORT", 50051)
        default_addr = env.get("AGENTCOORD_GRPC_ADDR", f"{host}:{port}")
        addresses = ServiceAddresses(
            mission=env.get("AGENTCOORD_MISSION_ADDR", default_addr),
            routing=env.get("AGENTCOORD_ROUTING_ADDR", default_addr),
            cost=env.get("AGENTCOORD_COST_ADDR", default_addr),
            audit=env.get("AGENTCOORD_AUDIT_ADDR", default_addr),
        )
        agents_file = env.get("AGENTCOORD_AGENTS_FILE")
        policy_file = env.get("AGENTCOORD_POLICY_FILE")
        prices_file = env.get("AGENTCOORD_PRICES_FILE")
        return cls(
            database=DatabaseConfig(url=env.get("DATABASE_URL") or None, data_dir=state_dir / "pgdata"),
            ray_address=env.get("RAY_ADDRESS") or None,
            grpc_host=host,
            grpc_port=port,
            addresses=addresses,
            dashboard_port=_port(env, "AGENTCOORD_DASHBOARD_PORT", 5006),
            agents=load_agents(Path(agents_file)) if agents_file else load_agents(_bundled("agents.yaml")),
            policy_file=Path(policy_file) if policy_file else _bundled("policy.yaml"),
            state_dir=state_dir,
            prices_file=Path(prices_file) if prices_file else _bundled("prices.yaml"),
            hook_port=_port(env, "AGENTCOORD_HOOK_PORT", 8787),
            hook_token=env.get("AGENTCOORD_HOOK_TOKEN", ""),
            github_webhook_secret=env.get("AGENTCOORD_GITHUB_WEBHOOK_SECRET", ""),
            mission_hosts=_count(env, "AGENTCOORD_MISSION_HOSTS", 1),
        )

    def with_database_url(self, url: str) -> Config:
        """A copy pointing at a concrete database (e.g. once the embedded server is up)."""
        return dataclasses.replace(self, database=dataclasses.replace(self.database, url=url))

    def with_addresses(self, address: str) -> Config:
        """A copy whose clients reach every service at one address (the combined server)."""
        return dataclasses.replace(self, addresses=ServiceAddresses(address, address, address, address))

    def agent(self, name: str) -> AgentConfig:
        """The registered agent called `name`."""
        for agent in self.agents:
            if agent.name == name:
                return agent
        raise InvalidInputError(f"unknown agent {name!r}; known: {', '.join(a.name for a in self.agents)}")


def load_agents(path: Path) -> tuple[AgentConfig, ...]:
    """Read an agent registry YAML file; errors name the file and the agent field."""
    source = str(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InvalidInputError(f"cannot load agent registry: {exc}", source=source) from exc
    entries = data.get("agents") if isinstance(data, Mapping) else None
    if not isinstance(entries, list) or not entries:
        raise InvalidInputError("must contain a non-empty 'agents' list", source=source, field="agents")
    agents = tuple(_agent(entry, source=source, path=f"agents[{i}]") for i, entry in enumerate(entries))
    names = [a.name for a in agents]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InvalidInputError(f"duplicate agent name {duplicates[0]!r}", source=source, field="agents")
    return agents


def _agent(entry: object, *, source: str, path: str) -> AgentConfig:
    if not isinstance(entry, Mapping):
        raise InvalidInputError("expected a mapping", source=source, field=path)
    for key in ("name", "adapter", "model"):
        if not isinstance(entry.get(key), str) or not entry[key]:
            raise InvalidInputError("is required and must be a non-empty string", source=source, field=f"{path}.{key}")
    capabilities = entry.get("capabilities", [])
    if not isinstance(capabilities, list) or not all(isinstance(c, str) for c in capabilities):
        raise InvalidInputError("expected a list of strings", source=source, field=f"{path}.capabilities")
    settings = entry.get("settings", {})
    if not isinstance(settings, Mapping):
        raise InvalidInputError("expected a mapping", source=source, field=f"{path}.settings")
    max_concurrency = entry.get("max_concurrency", 1)
    if not isinstance(max_concurrency, int) or max_concurrency < 1:
        raise InvalidInputError("must be a positive integer", source=source, field=f"{path}.max_concurrency")
    return AgentConfig(
        name=entry["name"],
        adapter=entry["adapter"],
        model=entry["model"],
        capabilities=tuple(capabilities),
        input_price_micro_usd_per_mtok=_usd_to_micro(entry.get("input_usd_per_mtok"), source, f"{path}.input_usd_per_mtok"),
        output_price_micro_usd_per_mtok=_usd_to_micro(
            entry.get("output_usd_per_mtok"), source, f"{path}.output_usd_per_mtok"
        ),
        max_concurrency=max_concurrency,
        enabled=bool(entry.get("enabled", True)),
        settings=dict(settings),
    )


def _usd_to_micro(value: object, source: str, path: str) -> int:
    """Dollars (a string or number as written) to integer micro-dollars, exactly."""
    try:
        amount = Decimal(str(value))
    except InvalidOperation as exc:
        raise InvalidInputError(f"{value!r} is not a price in USD", source=source, field=path) from exc
    if not amount.is_finite() or amount < 0:
        raise InvalidInputError(f"{value!r} is not a non-negative price in USD", source=source, field=path)
    return int((amount * _MICRO).to_integral_value())


def _port(env: Mapping[str, str], key: str, default: int) -> int:
    return _whole_number(env, key, default, low=0, high=65535, meaning="a TCP port")


def _count(env: Mapping[str, str], key: str, default: int) -> int:
    return _whole_number(env, key, default, low=1, high=1024, meaning="a whole number from 1 to 1024")


def _whole_number(env: Mapping[str, str], key: str, default: int, *, low: int, high: int, meaning: str) -> int:
    raw = env.get(key)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise InvalidInputError(f"{raw!r} is not {meaning}", source="environment", field=key)
    return int(raw)


def _bundled(name: str) -> Path:
    return Path(str(resources.files("agentcoord") / "defaults" / name))
