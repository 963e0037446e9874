"""Runs one agent CLI as a supervised subprocess and turns its output into events and a result.

The CLI runs in its own process group, so a timeout, a ceiling, a policy denial or a cancel kills
it together with every command it started. Output is read line by line from the pipe with a cap
on line length, so a CLI that prints 100 MB holds at most one line in memory; lines that are not
JSON are skipped and counted, and stderr keeps only its tail. What leaves this module (events,
summary, error) has the CLI's secrets (secret-named environment values) and secret-shaped strings
redacted, and long strings truncated.
"""

from __future__ import annotations

import collections
import enum
import json
import logging
import os
import selectors
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import IO, Any, Protocol

from agentcoord.actors.agents.base import AgentEvent, AgentOutcome, AgentResult, FailureReason
from agentcoord.actors.agents.redaction import Scrubber
from agentcoord.errors import InvalidInputError

log = logging.getLogger(__name__)

_READ_BYTES = 64 * 1024
_STDERR_TAIL_BYTES = 16 * 1024
_POLL_S = 0.1
_KILL_GRACE_S = 2.0
_DRAIN_AFTER_EXIT_S = 2.0


class AgentBinaryNotFoundError(InvalidInputError):
    """The agent CLI is not installed where the agent registry says it is."""


@dataclass(frozen=True)
class Usage:
    """Tokens (and the reported cost, if any) an agent has used so far or in total."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_micro_usd: int | None = None

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens + self.cache_read_tokens + self.cache_write_tokens


@dataclass(frozen=True)
class ParsedRun:
    """What a parser made of the whole output once the CLI has exited."""

    finished: bool
    """The CLI produced the final result its output format promises."""
    succeeded: bool
    usage: Usage
    summary: str = ""
    error: str = ""
    failure: FailureReason | None = None
    session_id: str = ""
    num_turns: int = 0
    duration_ms: int | None = None
    files_changed: tuple[str, ...] = ()
    events: tuple[AgentEvent, ...] = ()
    """Events only known at the end (e.g. from a single JSON document)."""


class StreamParser(Protocol):
    """Turns one CLI's stdout lines into events, and its whole output into a ParsedRun."""

    skipped_lines: int

    def feed(self, line: bytes) -> list[AgentEvent]:
        """Handle one stdout line (without its newline)."""
        ...

    def usage(self) -> Usage:
        """Usage so far, for the token and cost ceilings."""
        ...

    def finish(self, returncode: int | None) -> ParsedRun:
        """Conclude after the process exited (`returncode` None when we killed it)."""
        ...


def decode_json_line(line: bytes) -> dict[str, Any] | None:
    """A JSON object from one line (numbers with fractions as Decimal), or None if it is not one."""
    text = line.strip()
    if not text:
        return None
    try:
        value = json.loads(text, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def usd_to_micro(value: object) -> int | None:
    """A dollar amount as reported by a CLI (Decimal, int or string) in micro-dollars, half-up."""
    try:
        amount = Decimal(str(value))
    except ArithmeticError:
        return None
    if not amount.is_finite() or amount < 0:
        return None
    return int((amount * 1_000_000).to_integral_value(rounding=ROUND_HALF_UP))


class StopCause(enum.Enum):
    """Why we stopped a CLI before it finished by itself."""

    TIMEOUT = "timeout"
    """The wall-clock timeout passed."""
    CEILING = "ceiling"
    """The token or cost ceiling was reached."""
    CANCELLED = "cancelled"
    """`cancel()` was called."""
    POLICY = "policy"
    """The policy hook denied an action; the agent must not carry on."""


@dataclass(frozen=True)
class Limits:
    """Per-task bounds, enforced by killing the process group."""

    timeout_s: float
    max_tokens: int | None = None
    max_cost_micro_usd: int | None = None
    max_line_bytes: int = 8 * 1024 * 1024


@dataclass(frozen=True)
class ProcessSpec:
    """How to start one CLI run."""

    binary: str
    args: tuple[str, ...]
    cwd: Path
    env: Mapping[str, str]
    stdin: bytes
    binary_field: str
    """The registry key naming the binary, for the error when it is missing (e.g. `claude.settings.binary`)."""
    denials_path: Path | None = None
    """Where a policy hook appends denials (one JSON object per line); any line there stops the run."""
    cleanup: tuple[Path, ...] = field(default=())
    """Directories made for this run only (hook settings), removed when it ends."""


class CliExecution:
    """One running CLI: iterate `events()` to drive it; `cancel()` from any thread; then `result()`."""

    def __init__(
        self, spec: ProcessSpec, parser: StreamParser, limits: Limits, *, price: Callable[[Usage], int]
    ) -> None:
        self._spec = spec
        self._parser = parser
        self._limits = limits
        self._price = price
        self._scrub = Scrubber(spec.env)
        self._cancelled = threading.Event()
        self._reaped = threading.Event()
        self._stop_cause: StopCause | None = None
        self._result: AgentResult | None = None
        self._started = time.monotonic()
        self._stderr_tail: collections.deque[bytes] = collections.deque()
        self._proc = self._spawn()
        self._pgid = self._proc.pid  # start_new_session: the child leads its own group
        self._stderr_thread = threading.Thread(target=self._drain_stderr, name="agent-stderr", daemon=True)
        self._stderr_thread.start()
        threading.Thread(target=self._feed_stdin, name="agent-stdin", daemon=True).start()

    def _spawn(self) -> subprocess.Popen[bytes]:
        spec = self._spec
        resolved = shutil.which(spec.binary, path=spec.env.get("PATH"))
        if resolved is None:
            raise AgentBinaryNotFoundError(
                f"agent CLI {spec.binary!r} not found (not on PATH or not executable); install it or set the path",
                source="agent registry", field=spec.binary_field,
            )
        try:
            return subprocess.Popen(
                [resolved, *spec.args], cwd=spec.cwd, env=dict(spec.env), stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True, bufsize=0,
            )
        except OSError as exc:
            raise AgentBinaryNotFoundError(
                f"cannot run agent CLI {resolved!r}: {exc.strerror}", source="agent registry", field=spec.binary_field
            ) from exc

    def cancel(self) -> None:
        self._cancelled.set()
        self._kill_group(signal.SIGTERM)

    def events(self) -> Iterator[AgentEvent]:
        if self._result is not None:
            return
        try:
            yield from self._pump()
        except BaseException:
            self._kill_group(signal.SIGKILL)
            self._cleanup()
            raise

    def result(self) -> AgentResult:
        for _ in self.events():
            pass
        assert self._result is not None
        return self._result

    def _pump(self) -> Iterator[AgentEvent]:
        deadline = self._started + self._limits.timeout_s
        for line in self._lines(deadline):
            for event in self._parser.feed(line):
                yield AgentEvent(event.kind, self._scrub.value(event.payload))
            if self._stop_cause is None:
                cause = self._limit_reached() or self._denied()
                if cause is not None:
                    self._stop(cause)
        if self._stop_cause is None and self._cancelled.is_set():
            self._stop_cause = StopCause.CANCELLED
        stop = self._stop_cause
        returncode = self._wait()
        parsed = self._parser.finish(None if stop else returncode)
        for event in parsed.events:
            yield AgentEvent(event.kind, self._scrub.value(event.payload))
        self._result = self._conclude(parsed, stop, returncode)
        self._cleanup()

    def _lines(self, deadline: float) -> Iterator[bytes]:
        """stdout split into lines; over-long lines are dropped (and counted) without being held."""
        assert self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        selector = selectors.DefaultSelector()
        selector.register(fd, selectors.EVENT_READ)
        buffer = bytearray()
        discarding = False
        exited_at: float | None = None
        try:
            while True:
                # Stopping kills the group; reading goes on until the pipe closes, so nothing the
                # CLI printed before it died is lost.
                now = time.monotonic()
                if self._stop_cause is None:
                    if self._cancelled.is_set():
                        self._stop_cause = StopCause.CANCELLED
                    elif now >= deadline:
                        self._stop(StopCause.TIMEOUT)
                if exited_at is None and self._proc.poll() is not None:
                    exited_at = now  # leftover children may hold the pipe open: give them a moment
                if exited_at is not None and now - exited_at > _DRAIN_AFTER_EXIT_S:
                    self._kill_group(signal.SIGKILL)
                    return
                if not selector.select(_POLL_S):
                    if self._stop_cause is None and self._denied():
                        self._stop(StopCause.POLICY)
                    continue
                chunk = os.read(fd, _READ_BYTES)
                if not chunk:
                    break
                start = 0
                while (newline := chunk.find(b"\n", start)) != -1:
                    if discarding:
                        discarding = False
                    else:
                        buffer += chunk[start:newline]
                        yield bytes(buffer)
                    buffer.clear()
                    start = newline + 1
                if not discarding:
                    buffer += chunk[start:]
                    if len(buffer) > self._limits.max_line_bytes:
                        log.warning("agent output line longer than %d bytes dropped", self._limits.max_line_bytes)
                        self._parser.skipped_lines += 1
                        buffer.clear()
                        discarding = True
            if buffer and not discarding:
                yield bytes(buffer)  # a last line without newline (possibly truncated JSON)
        finally:
            selector.close()

    def _limit_reached(self) -> StopCause | None:
        limits = self._limits
        if limits.max_tokens is None and limits.max_cost_micro_usd is None:
            return None
        usage = self._parser.usage()
        if limits.max_tokens is not None and usage.total_tokens > limits.max_tokens:
            return StopCause.CEILING
        if limits.max_cost_micro_usd is not None:
            cost = usage.cost_micro_usd if usage.cost_micro_usd is not None else self._price(usage)
            if cost > limits.max_cost_micro_usd:
                return StopCause.CEILING
        return None

    def _denied(self) -> StopCause | None:
        path = self._spec.denials_path
        if path is not None and path.exists() and path.stat().st_size > 0:
            return StopCause.POLICY
        return None

    def _denial_rule_ids(self) -> tuple[str, ...]:
        path = self._spec.denials_path
        if path is None or not path.exists():
            return ()
        rule_ids: list[str] = []
        for line in path.read_bytes().splitlines():
            denial = decode_json_line(line) or {}
            rule_ids += [r for r in denial.get("rule_ids", []) if isinstance(r, str) and r not in rule_ids]
        return tuple(rule_ids)

    def _stop(self, cause: StopCause) -> None:
        log.info("stopping agent CLI %s: %s", self._spec.binary, cause.value)
        self._stop_cause = cause
        self._kill_group(signal.SIGTERM)

    def _wait(self) -> int:
        try:
            returncode = self._proc.wait(timeout=_KILL_GRACE_S)
        except subprocess.TimeoutExpired:
            self._kill_group(signal.SIGKILL)
            returncode = self._proc.wait()
        self._kill_group(signal.SIGKILL)  # whatever the agent left running in its group dies with the attempt
        self._reaped.set()
        self._stderr_thread.join(timeout=_KILL_GRACE_S)
        return returncode

    def _kill_group(self, sig: signal.Signals) -> None:
        if self._reaped.is_set():
            return  # the group id may belong to someone else by now
        try:
            os.killpg(self._pgid, sig)
        except (ProcessLookupError, PermissionError):
            pass  # the whole group is gone already
        if sig is signal.SIGTERM:
            escalate = threading.Timer(_KILL_GRACE_S, self._kill_group, args=(signal.SIGKILL,))
            escalate.daemon = True
            escalate.start()

    def _drain_stderr(self) -> None:
        stream: IO[bytes] | None = self._proc.stderr
        assert stream is not None
        kept = 0
        while chunk := stream.read(_READ_BYTES):
            self._stderr_tail.append(chunk)
            kept += len(chunk)
            while kept - len(self._stderr_tail[0]) >= _STDERR_TAIL_BYTES:
                kept -= len(self._stderr_tail.popleft())

    def _feed_stdin(self) -> None:
        stream = self._proc.stdin
        assert stream is not None
        try:
            stream.write(self._spec.stdin)
            stream.close()
        except (BrokenPipeError, OSError):
            pass  # the CLI exited (or was killed) before reading its whole prompt

    def _stderr_text(self) -> str:
        text = b"".join(self._stderr_tail).decode("utf-8", "replace").strip()
        return self._scrub.text(text[-1000:])

    def _conclude(self, parsed: ParsedRun, stop: StopCause | None, returncode: int) -> AgentResult:
        usage = parsed.usage
        outcome, failure, error = AgentOutcome.FAILED, parsed.failure, parsed.error
        rule_ids = self._denial_rule_ids()
        binary = self._spec.binary
        if rule_ids or stop is StopCause.POLICY:
            outcome, failure, error = AgentOutcome.BLOCKED_BY_POLICY, None, f"policy denied an action ({', '.join(rule_ids)})"
        elif stop is StopCause.CANCELLED:
            failure, error = FailureReason.CANCELLED, "cancelled; the agent's process group was killed"
        elif stop is StopCause.TIMEOUT:
            failure, error = FailureReason.TIMEOUT, f"timed out after {self._limits.timeout_s:g} s; process group killed"
        elif stop is StopCause.CEILING:
            failure = FailureReason.CEILING
            error = f"token/cost ceiling reached ({usage.total_tokens} tokens); process group killed"
        elif not parsed.finished:
            if returncode != 0:
                failure, error = FailureReason.CRASH, f"{binary} exited with code {returncode}: {self._stderr_text()}"
            else:
                failure = FailureReason.NO_RESULT
                error = f"{binary} exited without a result ({self._parser.skipped_lines} unparseable lines skipped)"
        elif parsed.succeeded:
            outcome, failure, error = AgentOutcome.SUCCEEDED, None, ""
        if self._parser.skipped_lines:
            log.warning("%s: %d output lines were not JSON and were skipped", binary, self._parser.skipped_lines)
        measured_ms = int((time.monotonic() - self._started) * 1000)
        return AgentResult(
            outcome=outcome,
            summary=self._scrub.text(parsed.summary),
            files_changed=parsed.files_changed,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cache_read_tokens=usage.cache_read_tokens,
            cache_write_tokens=usage.cache_write_tokens,
            cost_micro_usd=usage.cost_micro_usd if usage.cost_micro_usd is not None else self._price(usage),
            duration_ms=parsed.duration_ms if parsed.duration_ms is not None else measured_ms,
            error=self._scrub.text(error),
            failure=failure,
            session_id=parsed.session_id,
            num_turns=parsed.num_turns,
            policy_rule_ids=rule_ids,
            skipped_lines=self._parser.skipped_lines,
        )

    def _cleanup(self) -> None:
        for path in self._spec.cleanup:
            shutil.rmtree(path, ignore_errors=True)
