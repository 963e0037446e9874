"""Budgets on real PostgreSQL: soft alerts raised once and audited, and the hard stop check."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone

import psycopg
import pytest

from agentcoord.budgets import Budget, BudgetPeriod, BudgetScope
from agentcoord.errors import InvalidInputError
from agentcoord.prices import bundled_price_table
from agentcoord.services.cost.budgets import BudgetKeeper
from agentcoord.services.cost.ledger import CostLedger
from agentcoord.store.budgets import hard_budget_checks
from agentcoord.usage import UsageBatch, UsageRecord

NOW = datetime(2026, 11, 5, 14, 30, tzinfo=UTC)  # Thursday; the ISO week began Monday 2 Nov


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def usage(key: str, *, cost: int, mission: str = "m-1", agent: str = "sim-fast",
          tags: tuple[str, ...] = (), ended_at: datetime = NOW) -> UsageRecord:
    return UsageRecord(
        idempotency_key=key, mission_id=mission, task_id="t-1", agent=agent, model="",
        input_tokens=10, output_tokens=10, started_at=ended_at - timedelta(minutes=1),
        ended_at=ended_at, reported_cost_micro_usd=cost, tags=tags,
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def parts(make_db, fresh_database_url, base_config, clock) -> tuple[CostLedger, BudgetKeeper]:
    db = make_db(fresh_database_url)
    return (
        CostLedger(db, base_config.agents, bundled_price_table(), clock=clock),
        BudgetKeeper(db, clock=clock),
    )


def _alerts(url: str) -> list[tuple[str, str, int]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT payload FROM events WHERE topic = 'budget.alert' ORDER BY event_id"
        ).fetchall()
    return [(p["budget"], p["level"], p["spent_micro_usd"]) for (p,) in rows]


def test_hard_budget_denies_the_next_attempt_once_spend_reaches_it(runner, parts) -> None:
    ledger, keeper = parts
    runner.run(keeper.set_budget(Budget(BudgetScope.MISSION, "m-1", BudgetPeriod.TOTAL,
                                        hard_limit_micro_usd=1_000_000)))

    runner.run(ledger.record(usage("a-1", cost=999_999)))
    before = runner.run(keeper.budget_check(mission_id="m-1", agent="sim-fast"))
    runner.run(ledger.record(usage("a-2", cost=1)))
    after = runner.run(keeper.budget_check(mission_id="m-1", agent="sim-fast"))
    other = runner.run(keeper.budget_check(mission_id="m-2", agent="sim-fast"))

    assert before.allowed is True
    assert after.allowed is False
    assert [(s.budget.name, s.spent_micro_usd) for s in after.exceeded] == [("mission:m-1/total", 1_000_000)]
    assert "mission:m-1/total spent $1.0000 of hard limit $1.0000" in after.reason
    assert other.allowed is True


def test_a_batch_of_hard_checks_answers_each_attempt_in_order(runner, parts, make_db, fresh_database_url) -> None:
    ledger, keeper = parts
    runner.run(keeper.set_budget(Budget(BudgetScope.MISSION, "m-1", BudgetPeriod.TOTAL, hard_limit_micro_usd=100)))
    runner.run(keeper.set_budget(Budget(BudgetScope.AGENT, "sim-deep", BudgetPeriod.DAY, hard_limit_micro_usd=50)))
    runner.run(keeper.set_budget(Budget(BudgetScope.GLOBAL, "", BudgetPeriod.DAY, hard_limit_micro_usd=1_000)))
    runner.run(ledger.record(usage("a-1", cost=100)))  # m-1 is spent; the global budget is not
    db = make_db(fresh_database_url)

    async def checks():
        async with db.connection() as conn:
            return await hard_budget_checks(conn, at=NOW, attempts=[
                ("m-2", "sim-fast", ()), ("m-1", "sim-fast", ()), ("m-2", "sim-deep", ()), ("m-1", "sim-deep", ()),
            ])

    decisions = runner.run(checks())

    assert [d.allowed for d in decisions] == [True, False, True, False]
    assert [s.budget.name for s in decisions[1].exceeded] == ["mission:m-1/total"]
    assert [s.budget.name for s in decisions[3].exceeded] == ["mission:m-1/total"]


def test_soft_alert_is_raised_once_per_period_and_audited(runner, parts, clock, fresh_database_url) -> None:
    ledger, keeper = parts
    runner.run(keeper.set_budget(Budget(BudgetScope.AGENT, "sim-fast", BudgetPeriod.DAY,
                                        soft_limit_micro_usd=500, hard_limit_micro_usd=2_000)))

    runner.run(ledger.record(usage("a-1", cost=400)))
    assert _alerts(fresh_database_url) == []
    runner.run(ledger.record(usage("a-2", cost=200)))
    runner.run(ledger.record(usage("a-3", cost=200)))
    assert _alerts(fresh_database_url) == [("agent:sim-fast/day", "soft", 600)]
    runner.run(ledger.record(usage("a-4", cost=1_500)))
    assert _alerts(fresh_database_url)[1:] == [("agent:sim-fast/day", "hard", 2_300)]
    assert runner.run(keeper.budget_check(mission_id="m-9", agent="sim-fast")).allowed is False

    # The next day the budget starts from zero: allowed again, and a new soft alert when crossed.
    clock.now = NOW + timedelta(days=1)
    assert runner.run(keeper.budget_check(mission_id="m-9", agent="sim-fast")).allowed is True
    runner.run(ledger.record(usage("b-1", cost=700, ended_at=clock.now)))
    assert _alerts(fresh_database_url)[2:] == [("agent:sim-fast/day", "soft", 700)]


def test_tag_and_global_budgets_cover_what_they_name(runner, parts) -> None:
    ledger, keeper = parts
    runner.run(keeper.set_budget(Budget(BudgetScope.TAG, "team:payments", BudgetPeriod.WEEK,
                                        hard_limit_micro_usd=1_000)))
    runner.run(keeper.set_budget(Budget(BudgetScope.GLOBAL, "", BudgetPeriod.MONTH,
                                        hard_limit_micro_usd=5_000)))
    runner.run(ledger.record(usage("a-1", cost=1_000, tags=("team:payments",))))
    runner.run(ledger.record(usage("a-2", cost=3_000, tags=("team:search",))))

    payments = runner.run(keeper.budget_check(mission_id="m-2", agent="sim-deep", tags=["team:payments"]))
    search = runner.run(keeper.budget_check(mission_id="m-2", agent="sim-deep", tags=["team:search"]))
    statuses = {s.budget.name: s.spent_micro_usd for s in runner.run(keeper.budgets())}

    assert [s.budget.name for s in payments.exceeded] == ["tag:team:payments/week"]
    assert search.allowed is True
    assert statuses == {"tag:team:payments/week": 1_000, "global:/month": 4_000}
    runner.run(ledger.record(usage("a-3", cost=1_000, tags=("team:search",))))
    assert runner.run(keeper.budget_check(mission_id="m-3", agent="sim-fast")).allowed is False


def test_usage_from_last_week_does_not_count_against_this_week(runner, parts) -> None:
    ledger, keeper = parts
    runner.run(keeper.set_budget(Budget(BudgetScope.MISSION, "m-1", BudgetPeriod.WEEK,
                                        hard_limit_micro_usd=1_000)))
    runner.run(ledger.record(usage("old", cost=5_000, ended_at=datetime(2026, 11, 1, 23, 59, tzinfo=UTC))))

    assert runner.run(keeper.budget_check(mission_id="m-1", agent="sim-fast")).allowed is True
    runner.run(ledger.record(usage("new", cost=1_000, ended_at=datetime(2026, 11, 2, tzinfo=UTC))))
    assert runner.run(keeper.budget_check(mission_id="m-1", agent="sim-fast")).allowed is False


def test_concurrent_writers_crossing_a_limit_together_raise_one_alert(
    runner, parts, fresh_database_url
) -> None:
    ledger, keeper = parts
    runner.run(keeper.set_budget(Budget(BudgetScope.MISSION, "m-1", BudgetPeriod.TOTAL,
                                        soft_limit_micro_usd=1_000)))

    async def write_all() -> None:
        await asyncio.gather(*(ledger.record(usage(f"k-{i}", cost=100)) for i in range(20)))

    runner.run(write_all())

    assert [(name, level) for name, level, _ in _alerts(fresh_database_url)] == [
        ("mission:m-1/total", "soft")
    ]


def test_a_stream_alerts_once_for_each_period_its_usage_touched(
    runner, parts, fresh_database_url
) -> None:
    ledger, keeper = parts
    runner.run(keeper.set_budget(Budget(BudgetScope.TAG, "team:a", BudgetPeriod.DAY,
                                        soft_limit_micro_usd=1_000)))
    monday = datetime(2026, 11, 2, 10, tzinfo=UTC)
    tuesday = datetime(2026, 11, 4, 2, tzinfo=timezone(timedelta(hours=5)))  # 21:00 UTC Tuesday
    records = [
        *(usage(f"mon-{i}", cost=300, tags=("team:a",), ended_at=monday) for i in range(4)),
        *(usage(f"tue-{i}", cost=300, tags=("x", "team:a"), ended_at=tuesday) for i in range(4)),
        usage("untagged", cost=5_000, ended_at=monday),
    ]

    async def stream() -> AsyncIterator[UsageBatch]:
        yield UsageBatch.from_records(records[:5])
        yield UsageBatch.from_records(records[5:])

    first = runner.run(ledger.record_stream(stream()))
    replay = runner.run(ledger.record_stream(stream()))

    assert (first.recorded, replay.recorded) == (9, 0)
    assert _alerts(fresh_database_url) == [
        ("tag:team:a/day", "soft", 1_200), ("tag:team:a/day", "soft", 1_200),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("budget", "field"),
    [
        ({"scope": BudgetScope.MISSION, "subject": "", "period": BudgetPeriod.DAY, "hard_limit_micro_usd": 1}, "subject"),
        ({"scope": BudgetScope.GLOBAL, "subject": "x", "period": BudgetPeriod.DAY, "hard_limit_micro_usd": 1}, "subject"),
        ({"scope": BudgetScope.AGENT, "subject": "a", "period": BudgetPeriod.DAY}, "limit"),
        ({"scope": BudgetScope.AGENT, "subject": "a", "period": BudgetPeriod.DAY, "hard_limit_micro_usd": -5},
         "hard_limit_micro_usd"),
        ({"scope": BudgetScope.AGENT, "subject": "a", "period": BudgetPeriod.DAY, "soft_limit_micro_usd": 9,
              "hard_limit_micro_usd": 5}, "soft_limit_micro_usd"),
    ],
)
def test_invalid_budgets_are_rejected(budget, field) -> None:
    with pytest.raises(InvalidInputError) as caught:
        Budget(**budget)
    assert caught.value.field == field
