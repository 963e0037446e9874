"""Codex CLI: `codex exec --json`, one JSON event per line.

Events: thread.started (thread_id, which `codex exec resume <id>` continues), turn.started,
item.started / item.updated / item.completed carrying an item (agent_message, reasoning,
command_execution with exit_code, file_change with changes, mcp_tool_call, web_search,
todo_list, error), turn.completed with usage (input_tokens, cached_input_tokens, output_tokens),
turn.failed with error.message, and top-level error. A run succeeded when its last turn event is
turn.completed, whatever the exit code; `error` events that say "Reconnecting..." are transient.
Codex reports no cost, so the tokens are priced at the agent's rates.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from agentcoord.actors.agents.base import AgentEvent, AgentRun, EventKind, FailureReason
from agentcoord.actors.agents.cli import (
    COMMON_KEYS,
    CliAgent,
    JsonLinesParser,
    SettingsReader,
    as_tokens,
    build_prompt,
    run_environment,
    start_cli,
)
from agentcoord.actors.agents.process import CliExecution, ParsedRun, ProcessSpec, Usage
from agentcoord.config import AgentConfig

SANDBOX_MODES = ("read-only", "workspace-write", "danger-full-access")


class CodexSettings:
    """Codex's settings: the common CLI ones plus `sandbox` (default workspace-write)."""

    KEYS = COMMON_KEYS | {"sandbox"}

    def __init__(self, agent: AgentConfig) -> None:
        read = SettingsReader(agent.settings, agent=agent.name, allowed=self.KEYS)
        self.common = read.common(default_binary="codex")
        self.sandbox = read.choice("sandbox", SANDBOX_MODES, "workspace-write")


class CodexAgent(CliAgent[CodexSettings]):
    """Runs `codex exec` headless in the task's worktree."""

    settings_type = CodexSettings

    def start(self, run: AgentRun, *, workdir: Path | None) -> CliExecution:
        s = self._settings
        cwd = workdir or Path(tempfile.mkdtemp(prefix="agentcoord-codex-work-"))
        args = ["exec", "--json", "--model", self._agent.model, "--sandbox", s.sandbox, "--skip-git-repo-check",
                *s.common.extra_args]
        if run.resume_session_id:
            args += ["resume", run.resume_session_id]
        args.append("-")  # the prompt comes on stdin
        spec = ProcessSpec(
            binary=s.common.binary, args=tuple(args), cwd=cwd, env=run_environment(s.common, run, self._agent),
            stdin=build_prompt(run).encode("utf-8"), binary_field=f"{self._agent.name}.settings.binary",
            cleanup=() if workdir else (cwd,),
        )
        return start_cli(self._agent, s.common, spec, CodexJsonParser())


class CodexJsonParser(JsonLinesParser):
    """Parses `codex exec --json` output."""

    def __init__(self) -> None:
        super().__init__()
        self._thread_id = ""
        self._usage = Usage()
        self._last_turn: str | None = None
        self._turns = 0
        self._error = ""
        self._summary = ""
        self._files: dict[str, None] = {}

    def on_event(self, event: dict[str, Any]) -> list[AgentEvent]:
        kind = event.get("type")
        if kind in ("thread.started", "thread.resumed"):
            self._thread_id = str(event.get("thread_id", ""))
            return [AgentEvent(EventKind.SESSION, {"session_id": self._thread_id})]
        if kind == "turn.completed":
            self._last_turn = "completed"
            self._turns += 1
            self._add_usage(event.get("usage"))
            return []
        if kind == "turn.failed":
            self._last_turn = "failed"
            self._turns += 1
            error = event.get("error")
            self._error = str(error.get("message", "")) if isinstance(error, dict) else "turn failed"
            return [AgentEvent(EventKind.ERROR, {"recoverable": False, "message": self._error})]
        if kind == "error":
            message = str(event.get("message", ""))
            transient = message.startswith("Reconnecting")
            if not transient:
                self._error = message
            return [AgentEvent(EventKind.ERROR, {"recoverable": transient, "message": message})]
        item = event.get("item")
        if kind in ("item.started", "item.completed") and isinstance(item, dict):
            return self._item(item, completed=kind == "item.completed")
        return []

    def _add_usage(self, raw: object) -> None:
        usage = raw if isinstance(raw, dict) else {}
        cached = as_tokens(usage.get("cached_input_tokens"))
        u = self._usage
        self._usage = Usage(
            input_tokens=u.input_tokens + max(0, as_tokens(usage.get("input_tokens")) - cached),
            output_tokens=u.output_tokens + as_tokens(usage.get("output_tokens")),
            cache_read_tokens=u.cache_read_tokens + cached,
        )

    def _item(self, item: dict[str, Any], *, completed: bool) -> list[AgentEvent]:
        kind, item_id, status = item.get("type"), str(item.get("id", "")), str(item.get("status", ""))
        if kind == "command_execution":
            payload: dict[str, Any] = {"item_id": item_id, "command": item.get("command", ""), "status": status}
            if completed:
                payload |= {"exit_code": item.get("exit_code"), "output": str(item.get("aggregated_output") or "")}
            return [AgentEvent(EventKind.COMMAND, payload)]
        if kind == "mcp_tool_call":
            error = item.get("error")
            return [AgentEvent(EventKind.TOOL_CALL, {
                "item_id": item_id, "server": item.get("server", ""), "tool": item.get("tool", ""),
                "arguments": item.get("arguments"), "status": status,
                "error": str(error.get("message", "")) if isinstance(error, dict) else "",
            })]
        if not completed:
            return []
        if kind == "agent_message":
            self._summary = str(item.get("text", ""))
            return [AgentEvent(EventKind.MESSAGE, {"item_id": item_id, "text": self._summary})]
        if kind == "reasoning":
            return [AgentEvent(EventKind.MESSAGE, {"item_id": item_id, "reasoning": str(item.get("text", ""))})]
        if kind == "file_change":
            changes = [c for c in item.get("changes") or [] if isinstance(c, dict)]
            if status != "failed":
                self._files.update((str(c.get("path", "")), None) for c in changes)
            return [AgentEvent(EventKind.FILE_CHANGE, {
                "item_id": item_id, "status": status,
                "changes": [{"path": str(c.get("path", "")), "kind": str(c.get("kind", ""))} for c in changes],
            })]
        if kind == "web_search":
            return [AgentEvent(EventKind.TOOL_CALL, {"item_id": item_id, "tool": "web_search", "query": item.get("query", "")})]
        if kind == "error":
            return [AgentEvent(EventKind.ERROR, {"item_id": item_id, "recoverable": True, "message": item.get("message", "")})]
        return []

    def usage(self) -> Usage:
        return self._usage

    def finish(self, returncode: int | None) -> ParsedRun:
        succeeded = self._last_turn == "completed"
        return ParsedRun(
            finished=self._last_turn is not None,
            succeeded=succeeded,
            usage=self._usage,
            summary=self._summary,
            error="" if succeeded else f"codex turn failed: {self._error or 'no detail'}",
            failure=None if succeeded else FailureReason.AGENT_ERROR,
            session_id=self._thread_id,
            num_turns=self._turns,
            files_changed=tuple(self._files),
        )
