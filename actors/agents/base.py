"""The adapter contract: what every agent runner takes, streams and returns.

An adapter starts one attempt and hands back an `AgentExecution`: iterate `events()` to drive the
agent and see what it does (tool calls, commands, file changes, messages), call `cancel()` from
any thread to stop it, and read `result()` once it has finished. `run_agent` does all three for
callers that only want the result.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol


class AgentOutcome(enum.Enum):
    """How an agent run ended."""

    SUCCEEDED = "succeeded"
    """The agent reported success."""
    FAILED = "failed"
    """The agent ran and reported (or exhibited) failure; `error` and `failure` say what."""
    BLOCKED_BY_POLICY = "blocked_by_policy"
    """Policy denied an action the agent tried; `policy_rule_ids` names the rules. The action never ran."""


class FailureReason(enum.Enum):
    """Why a run failed, in our terms, whatever the agent CLI called it."""

    AGENT_ERROR = "agent_error"
    """The agent reported an error while working (API failure, error during execution)."""
    TURN_LIMIT = "turn_limit"
    """The agent used up its turns."""
    BUDGET = "budget"
    """The agent's own budget limit (e.g. claude --max-budget-usd) stopped it."""
    CEILING = "ceiling"
    """Our token or cost ceiling for the task was reached and the process group was killed."""
    TIMEOUT = "timeout"
    """The wall-clock timeout for the task passed and the process group was killed."""
    CANCELLED = "cancelled"
    """The run was cancelled and the process group was killed."""
    CRASH = "crash"
    """The CLI exited (non-zero, or by signal) without a usable result."""
    NO_RESULT = "no_result"
    """The CLI exited without the final result its output format promises (garbled or truncated)."""
    AUTH = "auth"
    """The CLI could not authenticate."""
    BAD_INPUT = "bad_input"
    """The CLI rejected its prompt or arguments."""
    CONFIG = "config"
    """The CLI rejected its configuration."""
    TOOL_ERROR = "tool_error"
    """A tool the agent called failed fatally."""
    INTERRUPTED = "interrupted"
    """The CLI reports it was interrupted (SIGINT)."""


class EventKind(enum.Enum):
    """What an agent event is about; `agent.<value>` is its topic on the event bus."""

    SESSION = "session"
    """The agent started (or resumed) a session; the payload carries `session_id`."""
    MESSAGE = "message"
    """The agent said something (text, reasoning summary)."""
    TOOL_CALL = "tool_call"
    """The agent called a tool (other than running a command or writing a file)."""
    COMMAND = "command"
    """The agent ran a shell command; the payload carries the command and, when done, its exit code."""
    FILE_CHANGE = "file_change"
    """The agent wrote, edited, added or deleted files."""
    ERROR = "error"
    """The agent or its CLI reported an error or a warning (possibly recoverable)."""


@dataclass(frozen=True)
class AgentEvent:
    """One thing an agent did or said, in a form the audit log can keep."""

    kind: EventKind
    payload: Mapping[str, Any]

    @property
    def topic(self) -> str:
        return f"agent.{self.kind.value}"


@dataclass(frozen=True)
class AgentRun:
    """Everything an adapter needs to run one attempt of one task."""

    attempt_id: str
    mission_id: str
    task_id: str
    attempt_number: int
    goal: str
    description: str
    capabilities: tuple[str, ...]
    context: tuple[str, ...] = ()
    """Shared context items the mission chose for this task (artifacts, decisions, lessons)."""
    resume_session_id: str = ""
    """A session an earlier attempt of this task started; the agent resumes it where the CLI can."""


@dataclass(frozen=True)
class AgentResult:
    """What one attempt produced and consumed. cost_micro_usd is None when the agent reports no cost.

    input_tokens are uncached input tokens; cache reads and writes are counted separately, as the
    agent reported them.
    """

    outcome: AgentOutcome
    summary: str
    files_changed: tuple[str, ...]
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost_micro_usd: int | None
    duration_ms: int
    error: str = ""
    failure: FailureReason | None = None
    session_id: str = ""
    num_turns: int = 0
    policy_rule_ids: tuple[str, ...] = ()
    skipped_lines: int = 0
    """Output lines that were not valid JSON (garbage or truncated) and were skipped."""
    simulated_verdict: str = ""
    """Set only by the simulated agent: the verdict ('accepted' or 'rejected') its simulated
    reviewer gives this result; empty for every real agent, whose results people review."""


class AgentExecution(Protocol):
    """One running attempt."""

    def events(self) -> Iterator[AgentEvent]:
        """Drive the agent, yielding its events as they happen; ends when the agent has finished."""
        ...

    def cancel(self) -> None:
        """Stop the agent now (kill its process group); safe from any thread, idempotent."""
        ...

    def result(self) -> AgentResult:
        """The result, once finished (drains any events not yet consumed)."""
        ...


class AgentAdapter(Protocol):
    """Starts agent attempts. `repository` is the git repository tasks run in (None: no checkout needed)."""

    @property
    def repository(self) -> Path | None: ...

    def start(self, run: AgentRun, *, workdir: Path | None) -> AgentExecution:
        """Start the agent for `run` in `workdir`; raise only for infrastructure or configuration faults."""
        ...


def run_agent(adapter: AgentAdapter, run: AgentRun, *, workdir: Path | None = None) -> AgentResult:
    """Run one attempt to completion, ignoring its events; cancel it if the caller is interrupted."""
    execution = adapter.start(run, workdir=workdir)
    try:
        for _ in execution.events():
            pass
    except BaseException:
        execution.cancel()
        raise
    return execution.result()
