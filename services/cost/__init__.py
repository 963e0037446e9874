"""CostService: every token and dollar agents spend, recorded once and summed any way asked.

`ledger` validates, prices and records usage events and sums spend; `budgets` keeps budgets,
raises their alerts and answers the hard stop; `servicer` speaks gRPC. Mounted by
agentcoord.services.host.
"""

from __future__ import annotations

import grpc

from agentcoord.prices import load_price_table
from agentcoord.services.context import ServiceContext
from agentcoord.services.cost.budgets import BudgetKeeper
from agentcoord.services.cost.ledger import CostLedger
from agentcoord.services.cost.servicer import CostServicer
from agentcoord.v1 import cost_pb2_grpc

SERVICE_NAMES: tuple[str, ...] = ("agentcoord.v1.CostService",)


def add_to_server(server: grpc.aio.Server, context: ServiceContext) -> None:
    """Mount CostService, pricing tokens with the configured price table."""
    ledger = CostLedger(context.db, context.config.agents, load_price_table(context.config.prices_file))
    servicer = CostServicer(ledger, BudgetKeeper(context.db))
    cost_pb2_grpc.add_CostServiceServicer_to_server(servicer, server)
