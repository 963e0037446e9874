"""The Claude Code PreToolUse endpoint: asks our policy about each tool call before it runs.

Claude Code runs `pretooluse_hook.py` before every tool call; the script POSTs the hook input
(tool_name, tool_input, cwd, session_id) and the run's ids to POST /hooks/claude/pre-tool-use
with a bearer token. The endpoint turns the tool call into an ActionRequest (a Bash command that
deploys is a `deploy` action in the environment it names; file tools are `file_write` or `read`
on their paths), asks the policy, stores the decision (with its outbox event) when it has a
database, and answers in Claude's hook format plus our own `agentcoord` block. Only a deny
changes what Claude does: allow and require_review leave the call to Claude's own permissions.
"""

from __future__ import annotations

import hmac
import logging
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import PurePosixPath
from typing import Any, Protocol

from aiohttp import web

from agentcoord.policy import ActionRequest, Decision, Effect
from agentcoord.services.webhooks.server import WebhookServer, serve_webhooks
from agentcoord.store import Database
from agentcoord.store import missions as mission_store

log = logging.getLogger(__name__)

PATH = "/hooks/claude/pre-tool-use"
ACTOR = "claude-hook"
MAX_BODY_BYTES = 8 * 1024 * 1024

_DEPLOY = re.compile(
    r"\bdeploy(s|ed|ing|ment)?\b|\bhelm\s+(upgrade|install)\b|\bkubectl\s+(apply|rollout|set\s+image)\b"
    r"|\bterraform\s+apply\b|\bfly\s+deploy\b",
    re.IGNORECASE,
)
_ENVIRONMENTS = (
    ("production", re.compile(r"\bprod(uction)?\b", re.IGNORECASE)),
    ("staging", re.compile(r"\bstag(e|ing)\b", re.IGNORECASE)),
)
_WRITE_TOOLS = frozenset({"Write", "Edit", "MultiEdit", "NotebookEdit"})
_READ_TOOLS = frozenset({"Read", "Glob", "Grep", "LS"})
_NETWORK_TOOLS = frozenset({"WebFetch", "WebSearch"})


class PolicyDecider(Protocol):
    """What the endpoint needs from the policy (the plain PolicyChecker has it)."""

    def check(self, request: ActionRequest) -> Decision: ...


@dataclass(frozen=True)
class RunIds:
    """Which agent run a tool call belongs to."""

    agent: str = ""
    mission_id: str = ""
    task_id: str = ""
    attempt_id: str = ""


def action_for_tool_call(hook: Mapping[str, Any], ids: RunIds) -> ActionRequest:
    """The policy's view of one Claude tool call."""
    tool = str(hook.get("tool_name", ""))
    raw_input = hook.get("tool_input")
    tool_input: Mapping[str, Any] = raw_input if isinstance(raw_input, Mapping) else {}
    base = ActionRequest(kind="tool", agent=ids.agent, mission_id=ids.mission_id, task_id=ids.task_id)
    if tool == "Bash":
        command = str(tool_input.get("command", ""))
        environment = next((name for name, pattern in _ENVIRONMENTS if pattern.search(command)), "")
        kind = "deploy" if _DEPLOY.search(command) else "command"
        return replace(base, kind=kind, environment=environment, command=command)
    path = str(tool_input.get("file_path") or tool_input.get("notebook_path") or tool_input.get("path") or "")
    paths = (_relative(path, str(hook.get("cwd", ""))),) if path else ()
    if tool in _WRITE_TOOLS:
        return replace(base, kind="file_write", paths=paths)
    if tool in _READ_TOOLS:
        return replace(base, kind="read", paths=paths)
    if tool in _NETWORK_TOOLS:
        return replace(base, kind="network", command=str(tool_input.get("url") or tool_input.get("query") or ""))
    return replace(base, command=tool)


def _relative(path: str, cwd: str) -> str:
    try:
        return str(PurePosixPath(path).relative_to(cwd)) if cwd else path
    except ValueError:
        return path


def hook_answer(decision: Decision) -> dict[str, Any]:
    """The JSON the hook script gets: Claude's hook output for a deny, and our decision."""
    answer: dict[str, Any] = {"agentcoord": decision.as_payload()}
    if decision.effect is Effect.DENY:
        answer["hookSpecificOutput"] = {
            "hookEventName": "PreToolUse",
            "permissionDecision": "deny",
            "permissionDecisionReason": decision.reason,
        }
    return answer


def add_claude_hook_routes(
    app: web.Application, policy: PolicyDecider, *, token: str, db: Database | None = None
) -> None:
    """Serve the PreToolUse endpoint on `app`, behind the bearer `token`."""
    if not token:
        raise ValueError("the hook endpoint needs a non-empty bearer token")
    expected = f"Bearer {token}".encode()

    async def pre_tool_use(request: web.Request) -> web.Response:
        given = request.headers.get("Authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            return web.json_response({"error": "missing or wrong bearer token"}, status=401)
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"error": "body must be JSON"}, status=400)
        hook = body.get("hook") if isinstance(body, dict) else None
        raw_ids = body.get("agentcoord") if isinstance(body, dict) else None
        if not isinstance(hook, dict) or not isinstance(raw_ids, dict):
            return web.json_response({"error": "expected {hook: {...}, agentcoord: {...}}"}, status=400)
        ids = RunIds(**{k: str(raw_ids.get(k, "")) for k in ("agent", "mission_id", "task_id", "attempt_id")})
        action = action_for_tool_call(hook, ids)
        decision = policy.check(action)
        if db is not None and ids.mission_id and ids.task_id:
            await _store(db, action, decision, ids, tool=str(hook.get("tool_name", "")))
        log.info(
            "tool call %s: %s", hook.get("tool_name"), decision.effect.value,
            extra={"mission_id": ids.mission_id, "task_id": ids.task_id, "attempt_id": ids.attempt_id},
        )
        return web.json_response(hook_answer(decision))

    app.router.add_post(PATH, pre_tool_use)


async def _store(db: Database, action: ActionRequest, decision: Decision, ids: RunIds, *, tool: str) -> None:
    async with db.transaction() as conn:
        await mission_store.insert_policy_decision(
            conn, decision_id=str(uuid.uuid4()), mission_id=ids.mission_id, task_id=ids.task_id,
            action={"kind": action.kind, "environment": action.environment, "paths": list(action.paths),
                    "command": action.command, "tool": tool, "attempt_id": ids.attempt_id},
            effect=decision.effect.value, rule_ids=list(decision.rule_ids), reason=decision.reason, actor=ACTOR,
        )


async def start_hook_server(
    policy: PolicyDecider, *, token: str, db: Database | None = None, host: str = "127.0.0.1", port: int = 0
) -> WebhookServer:
    """Serve only this endpoint on host:port (0 picks a free port) until `stop()`."""
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    add_claude_hook_routes(app, policy, token=token, db=db)
    return await serve_webhooks(app, host=host, port=port)
