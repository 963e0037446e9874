"""`agentcoord agents`: the agent registry this configuration uses."""

from __future__ import annotations

import argparse

from agentcoord.cli.output import say, table
from agentcoord.config import Config
from agentcoord.money import format_usd as usd


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    agents = subparsers.add_parser("agents", help="list registered agents, their capabilities and prices")
    agents.set_defaults(handler=list_agents)


def list_agents(args: argparse.Namespace, config: Config) -> int:
    rows = [
        (a.name, a.adapter, a.model, ",".join(a.capabilities), usd(a.input_price_micro_usd_per_mtok),
         usd(a.output_price_micro_usd_per_mtok), str(a.max_concurrency), "yes" if a.enabled else "no")
        for a in config.agents
    ]
    say(table(("AGENT", "ADAPTER", "MODEL", "CAPABILITIES", "IN $/MTOK", "OUT $/MTOK", "MAX", "ENABLED"), rows))
    return 0
