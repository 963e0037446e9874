"""Claude Code: `claude -p --output-format stream-json --verbose`, with our policy as a PreToolUse hook.

Output (one JSON object per line): `system` (subtype `init` carries session_id, model, tools;
`api_retry` is a recoverable retry), `assistant` and `user` messages (text, tool_use and
tool_result content blocks), and a final `result` with subtype success / error_max_turns /
error_during_execution / error_max_budget_usd, is_error, result text, session_id, num_turns,
duration_ms, total_cost_usd and usage. The result's usage is the run's total, so per-message
usage only feeds the running ceiling check, never the bill.

The run gets a settings file (`--settings`) installing a PreToolUse hook that asks our policy
endpoint before every tool call; a denied call never runs, the denial is written to a file the
supervisor watches, and the attempt ends blocked by policy.
"""

from __future__ import annotations

import importlib.util
import json
import shlex
import sys
import tempfile
from pathlib import Path
from typing import Any

from agentcoord.actors.agents.base import AgentEvent, AgentRun, EventKind, FailureReason
from agentcoord.actors.agents.cli import (
    COMMON_KEYS,
    CliAgent,
    CliSettings,
    JsonLinesParser,
    SettingsReader,
    as_tokens,
    build_prompt,
    run_environment,
    start_cli,
)
from agentcoord.actors.agents.process import (
    CliExecution,
    ParsedRun,
    ProcessSpec,
    Usage,
    usd_to_micro,
)
from agentcoord.config import AgentConfig

PERMISSION_MODES = ("default", "acceptEdits", "plan", "bypassPermissions", "dontAsk")
_FILE_TOOLS = frozenset({"Write", "Edit", "MultiEdit", "NotebookEdit"})
_FAILURES = {
    "error_max_turns": FailureReason.TURN_LIMIT,
    "error_max_budget_usd": FailureReason.BUDGET,
    "error_during_execution": FailureReason.AGENT_ERROR,
}
HOOK_MODULE = "agentcoord.services.webhooks.pretooluse_hook"


class ClaudeSettings:
    """Claude's settings: the common CLI ones plus max_turns, max_budget_usd, allowed_tools,
    disallowed_tools, permission_mode, and the policy hook endpoint (policy_hook_url, required,
    and policy_hook_token)."""

    KEYS = COMMON_KEYS | {
        "max_turns", "max_budget_usd", "allowed_tools", "disallowed_tools", "permission_mode",
        "policy_hook_url", "policy_hook_token",
    }

    def __init__(self, agent: AgentConfig) -> None:
        read = SettingsReader(agent.settings, agent=agent.name, allowed=self.KEYS)
        self.common: CliSettings = read.common(default_binary="claude")
        self.max_turns = read.integer("max_turns")
        self.max_budget_usd = read.usd("max_budget_usd")
        self.allowed_tools = read.strings("allowed_tools")
        self.disallowed_tools = read.strings("disallowed_tools")
        self.permission_mode = read.choice("permission_mode", PERMISSION_MODES)
        self.policy_hook_url = read.string("policy_hook_url")
        if not self.policy_hook_url.startswith(("http://", "https://")):
            raise read.error("policy_hook_url", "required: the URL of the PreToolUse policy endpoint")
        self.policy_hook_token = read.string("policy_hook_token")


class ClaudeAgent(CliAgent[ClaudeSettings]):
    """Runs Claude Code headless in the task's worktree."""

    settings_type = ClaudeSettings

    def start(self, run: AgentRun, *, workdir: Path | None) -> CliExecution:
        s = self._settings
        cwd = workdir or Path(tempfile.mkdtemp(prefix="agentcoord-claude-work-"))
        run_dir = Path(tempfile.mkdtemp(prefix="agentcoord-claude-"))
        denials = run_dir / "denials.jsonl"
        settings_file = run_dir / "settings.json"
        settings_file.write_text(json.dumps(hook_settings()), encoding="utf-8")
        args = ["-p", "--output-format", "stream-json", "--verbose", "--model", self._agent.model,
                "--settings", str(settings_file)]
        if s.max_turns is not None:
            args += ["--max-turns", str(s.max_turns)]
        if s.max_budget_usd is not None:
            args += ["--max-budget-usd", str(s.max_budget_usd)]
        if s.allowed_tools:
            args += ["--allowedTools", ",".join(s.allowed_tools)]
        if s.disallowed_tools:
            args += ["--disallowedTools", ",".join(s.disallowed_tools)]
        if s.permission_mode:
            args += ["--permission-mode", s.permission_mode]
        if run.resume_session_id:
            args += ["--resume", run.resume_session_id]
        env = run_environment(s.common, run, self._agent)
        env |= {
            "AGENTCOORD_HOOK_URL": s.policy_hook_url,
            "AGENTCOORD_HOOK_TOKEN": s.policy_hook_token,
            "AGENTCOORD_HOOK_DENIALS": str(denials),
        }
        spec = ProcessSpec(
            binary=s.common.binary, args=(*args, *s.common.extra_args), cwd=cwd, env=env,
            stdin=build_prompt(run).encode("utf-8"), binary_field=f"{self._agent.name}.settings.binary",
            denials_path=denials, cleanup=(run_dir,) if workdir else (run_dir, cwd),
        )
        return start_cli(self._agent, s.common, spec, ClaudeStreamParser(cwd))


def hook_settings() -> dict[str, Any]:
    """A Claude Code settings document whose PreToolUse hook (every tool) asks our policy endpoint."""
    spec = importlib.util.find_spec(HOOK_MODULE)
    assert spec is not None and spec.origin is not None, f"{HOOK_MODULE} is part of this package"
    command = f"{shlex.quote(sys.executable)} {shlex.quote(spec.origin)}"
    return {"hooks": {"PreToolUse": [{"matcher": "*", "hooks": [{"type": "command", "command": command, "timeout": 30}]}]}}


class ClaudeStreamParser(JsonLinesParser):
    """Parses `--output-format stream-json --verbose` output."""

    def __init__(self, workdir: Path) -> None:
        super().__init__()
        self._workdir = workdir
        self._session_id = ""
        self._result: dict[str, Any] | None = None
        self._message_usage: dict[str, Usage] = {}
        self._tool_kinds: dict[str, EventKind] = {}
        self._files: dict[str, None] = {}

    def on_event(self, event: dict[str, Any]) -> list[AgentEvent]:
        kind = event.get("type")
        if kind == "system":
            return self._system(event)
        message = event.get("message")
        if kind in ("assistant", "user") and isinstance(message, dict):
            content = message.get("content")
            blocks = [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []
            if kind == "assistant":
                self._count_usage(message)
                return [e for block in blocks if (e := self._assistant_block(block)) is not None]
            return [e for block in blocks if (e := self._tool_result(block)) is not None]
        if kind == "result":
            self._result = event
            self._session_id = str(event.get("session_id") or self._session_id)
        return []

    def _system(self, event: dict[str, Any]) -> list[AgentEvent]:
        if event.get("subtype") == "init":
            self._session_id = str(event.get("session_id") or "")
            tools = event.get("tools")
            return [AgentEvent(EventKind.SESSION, {
                "session_id": self._session_id, "model": event.get("model", ""),
                "permission_mode": event.get("permissionMode", ""),
                "tools": len(tools) if isinstance(tools, list) else 0,
            })]
        if event.get("subtype") == "api_retry":
            return [AgentEvent(EventKind.ERROR, {
                "recoverable": True, "message": "API retry", "attempt": event.get("attempt"),
                "error_status": event.get("error_status"),
            })]
        return []

    def _count_usage(self, message: dict[str, Any]) -> None:
        # One API message is streamed as several lines (one per content block) repeating its usage.
        usage = message.get("usage")
        if isinstance(usage, dict):
            self._message_usage[str(message.get("id") or len(self._message_usage))] = _usage(usage)

    def _assistant_block(self, block: dict[str, Any]) -> AgentEvent | None:
        if block.get("type") == "text" and block.get("text"):
            return AgentEvent(EventKind.MESSAGE, {"text": block["text"]})
        if block.get("type") != "tool_use":
            return None
        tool_id, name = str(block.get("id", "")), str(block.get("name", ""))
        tool_input = block.get("input") if isinstance(block.get("input"), dict) else {}
        assert isinstance(tool_input, dict)
        if name == "Bash":
            kind = EventKind.COMMAND
            payload = {"tool_use_id": tool_id, "command": tool_input.get("command", ""),
                       "description": tool_input.get("description", "")}
        elif name in _FILE_TOOLS:
            kind = EventKind.FILE_CHANGE
            path = self._relative(str(tool_input.get("file_path") or tool_input.get("notebook_path") or ""))
            self._files[path] = None
            payload = {"tool_use_id": tool_id, "tool": name, "path": path}
        else:
            kind = EventKind.TOOL_CALL
            payload = {"tool_use_id": tool_id, "tool": name, "input": tool_input}
        self._tool_kinds[tool_id] = kind
        return AgentEvent(kind, payload)

    def _tool_result(self, block: dict[str, Any]) -> AgentEvent | None:
        if block.get("type") != "tool_result":
            return None
        tool_id = str(block.get("tool_use_id", ""))
        content = block.get("content")
        if isinstance(content, list):
            content = "\n".join(str(c.get("text", "")) for c in content if isinstance(c, dict))
        return AgentEvent(self._tool_kinds.get(tool_id, EventKind.TOOL_CALL), {
            "tool_use_id": tool_id, "is_error": bool(block.get("is_error")), "output": str(content or ""),
        })

    def _relative(self, path: str) -> str:
        try:
            return str(Path(path).resolve().relative_to(self._workdir.resolve()))
        except ValueError:
            return path

    def usage(self) -> Usage:
        if self._result is not None:
            return _usage(self._result.get("usage"), cost=self._result.get("total_cost_usd"))
        totals = [sum(getattr(u, f) for u in self._message_usage.values())
                  for f in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")]
        return Usage(*totals)

    def finish(self, returncode: int | None) -> ParsedRun:
        result = self._result
        if result is None:
            return ParsedRun(finished=False, succeeded=False, usage=self.usage(), session_id=self._session_id,
                             files_changed=tuple(self._files))
        subtype = str(result.get("subtype", ""))
        is_error = result.get("is_error") is True
        succeeded = subtype == "success" and not is_error
        text = result.get("result") if isinstance(result.get("result"), str) else ""
        error = ""
        if not succeeded:
            errors = result.get("errors")
            detail = "; ".join(str(e) for e in errors) if isinstance(errors, list) and errors else str(text)
            error = f"claude ended with {subtype or 'no subtype'}{' (is_error)' if is_error else ''}: {detail}".strip()
        duration = result.get("duration_ms")
        return ParsedRun(
            finished=True,
            succeeded=succeeded,
            usage=self.usage(),
            summary=str(text),
            error=error,
            failure=None if succeeded else _FAILURES.get(subtype, FailureReason.AGENT_ERROR),
            session_id=self._session_id,
            num_turns=as_tokens(result.get("num_turns")),
            duration_ms=as_tokens(duration) if duration is not None else None,
            files_changed=tuple(self._files),
        )


def _usage(raw: object, *, cost: object = None) -> Usage:
    usage = raw if isinstance(raw, dict) else {}
    return Usage(
        input_tokens=as_tokens(usage.get("input_tokens")),
        output_tokens=as_tokens(usage.get("output_tokens")),
        cache_read_tokens=as_tokens(usage.get("cache_read_input_tokens")),
        cache_write_tokens=as_tokens(usage.get("cache_creation_input_tokens")),
        cost_micro_usd=usd_to_micro(cost) if cost is not None else None,
    )
