"""The CLI: exit codes and messages for bad input, nothing written; help that tells the truth."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest

from agentcoord.cli.main import build_parser, main

BAD = {
    "malformed.yaml": ("name: x\n  goal: : :\n", "malformed YAML"),
    "unknown-dep.yaml": (
        "name: x\ngoal: g\ntasks:\n  - {id: a, description: d, depends_on: [ghost]}\n",
        "tasks[0].depends_on[0]: unknown task 'ghost'",
    ),
    "cycle.yaml": (
        "name: x\ngoal: g\ntasks:\n  - {id: a, description: d, depends_on: [b]}\n  - {id: b, description: d, depends_on: [a]}\n",
        "dependency cycle",
    ),
}


def _mission_count(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM missions").fetchone()[0]


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_mission_file_exits_2_names_the_problem_and_creates_nothing(
    name: str, tmp_path: Path, cli_env: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    text, expected = BAD[name]
    path = tmp_path / name
    path.write_text(text)
    before = _mission_count(cli_env.config.database.url)
    assert main(["mission", "create", str(path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and expected in err
    assert _mission_count(cli_env.config.database.url) == before


def test_unreachable_service_exits_3_naming_the_address(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AGENTCOORD_GRPC_ADDR", "127.0.0.1:1")
    assert main(["mission", "list"]) == 3
    assert "MissionService at 127.0.0.1:1 is unavailable" in capsys.readouterr().err


def test_bad_period_exits_2(cli_env: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--period", "fortnight"]) == 2
    assert "unrecognised period 'fortnight'" in capsys.readouterr().err


def test_list_and_show_reflect_a_created_mission(cli_env: Any, capsys: pytest.CaptureFixture[str]) -> None:
    hello = Path(__file__).resolve().parents[3] / "examples" / "missions" / "hello.yaml"
    assert main(["mission", "create", str(hello), "--request-id", "cli-list-show"]) == 0
    mission_id = capsys.readouterr().out.split()[1]
    assert main(["mission", "create", str(hello), "--request-id", "cli-list-show"]) == 0
    assert f"mission {mission_id} already existed" in capsys.readouterr().out
    assert main(["mission", "list", "--limit", "200"]) == 0
    assert mission_id in capsys.readouterr().out
    assert main(["mission", "show", mission_id]) == 0
    shown = capsys.readouterr().out
    assert "goal:   Add a greeting helper" in shown and "document" in shown


def test_every_command_has_help() -> None:
    parser = build_parser()
    help_text = parser.format_help()
    for command in ("up", "serve", "mission", "agents", "report", "audit"):
        assert command in help_text
    assert "Exit codes" in help_text


def test_agents_lists_the_registry(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["agents"]) == 0
    out = capsys.readouterr().out
    assert "sim-fast" in out and "$0.8000" in out
