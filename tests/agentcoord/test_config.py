"""Configuration from the environment: defaults, overrides, and errors that name the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentcoord.config import Config, load_agents
from agentcoord.errors import InvalidInputError


def test_defaults_use_embedded_database_and_bundled_sim_agents(tmp_path: Path) -> None:
    config = Config.from_env({"AGENTCOORD_DATA_DIR": str(tmp_path)})
    assert config.database.url is None and config.database.data_dir == tmp_path / "pgdata"
    assert config.addresses.mission == "127.0.0.1:50051"
    assert {a.adapter for a in config.agents} == {"sim"}
    fast = config.agent("sim-fast")
    assert fast.input_price_micro_usd_per_mtok == 800_000
    assert fast.cost_micro_usd(input_tokens=1_000_000, output_tokens=1_000_000) == 4_800_000


def test_per_service_addresses_override_the_shared_one() -> None:
    config = Config.from_env({"AGENTCOORD_GRPC_ADDR": "10.0.0.1:1", "AGENTCOORD_COST_ADDR": "cost:2"})
    assert config.addresses.mission == "10.0.0.1:1" and config.addresses.cost == "cost:2"


def test_bad_port_names_the_variable() -> None:
    with pytest.raises(InvalidInputError, match="AGENTCOORD_GRPC_PORT: 'http' is not a TCP port"):
        Config.from_env({"AGENTCOORD_GRPC_PORT": "http"})


@pytest.mark.parametrize("raw", ["0", "-1", "two", "1025"])
def test_mission_hosts_must_be_a_count_and_the_error_names_the_variable(raw: str) -> None:
    with pytest.raises(InvalidInputError, match=f"AGENTCOORD_MISSION_HOSTS: '{raw}' is not a whole number from 1 to 1024"):
        Config.from_env({"AGENTCOORD_MISSION_HOSTS": raw})
    assert Config.from_env({}).mission_hosts == 1 and Config.from_env({"AGENTCOORD_MISSION_HOSTS": "3"}).mission_hosts == 3


def test_agent_registry_errors_name_the_field(tmp_path: Path) -> None:
    path = tmp_path / "agents.yaml"
    path.write_text("agents:\n  - {name: a, adapter: sim, model: m, input_usd_per_mtok: cheap, output_usd_per_mtok: 1}\n")
    with pytest.raises(InvalidInputError, match=r"agents\[0\].input_usd_per_mtok: 'cheap' is not a price"):
        load_agents(path)
    with pytest.raises(InvalidInputError, match="unknown agent 'nope'"):
        Config.from_env({}).agent("nope")
