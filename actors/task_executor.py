"""The TaskExecutor: runs one attempt of one task as a Ray task, and accounts for its usage.

An attempt is a plain function so it can be tested without Ray; `run_attempt` is its Ray task.
Ray itself does not retry it: the Mission decides about retries, so each retry is a new
attempt with its own id, and usage (keyed by attempt id) is never double-counted.

For an agent with a repository the attempt runs in the task's git worktree (see `worktree`).
Every agent event goes to the event outbox as it happens (see `recorder`); a cancel from the
Mission (`ray.cancel`, arriving as KeyboardInterrupt or TaskCancelledError) kills the agent's
process group before the exception goes on.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import ray

from agentcoord.actors import ATTEMPT_CPUS
from agentcoord.actors.agents import AgentOutcome, AgentResult, AgentRun, build_adapter
from agentcoord.actors.agents.recorder import EventRecorder
from agentcoord.actors.agents.worktree import Worktree, finish_worktree, prepare_worktree
from agentcoord.clients import CostClient, timestamp
from agentcoord.config import AgentConfig, Config
from agentcoord.errors import StoreError
from agentcoord.v1 import cost_pb2

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AttemptRequest:
    """Which agent runs which attempt."""

    agent: str
    run: AgentRun


@dataclass(frozen=True)
class AttemptReport:
    """What the Mission needs to know about a finished attempt.

    session_id is the agent session the attempt ran in (a retry may resume it); resumed_from is
    the session it resumed, if any; policy_rule_ids name the rules that blocked it.
    """

    attempt_id: str
    outcome: AgentOutcome
    summary: str
    error: str
    cost_micro_usd: int
    input_tokens: int
    output_tokens: int
    duration_ms: int
    session_id: str = ""
    resumed_from: str = ""
    failure: str = ""
    policy_rule_ids: tuple[str, ...] = ()
    files_changed: tuple[str, ...] = ()
    branch: str = ""
    simulated_verdict: str = ""
    """The simulated reviewer's verdict on a simulated agent's result (see AgentResult)."""


def execute_attempt(config: Config, request: AttemptRequest) -> AttemptReport:
    """Run the agent in its worktree, record its events and usage (idempotent by attempt id), report."""
    agent = config.agent(request.agent)
    adapter = build_adapter(agent)
    run = request.run
    if not config.database.url:
        raise StoreError("task executors need a concrete DATABASE_URL to record agent events")
    worktree: Worktree | None = None
    if adapter.repository is not None:
        worktree = prepare_worktree(
            adapter.repository, root=worktree_root(config), mission_id=run.mission_id, task_id=run.task_id
        )
    started_at = datetime.now(UTC)
    recorder = EventRecorder(
        config.database.url, mission_id=run.mission_id, task_id=run.task_id, attempt_id=run.attempt_id,
        agent=agent.name, resumed_from=run.resume_session_id,
    )
    try:
        execution = adapter.start(run, workdir=worktree.path if worktree else None)
        try:
            for event in execution.events():
                recorder.add(event)
            result = execution.result()
        except BaseException:  # ray.cancel (KeyboardInterrupt / TaskCancelledError) or a crash: stop the agent
            execution.cancel()
            raise
    finally:
        recorder.close()
    ended_at = datetime.now(UTC)
    files = result.files_changed
    if worktree is not None:
        files = finish_worktree(
            worktree, succeeded=result.outcome is AgentOutcome.SUCCEEDED,
            message=f"agentcoord: {run.task_id} (mission {run.mission_id}, attempt {run.attempt_number})",
        )
    cost = _record_usage(config, agent, run, result, started_at=started_at, ended_at=ended_at)
    log.info(
        "attempt finished",
        extra={"mission_id": run.mission_id, "task_id": run.task_id, "attempt_id": run.attempt_id,
               "outcome": result.outcome.value, "events": recorder.recorded},
    )
    return AttemptReport(
        attempt_id=run.attempt_id,
        outcome=result.outcome,
        summary=result.summary,
        error=result.error,
        cost_micro_usd=cost,
        input_tokens=result.input_tokens,
        output_tokens=result.output_tokens,
        duration_ms=result.duration_ms,
        session_id=result.session_id,
        resumed_from=run.resume_session_id,
        failure=result.failure.value if result.failure else "",
        policy_rule_ids=result.policy_rule_ids,
        files_changed=files,
        branch=worktree.branch if worktree else "",
        simulated_verdict=result.simulated_verdict,
    )


def _record_usage(
    config: Config, agent: AgentConfig, run: AgentRun, result: AgentResult, *, started_at: datetime,
    ended_at: datetime,
) -> int:
    """Record the attempt's usage with the CostService; return its cost in micro-dollars."""
    cost = result.cost_micro_usd
    if cost is None:
        cost = agent.cost_micro_usd(
            input_tokens=result.input_tokens + result.cache_read_tokens + result.cache_write_tokens,
            output_tokens=result.output_tokens,
        )
    _cost_client(config.addresses.cost).record_usage(
        cost_pb2.UsageEvent(
            idempotency_key=f"attempt:{run.attempt_id}",
            attempt_id=run.attempt_id,
            mission_id=run.mission_id,
            task_id=run.task_id,
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
    return cost


_COST_CLIENTS: dict[str, CostClient] = {}
_COST_CLIENTS_LOCK = threading.Lock()


def _cost_client(address: str) -> CostClient:
    """This process's client of the CostService at `address`: one warm channel for every attempt.

    A gRPC channel is thread-safe and reconnects by itself when the service comes back.
    """
    with _COST_CLIENTS_LOCK:
        client = _COST_CLIENTS.get(address)
        if client is None:
            client = _COST_CLIENTS[address] = CostClient(address)
        return client


def worktree_root(config: Config) -> Path:
    """Where task worktrees live: under the state directory."""
    return config.state_dir / "worktrees"


run_attempt = ray.remote(num_cpus=ATTEMPT_CPUS, max_retries=0)(execute_attempt)
