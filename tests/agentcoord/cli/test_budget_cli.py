"""`agentcoord budget set|list` against the real stack: limits stored, spend shown, bad flags named."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from agentcoord.cli.main import main
from agentcoord.clients import CostClient, timestamp
from agentcoord.v1 import cost_pb2


def _stored_budgets(url: str, subject: str) -> list[tuple[str, str, int | None, int | None]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT scope, period, soft_limit_micro_usd, hard_limit_micro_usd FROM budgets"
            " WHERE subject = %s ORDER BY period",
            (subject,),
        ).fetchall()


def test_budget_set_stores_the_limits_and_list_shows_spend_this_period(
    cli_env: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # A tag no other test's usage carries, so this budget denies nothing elsewhere.
    tag = f"team:cli-{uuid.uuid4().hex[:8]}"
    argv = ["budget", "set", "--scope", "tag", "--key", tag, "--period", "day"]
    assert main([*argv, "--soft-usd", "0.50", "--hard-usd", "2"]) == 0
    assert f"budget tag:{tag}/day set: soft $0.5000, hard $2.0000" in capsys.readouterr().out
    assert _stored_budgets(cli_env.config.database.url, tag) == [
        ("tag", "day", 500_000, 2_000_000)
    ]

    now = datetime.now(UTC)
    client = CostClient(cli_env.address)
    try:
        assert client.record_usage(
            cost_pb2.UsageEvent(
                idempotency_key=f"cli-budget-{tag}",
                mission_id="m-cli-budget",
                task_id="t1",
                agent="sim-fast",
                input_tokens=10,
                output_tokens=10,
                cost_micro_usd=750_000,
                started_at=timestamp(now - timedelta(seconds=5)),
                ended_at=timestamp(now),
                tags=[tag],
            )
        )
    finally:
        client.close()

    assert main(["budget", "list"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == [
        "SCOPE", "KEY", "PERIOD", "SINCE", "SPENT", "SOFT", "HARD", "STATUS"
    ]  # fmt: skip
    [row] = [line for line in out.splitlines() if tag in line]
    assert row.split() == [
        "tag", tag, "day", now.strftime("%Y-%m-%d"), "$0.7500", "$0.5000", "$2.0000",
        "soft", "limit", "reached",
    ]  # fmt: skip

    # Replacing the limits is the same command; the hard limit now stops the tag.
    assert main([*argv, "--hard-usd", "0.75"]) == 0
    assert _stored_budgets(cli_env.config.database.url, tag) == [("tag", "day", None, 750_000)]
    capsys.readouterr()
    assert main(["budget", "list"]) == 0
    [row] = [line for line in capsys.readouterr().out.splitlines() if tag in line]
    assert row.split()[-3:] == ["hard", "limit", "reached"]


BAD_FLAGS = {
    "unknown scope": (["--scope", "team", "--key", "k", "--soft-usd", "1"], "--scope"),
    "unknown period": (["--key", "k", "--period", "fortnight", "--soft-usd", "1"], "--period"),
    "not an amount": (["--key", "k", "--soft-usd", "lots"], "--soft-usd"),
    "negative": (["--key", "k", "--hard-usd", "-1"], "--hard-usd"),
    "zero": (["--key", "k", "--hard-usd", "0"], "--hard-usd"),
    "finer than a micro-dollar": (["--key", "k", "--hard-usd", "0.0000001"], "--hard-usd"),
    "soft above hard": (["--key", "k", "--soft-usd", "3", "--hard-usd", "2"], "--soft-usd"),
    "no limit": (["--key", "k"], "--soft-usd/--hard-usd"),
    "no key": (["--soft-usd", "1"], "--key"),
    "global with a key": (["--scope", "global", "--key", "k", "--soft-usd", "1"], "--key"),
}


@pytest.mark.parametrize("case", sorted(BAD_FLAGS))
def test_bad_budget_flags_exit_2_naming_the_flag_and_store_nothing(
    case: str, cli_env: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    flags, flag = BAD_FLAGS[case]
    key = f"bad-{uuid.uuid4().hex[:8]}"
    flags = [key if value == "k" else value for value in flags]
    defaults = {"--scope": "agent", "--period": "day"}
    argv = ["budget", "set", *flags]
    for name, value in defaults.items():
        if name not in flags:
            argv += [name, value]
    assert main(argv) == 2
    assert f"{flag}: " in capsys.readouterr().err
    assert _stored_budgets(cli_env.config.database.url, key) == []


def test_budget_list_without_the_service_exits_3_naming_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AGENTCOORD_GRPC_ADDR", "127.0.0.1:1")
    assert main(["budget", "list"]) == 3
    assert "CostService at 127.0.0.1:1 is unavailable" in capsys.readouterr().err
