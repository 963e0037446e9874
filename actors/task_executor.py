"""The TaskExecutor: runs one attempt of one task as a Ray task, and accounts for its usage.

An attempt is a plain function so it can be tested without Ray; `run_attempt` is its Ray task.
Ray itself does not retry it: the Mission decides about retries, so each retry is a new
attempt with its own id, and usage (keyed by attempt id) is never double-counted.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import ray

from agentcoord.actors.agents import AgentOutcome, AgentRun, build_adapter
from agentcoord.clients import CostClient, timestamp
from agentcoord.config import Config
from agentcoord.v1 import cost_pb2

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AttemptRequest:
    """Which agent runs which attempt."""

    agent: str
    run: AgentRun


@dataclass(frozen=True)
class AttemptReport:
    """What the Mission needs to know about a finished attempt."""

    attempt_id: str
    outcome: AgentOutcome
    summary: str
    error: str
    cost_micro_usd: int
    input_tokens: int
    output_tokens: int
    duration_ms: int


def execute_attempt(config: Config, request: AttemptRequest) -> AttemptReport:
    """Run the agent, record its usage with the CostService (idempotent by attempt id), report."""
    agent = config.agent(request.agent)
    adapter = build_adapter(agent)
    started_at = datetime.now(UTC)
    result = adapter.run(request.run)
    ended_at = datetime.now(UTC)
    cost = result.cost_micro_usd
    if cost is None:
        cost = agent.cost_micro_usd(input_tokens=result.input_tokens, output_tokens=result.output_tokens)
    client = CostClient(config.addresses.cost)
    try:
        client.record_usage(
            cost_pb2.UsageEvent(
                idempotency_key=f"attempt:{request.run.attempt_id}",
                mission_id=request.run.mission_id,
                task_id=request.run.task_id,
                agent=agent.name,
                model=agent.model,
                input_tokens=result.input_tokens,
                output_tokens=result.output_tokens,
                cache_read_tokens=result.cache_read_tokens,
                cache_write_tokens=result.cache_write_tokens,
                cost_micro_usd=cost,
                started_at=timestamp(started_at),
                ended_at=timestamp(ended_at),
            )
        )
    finally:
        client.close()
    log.info(
        "attempt finished",
        extra={"mission_id": request.run.mission_id, "task_id": request.run.task_id,
               "attempt_id": request.run.attempt_id, "outcome": result.outcome.value},
    )
    return AttemptReport(
        attempt_id=request.run.attempt_id,
        outcome=result.outcome,
        summary=result.summary,
        error=result.error,
        cost_micro_usd=cost,
        input_tokens=result.input_tokens,
        output_tokens=result.output_tokens,
        duration_ms=result.duration_ms,
    )


run_attempt = ray.remote(num_cpus=0, max_retries=0)(execute_attempt)
