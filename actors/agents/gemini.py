"""Gemini CLI: `gemini --output-format json -p ...`, one JSON document at the end of the run.

The document has `response` (the final answer), `session_id`, `stats` (`models.<model>.tokens`
with prompt — which includes cached — candidates, cached, thoughts, tool; `tools` with totals and
`byName`; `files` with lines added and removed) and, on failure, `error` {type, message, code}.
Exit codes: 0 ok, 1 general/API error, 41 auth, 42 input, 44 sandbox, 52 config, 53 turn limit,
54 tool error, 130 interrupted. Gemini reports no cost, so tokens are priced at the agent's
rates (thoughts are billed as output). The document is printed across many lines; it is kept up
to a bound and parsed when the CLI exits.
"""

from __future__ import annotations

import json
import logging
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

from agentcoord.actors.agents.base import AgentEvent, AgentRun, EventKind, FailureReason
from agentcoord.actors.agents.cli import (
    COMMON_KEYS,
    CliAgent,
    SettingsReader,
    as_tokens,
    build_prompt,
    run_environment,
    start_cli,
)
from agentcoord.actors.agents.process import CliExecution, ParsedRun, ProcessSpec, Usage
from agentcoord.config import AgentConfig

log = logging.getLogger(__name__)

APPROVAL_MODES = ("default", "auto_edit", "yolo")
EXIT_FAILURES = {
    1: FailureReason.AGENT_ERROR,
    41: FailureReason.AUTH,
    42: FailureReason.BAD_INPUT,
    44: FailureReason.CONFIG,
    52: FailureReason.CONFIG,
    53: FailureReason.TURN_LIMIT,
    54: FailureReason.TOOL_ERROR,
    130: FailureReason.INTERRUPTED,
}
MAX_DOCUMENT_BYTES = 32 * 1024 * 1024
_INSTRUCTION = "Do the task described in the input above."


class GeminiSettings:
    """Gemini's settings: the common CLI ones plus approval_mode and allowed_tools."""

    KEYS = COMMON_KEYS | {"approval_mode", "allowed_tools"}

    def __init__(self, agent: AgentConfig) -> None:
        read = SettingsReader(agent.settings, agent=agent.name, allowed=self.KEYS)
        self.common = read.common(default_binary="gemini")
        self.approval_mode = read.choice("approval_mode", APPROVAL_MODES)
        self.allowed_tools = read.strings("allowed_tools")


class GeminiAgent(CliAgent[GeminiSettings]):
    """Runs Gemini CLI headless in the task's worktree."""

    settings_type = GeminiSettings

    def start(self, run: AgentRun, *, workdir: Path | None) -> CliExecution:
        s = self._settings
        cwd = workdir or Path(tempfile.mkdtemp(prefix="agentcoord-gemini-work-"))
        args = ["--output-format", "json", "--model", self._agent.model]
        if s.approval_mode:
            args += ["--approval-mode", s.approval_mode]
        if s.allowed_tools:
            args += ["--allowed-tools", ",".join(s.allowed_tools)]
        if run.resume_session_id:
            args += ["--resume", run.resume_session_id]
        args += [*s.common.extra_args, "-p", _INSTRUCTION]  # -p is appended to the prompt on stdin
        spec = ProcessSpec(
            binary=s.common.binary, args=tuple(args), cwd=cwd, env=run_environment(s.common, run, self._agent),
            stdin=build_prompt(run).encode("utf-8"), binary_field=f"{self._agent.name}.settings.binary",
            cleanup=() if workdir else (cwd,),
        )
        return start_cli(self._agent, s.common, spec, GeminiJsonParser())


class GeminiJsonParser:
    """Collects the JSON document (from the first line opening an object) and reads it at exit."""

    def __init__(self) -> None:
        self.skipped_lines = 0
        self._document = bytearray()
        self._overflow = False

    def feed(self, line: bytes) -> list[AgentEvent]:
        if not self._document and not line.startswith(b"{"):
            if line.strip():
                self.skipped_lines += 1  # noise before the document
            return []
        if len(self._document) + len(line) > MAX_DOCUMENT_BYTES:
            self._overflow = True
            self.skipped_lines += 1
            return []
        self._document += line + b"\n"
        return []

    def usage(self) -> Usage:
        return Usage()  # known only from the final document

    def finish(self, returncode: int | None) -> ParsedRun:
        document = self._decode()
        exit_failure = EXIT_FAILURES.get(returncode) if returncode else None
        if document is None:
            return ParsedRun(
                finished=exit_failure is not None, succeeded=False, usage=Usage(), failure=exit_failure,
                error=f"gemini exited with code {returncode} ({exit_failure.value})" if exit_failure else "",
            )
        usage, tokens_by_model = _usage(document.get("stats"))
        error = document.get("error")
        succeeded = returncode == 0 and not error
        message = ""
        if isinstance(error, dict):
            message = f"{error.get('type', 'Error')}: {error.get('message', '')} (code {error.get('code', '-')})"
        elif returncode:
            message = f"gemini exited with code {returncode}"
        events = _events(document, tokens_by_model)
        session_id = str(document.get("session_id") or "")
        if session_id:
            events.insert(0, AgentEvent(EventKind.SESSION, {"session_id": session_id}))
        return ParsedRun(
            finished=True,
            succeeded=succeeded,
            usage=usage,
            summary=str(document.get("response") or ""),
            error="" if succeeded else f"gemini failed: {message}",
            failure=None if succeeded else (exit_failure or FailureReason.AGENT_ERROR),
            session_id=session_id,
            num_turns=sum(as_tokens(_dict(m.get("api")).get("totalRequests")) for m in _models(document.get("stats"))),
            files_changed=(),
            events=tuple(events),
        )

    def _decode(self) -> dict[str, Any] | None:
        if self._overflow or not self._document:
            return None
        try:
            value = json.loads(bytes(self._document), parse_float=Decimal)
        except (ValueError, UnicodeDecodeError):
            self.skipped_lines += 1
            log.warning("gemini output is not one JSON document (%d bytes)", len(self._document))
            return None
        return value if isinstance(value, dict) else None


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _models(stats: object) -> list[dict[str, Any]]:
    return [_dict(m) for m in _dict(_dict(stats).get("models")).values()]


def _usage(stats: object) -> tuple[Usage, dict[str, dict[str, int]]]:
    total = Usage()
    by_model: dict[str, dict[str, int]] = {}
    for name, model in _dict(_dict(stats).get("models")).items():
        tokens = _dict(_dict(model).get("tokens"))
        prompt, cached = as_tokens(tokens.get("prompt")), as_tokens(tokens.get("cached"))
        output = as_tokens(tokens.get("candidates")) + as_tokens(tokens.get("thoughts"))
        by_model[str(name)] = {"prompt": prompt, "cached": cached, "output": output}
        total = Usage(
            input_tokens=total.input_tokens + max(0, prompt - cached),
            output_tokens=total.output_tokens + output,
            cache_read_tokens=total.cache_read_tokens + cached,
        )
    return total, by_model


def _events(document: dict[str, Any], tokens_by_model: dict[str, dict[str, int]]) -> list[AgentEvent]:
    stats = _dict(document.get("stats"))
    events = [
        AgentEvent(EventKind.TOOL_CALL, {
            "tool": str(name), "count": as_tokens(_dict(tool).get("count")),
            "succeeded": as_tokens(_dict(tool).get("success")), "failed": as_tokens(_dict(tool).get("fail")),
            "duration_ms": as_tokens(_dict(tool).get("durationMs")),
        })
        for name, tool in _dict(_dict(stats.get("tools")).get("byName")).items()
    ]
    files = _dict(stats.get("files"))
    added, removed = as_tokens(files.get("totalLinesAdded")), as_tokens(files.get("totalLinesRemoved"))
    if added or removed:
        events.append(AgentEvent(EventKind.FILE_CHANGE, {"lines_added": added, "lines_removed": removed}))
    if document.get("response"):
        events.append(AgentEvent(EventKind.MESSAGE, {"text": str(document["response"]), "tokens": tokens_by_model}))
    error = document.get("error")
    if isinstance(error, dict):
        events.append(AgentEvent(EventKind.ERROR, {
            "recoverable": False, "type": str(error.get("type", "")), "message": str(error.get("message", "")),
            "code": error.get("code"),
        }))
    return events
