"""`agentcoord budget set|list`: spending limits per mission, agent, tag or everything.

Budgets are kept by CostService; this module only parses flags into a `Budget` (so bad input
stops here with exit 2 naming the flag, and nothing is sent) and shows what the service
returns. Amounts are dollars on the command line and integer micro-dollars everywhere else.
"""

from __future__ import annotations

import argparse

from agentcoord.budgets import Budget, BudgetPeriod, BudgetScope, BudgetStatus
from agentcoord.cli.output import say, table
from agentcoord.clients import CostClient
from agentcoord.config import Config
from agentcoord.errors import InvalidInputError
from agentcoord.money import format_usd, usd_to_micro_usd

_SCOPES = ", ".join(scope.value for scope in BudgetScope)
_PERIODS = ", ".join(period.value for period in BudgetPeriod)
# Budget's own validation names its fields; on the command line they are these flags.
_FLAG_FOR_FIELD = {
    "subject": "--key",
    "limit": "--soft-usd/--hard-usd",
    "soft_limit_micro_usd": "--soft-usd",
    "hard_limit_micro_usd": "--hard-usd",
}


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    budget = subparsers.add_parser("budget", help="set and list spending limits (budgets)")
    actions = budget.add_subparsers(dest="budget_command", required=True)
    set_budget = actions.add_parser(
        "set",
        help="create or replace a budget",
        description="Create or replace the budget of one scope, key and period. Crossing the soft "
        "limit raises one audited alert per period; at the hard limit new attempts are denied.",
    )
    set_budget.add_argument("--scope", required=True, help=f"one of: {_SCOPES}")
    set_budget.add_argument(
        "--key", default="", help="the mission id, agent name or tag (none for global)"
    )
    set_budget.add_argument("--period", required=True, help=f"one of: {_PERIODS}")
    set_budget.add_argument("--soft-usd", help="alert when spend reaches this many dollars")
    set_budget.add_argument("--hard-usd", help="deny new attempts once spend reaches this")
    set_budget.set_defaults(handler=run_set)
    list_budgets = actions.add_parser("list", help="every budget with its spend this period")
    list_budgets.set_defaults(handler=run_list)


def run_set(args: argparse.Namespace, config: Config) -> int:
    budget = parse_budget(
        scope=args.scope,
        key=args.key,
        period=args.period,
        soft_usd=args.soft_usd,
        hard_usd=args.hard_usd,
    )
    client = CostClient(config.addresses.cost)
    try:
        client.set_budget(budget)
    finally:
        client.close()
    say(
        f"budget {budget.name} set: soft {_limit_text(budget.soft_limit_micro_usd)},"
        f" hard {_limit_text(budget.hard_limit_micro_usd)}"
    )
    return 0


def run_list(args: argparse.Namespace, config: Config) -> int:
    client = CostClient(config.addresses.cost)
    try:
        statuses = client.list_budgets()
    finally:
        client.close()
    if not statuses:
        say("no budgets; set one with `agentcoord budget set`")
        return 0
    rows = [
        (
            s.budget.scope.value,
            s.budget.subject or "-",
            s.budget.period.value,
            s.period_start.strftime("%Y-%m-%d") if s.period_start else "-",
            format_usd(s.spent_micro_usd),
            _limit_text(s.budget.soft_limit_micro_usd),
            _limit_text(s.budget.hard_limit_micro_usd),
            _status_text(s),
        )
        for s in statuses
    ]
    headers = ("SCOPE", "KEY", "PERIOD", "SINCE", "SPENT", "SOFT", "HARD", "STATUS")
    say(table(headers, rows))
    return 0


def parse_budget(
    *, scope: str, key: str, period: str, soft_usd: str | None, hard_usd: str | None
) -> Budget:
    """The budget the `budget set` flags describe; InvalidInputError names the flag at fault."""
    try:
        budget_scope = BudgetScope(scope)
    except ValueError:
        raise InvalidInputError(f"{scope!r} is not one of {_SCOPES}", field="--scope") from None
    try:
        budget_period = BudgetPeriod(period)
    except ValueError:
        raise InvalidInputError(f"{period!r} is not one of {_PERIODS}", field="--period") from None
    try:
        return Budget(
            scope=budget_scope,
            subject=key,
            period=budget_period,
            soft_limit_micro_usd=_micro_usd(soft_usd, flag="--soft-usd"),
            hard_limit_micro_usd=_micro_usd(hard_usd, flag="--hard-usd"),
        )
    except InvalidInputError as exc:
        if exc.field not in _FLAG_FOR_FIELD:
            raise
        raise InvalidInputError(exc.problem, field=_FLAG_FOR_FIELD[exc.field]) from None


def _micro_usd(text: str | None, *, flag: str) -> int | None:
    if text is None:
        return None
    try:
        return usd_to_micro_usd(text)
    except ValueError as exc:
        raise InvalidInputError(str(exc), field=flag) from None


def _limit_text(limit_micro_usd: int | None) -> str:
    return "-" if limit_micro_usd is None else format_usd(limit_micro_usd)


def _status_text(status: BudgetStatus) -> str:
    if status.hard_limit_reached:
        return "hard limit reached"
    if status.soft_limit_reached:
        return "soft limit reached"
    return "ok"
