"""What the agent CLI adapters (claude, codex, gemini) share: settings, prompt, process start.

Each CLI adapter module supplies its own settings, its argv and its output parser; this module
validates the settings every CLI agent has (binary, repository, timeout, ceilings, env), builds
the prompt from the task, the mission goal and the shared context items, and starts the
supervised process (see `process`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Generic, Protocol, Self, TypeVar

from agentcoord.actors.agents.base import AgentEvent, AgentRun
from agentcoord.actors.agents.process import (
    CliExecution,
    Limits,
    ProcessSpec,
    StreamParser,
    Usage,
    decode_json_line,
    usd_to_micro,
)
from agentcoord.config import AgentConfig
from agentcoord.errors import InvalidInputError

log = logging.getLogger(__name__)

COMMON_KEYS = frozenset({"binary", "repository", "timeout_s", "max_tokens", "max_cost_usd", "env", "extra_args"})


@dataclass(frozen=True)
class CliSettings:
    """Settings every CLI agent has.

    binary: the executable (a name on PATH or a path); repository: the git repository tasks run
    in, each in its own worktree; timeout_s: wall-clock limit per task; max_tokens / max_cost_usd:
    ceilings per task (the process group is killed when reached); env: extra environment for the
    CLI; extra_args: appended to the CLI's argv.
    """

    binary: str
    repository: Path | None = None
    timeout_s: float = 1800.0
    max_tokens: int | None = None
    max_cost_micro_usd: int | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    extra_args: tuple[str, ...] = ()


class AgentSettings(Protocol):
    """What a CLI adapter's settings class provides: the common settings, read from the registry."""

    common: CliSettings

    def __init__(self, agent: AgentConfig) -> None: ...


SettingsT = TypeVar("SettingsT", bound=AgentSettings)


class CliAgent(Generic[SettingsT]):
    """The part every CLI adapter shares: its registry entry, its validated settings, its repository.

    Subclasses name their settings class in `settings_type` and implement `start`.
    """

    settings_type: type[SettingsT]

    def __init__(self, agent: AgentConfig, settings: SettingsT) -> None:
        self._agent = agent
        self._settings = settings

    @classmethod
    def from_config(cls, agent: AgentConfig) -> Self:
        return cls(agent, cls.settings_type(agent))

    @property
    def repository(self) -> Path | None:
        return self._settings.common.repository


class SettingsReader:
    """Reads one agent's `settings` mapping key by key; errors name `<agent>.settings.<key>`."""

    def __init__(self, settings: Mapping[str, Any], *, agent: str, allowed: frozenset[str]) -> None:
        self._settings = settings
        self._agent = agent
        unknown = sorted(set(settings) - allowed)
        if unknown:
            raise self.error(unknown[0], f"unknown setting; allowed: {', '.join(sorted(allowed))}")

    def error(self, key: str, message: str) -> InvalidInputError:
        return InvalidInputError(message, source="agent registry", field=f"{self._agent}.settings.{key}")

    def field(self, key: str) -> str:
        return f"{self._agent}.settings.{key}"

    def string(self, key: str, default: str = "") -> str:
        value = self._settings.get(key, default)
        if not isinstance(value, str):
            raise self.error(key, "expected a string")
        return value

    def choice(self, key: str, choices: Sequence[str], default: str = "") -> str:
        value = self.string(key, default)
        if value and value not in choices:
            raise self.error(key, f"{value!r} is not one of {', '.join(choices)}")
        return value

    def integer(self, key: str, *, minimum: int = 1) -> int | None:
        value = self._settings.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.error(key, f"expected an integer >= {minimum}")
        return value

    def seconds(self, key: str, default: float) -> float:
        value = self._settings.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise self.error(key, "expected a positive number of seconds")
        return float(value)

    def usd(self, key: str) -> Decimal | None:
        value = self._settings.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or usd_to_micro(value) is None:
            raise self.error(key, f"{value!r} is not a non-negative amount in USD")
        return Decimal(str(value))

    def strings(self, key: str) -> tuple[str, ...]:
        value = self._settings.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.error(key, "expected a list of non-empty strings")
        return tuple(value)

    def common(self, *, default_binary: str) -> CliSettings:
        env = self._settings.get("env", {})
        if not isinstance(env, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
            raise self.error("env", "expected a mapping of strings to strings")
        repository = self.string("repository")
        max_cost = self.usd("max_cost_usd")
        return CliSettings(
            binary=self.string("binary", default_binary) or default_binary,
            repository=Path(repository).expanduser() if repository else None,
            timeout_s=self.seconds("timeout_s", 1800.0),
            max_tokens=self.integer("max_tokens"),
            max_cost_micro_usd=usd_to_micro(max_cost) if max_cost is not None else None,
            env=dict(env),
            extra_args=self.strings("extra_args"),
        )


def build_prompt(run: AgentRun) -> str:
    """The prompt an agent gets: the task, the mission goal it serves, and the chosen context."""
    parts = [f"Task: {run.description}", f"Mission goal: {run.goal}"]
    if run.context:
        parts.append("Context from earlier work (most relevant first):\n" + "\n".join(f"- {item}" for item in run.context))
    parts.append(
        "Work in the current directory, which is a git worktree for this task only. When done, reply with a"
        " short summary of what you changed."
    )
    return "\n\n".join(parts)


def run_environment(settings: CliSettings, run: AgentRun, agent: AgentConfig) -> dict[str, str]:
    """The CLI's environment: ours (PATH, HOME, the CLI's credentials), the agent's extras, the run ids.

    The CLI needs its credentials from the environment it is started in, so it inherits ours;
    secret-named values are redacted from everything stored (see process.Scrubber).
    """
    return {
        **os.environ,
        **settings.env,
        "AGENTCOORD_AGENT": agent.name,
        "AGENTCOORD_MISSION_ID": run.mission_id,
        "AGENTCOORD_TASK_ID": run.task_id,
        "AGENTCOORD_ATTEMPT_ID": run.attempt_id,
    }


def limits(settings: CliSettings) -> Limits:
    return Limits(
        timeout_s=settings.timeout_s, max_tokens=settings.max_tokens, max_cost_micro_usd=settings.max_cost_micro_usd
    )


def price(agent: AgentConfig) -> Callable[[Usage], int]:
    """Prices usage at the agent's rates; cached input counts at the input rate (no cache price is registered)."""

    def priced(usage: Usage) -> int:
        return agent.cost_micro_usd(
            input_tokens=usage.input_tokens + usage.cache_read_tokens + usage.cache_write_tokens,
            output_tokens=usage.output_tokens,
        )

    return priced


def start_cli(
    agent: AgentConfig, settings: CliSettings, spec: ProcessSpec, parser: StreamParser
) -> CliExecution:
    """Start the supervised CLI process for one run."""
    log.info("starting %s for agent %s", settings.binary, agent.name)
    return CliExecution(spec, parser, limits(settings), price=price(agent))


def as_tokens(value: object) -> int:
    """A token count from JSON (int, Decimal or missing) as a non-negative int."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        return 0
    return max(0, int(value))


class JsonLinesParser:
    """Base for JSONL outputs: decodes each line, counts and skips the ones that are not JSON objects."""

    def __init__(self) -> None:
        self.skipped_lines = 0

    def feed(self, line: bytes) -> list[AgentEvent]:
        event = decode_json_line(line)
        if event is None:
            if line.strip():
                self.skipped_lines += 1
                log.debug("skipped a non-JSON output line of %d bytes", len(line))
            return []
        return self.on_event(event)

    def on_event(self, event: dict[str, Any]) -> list[AgentEvent]:
        raise NotImplementedError
