"""The versioned price table: validation with file/line/field, effective dates, and pricing usage."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agentcoord.errors import InvalidInputError
from agentcoord.prices import bundled_price_table, load_price_table
from agentcoord.services.cost.ledger import CostLedger
from agentcoord.usage import SpendDimension, UsageRecord

TABLE = """\
models:
  m-a:
    - effective_from: 2026-01-01
      input_usd_per_mtok: "1.00"
      output_usd_per_mtok: "2.00"
      cache_read_usd_per_mtok: "0.10"
      cache_write_usd_per_mtok: "1.25"
    - effective_from: "2026-11-04T12:00:00+00:00"
      input_usd_per_mtok: "2.00"
      output_usd_per_mtok: "4.00"
      cache_read_usd_per_mtok: "0.20"
      cache_write_usd_per_mtok: "2.50"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "prices.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_each_time_gets_the_version_in_effect(tmp_path: Path) -> None:
    table = load_price_table(write(tmp_path, TABLE))
    change = datetime(2026, 11, 4, 12, tzinfo=UTC)

    old = table.price_at("m-a", change - timedelta(microseconds=1))
    new = table.price_at("m-a", change)

    tokens = {"input_tokens": 1_000_000, "output_tokens": 500_000, "cache_read_tokens": 2_000_000,
                  "cache_write_tokens": 100_000}
    assert old.cost_micro_usd(**tokens) == 1_000_000 + 1_000_000 + 200_000 + 125_000
    assert new.cost_micro_usd(**tokens) == 2 * (1_000_000 + 1_000_000 + 200_000 + 125_000)
    with pytest.raises(InvalidInputError, match="no price before 2026-01-01"):
        table.price_at("m-a", datetime(2025, 12, 31, tzinfo=UTC))


def test_costs_round_half_up_to_a_micro_dollar(tmp_path: Path) -> None:
    price = load_price_table(write(tmp_path, TABLE)).price_at("m-a", datetime(2026, 2, 1, tzinfo=UTC))

    assert price.cost_micro_usd(input_tokens=1, output_tokens=0) == 1  # 1.0 micro-USD
    assert price.cost_micro_usd(input_tokens=0, output_tokens=0, cache_read_tokens=4) == 0  # 0.4
    assert price.cost_micro_usd(input_tokens=0, output_tokens=0, cache_read_tokens=5) == 1  # 0.5


@pytest.mark.parametrize(
    ("edit", "where"),
    [
        (('"2.00"\n      cache_read', '"-2"\n      cache_read'), "prices.yaml:5: models.m-a[0].output_usd_per_mtok"),
        (('output_usd_per_mtok: "4.00"', 'output_usd_per_mtok: "four"'), "prices.yaml:10: models.m-a[1].output_usd_per_mtok"),
        (('"2026-11-04T12:00:00+00:00"', "2025-06-01"), "prices.yaml:8: models.m-a[1].effective_from"),
        (('"2026-11-04T12:00:00+00:00"', '"2026-11-04T12:00:00"'), "prices.yaml:8: models.m-a[1].effective_from"),
        (('      cache_write_usd_per_mtok: "1.25"\n', ""), "prices.yaml:3: models.m-a[0].cache_write_usd_per_mtok"),
        (('      cache_write_usd_per_mtok: "1.25"\n', '      cache_writes: "1.25"\n'), "prices.yaml:7: models.m-a[0].cache_writes"),
        (("models:", "model:"), "prices.yaml: models: must contain a non-empty"),
    ],
)
def test_invalid_tables_name_file_line_and_field(tmp_path: Path, edit: tuple[str, str], where: str) -> None:
    old, new = edit
    assert old in TABLE
    path = write(tmp_path, TABLE.replace(old, new, 1))

    with pytest.raises(InvalidInputError) as caught:
        load_price_table(path)

    assert where in str(caught.value)


def test_the_bundled_table_prices_every_bundled_agent_model(base_config) -> None:
    table = bundled_price_table()

    assert {agent.model for agent in base_config.agents} <= set(table.models)


def test_price_change_mid_period_prices_each_event_at_its_own_rate(
    runner, make_db, fresh_database_url, base_config, tmp_path: Path
) -> None:
    table = load_price_table(write(tmp_path, TABLE.replace("m-a", "sim-small")))
    now = datetime(2026, 11, 6, tzinfo=UTC)
    ledger = CostLedger(make_db(fresh_database_url), base_config.agents, table, clock=lambda: now)

    def usage(key: str, ended_at: datetime, reported: int | None = None) -> UsageRecord:
        return UsageRecord(
            idempotency_key=key, mission_id="m-1", task_id="t-1", agent="sim-fast", model="",
            input_tokens=1_000_000, output_tokens=0, started_at=ended_at, ended_at=ended_at,
            reported_cost_micro_usd=reported,
        )

    runner.run(ledger.record(usage("before", datetime(2026, 11, 3, tzinfo=UTC))))
    runner.run(ledger.record(usage("after", datetime(2026, 11, 5, tzinfo=UTC))))
    runner.run(ledger.record(usage("reported", datetime(2026, 11, 5, tzinfo=UTC), reported=2_500_000)))

    spend = runner.run(ledger.spend(group_by=[SpendDimension.DAY]))

    rows = {row.keys: (row.cost_micro_usd, row.computed_cost_micro_usd, row.reported_cost_micro_usd)
            for row in spend.rows}
    # Charged: the reported cost when there is one; computed and reported are both kept.
    assert rows == {
        ("2026-11-03",): (1_000_000, 1_000_000, 0),
        ("2026-11-05",): (2_000_000 + 2_500_000, 4_000_000, 2_500_000),
    }
