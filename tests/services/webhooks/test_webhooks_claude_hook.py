"""The Claude Code PreToolUse endpoint and its hook script, against the real policy and database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import psycopg

from agentcoord.actors.agents.claude import HOOK_MODULE, hook_settings
from agentcoord.actors.policy_checker import PolicyChecker
from agentcoord.config import Config
from agentcoord.services.webhooks.claude_hook import (
    PATH,
    RunIds,
    action_for_tool_call,
    start_hook_server,
)
from agentcoord.store import Database

TOKEN = "hook-test-token-0123456789"
IDS = {"agent": "claude-sonnet", "mission_id": "m-9", "task_id": "ship", "attempt_id": "att-9"}


def test_tool_calls_become_policy_actions() -> None:
    deploy = action_for_tool_call(
        {"tool_name": "Bash", "tool_input": {"command": "./scripts/deploy.sh --env production"}}, RunIds(**IDS)
    )
    assert (deploy.kind, deploy.environment, deploy.agent, deploy.task_id) == ("deploy", "production", "claude-sonnet", "ship")
    assert action_for_tool_call({"tool_name": "Bash", "tool_input": {"command": "pytest -q"}}, RunIds()).kind == "command"
    write = action_for_tool_call(
        {"tool_name": "Write", "cwd": "/w/repo", "tool_input": {"file_path": "/w/repo/db/migrations/0002.sql"}}, RunIds()
    )
    assert (write.kind, write.paths) == ("file_write", ("db/migrations/0002.sql",))
    assert action_for_tool_call({"tool_name": "mcp__github__merge_pr", "tool_input": {}}, RunIds()).command == (
        "mcp__github__merge_pr"
    )


def _post(runner: Any, url: str, body: object, token: str) -> tuple[int, dict[str, Any]]:
    async def call() -> tuple[int, dict[str, Any]]:
        async with aiohttp.ClientSession() as session, session.post(
            url, json=body, headers={"Authorization": f"Bearer {token}"}
        ) as response:
            return response.status, await response.json()

    result: tuple[int, dict[str, Any]] = runner.run(call())
    return result


def test_endpoint_denies_production_deploys_and_stores_the_decision(
    runner: Any, base_config: Config, fresh_database_url: str, make_db: Callable[[str], Database]
) -> None:
    server = runner.run(start_hook_server(PolicyChecker(base_config), token=TOKEN, db=make_db(fresh_database_url)))
    try:
        deploy = {"hook": {"tool_name": "Bash", "tool_input": {"command": "make deploy ENV=production"}}, "agentcoord": IDS}
        status, answer = _post(runner, server.url(PATH), deploy, TOKEN)
        assert status == 200
        assert answer["hookSpecificOutput"]["permissionDecision"] == "deny"
        assert answer["agentcoord"]["rule_ids"] == ["no-production-deploys"]

        status, answer = _post(runner, server.url(PATH), {**deploy, "hook": {"tool_name": "Read", "tool_input": {}}}, TOKEN)
        assert status == 200 and "hookSpecificOutput" not in answer and answer["agentcoord"]["effect"] == "allow"

        status, _ = _post(runner, server.url(PATH), deploy, "wrong-token")
        assert status == 401
    finally:
        runner.run(server.stop())
    with psycopg.connect(fresh_database_url) as conn:
        rows = conn.execute("SELECT effect, rule_ids, action->>'kind' FROM policy_decisions ORDER BY created_at").fetchall()
        topics = [r[0] for r in conn.execute("SELECT topic FROM events").fetchall()]
    assert rows == [("deny", ["no-production-deploys"], "deploy"), ("allow", [], "read")]
    assert topics == ["policy.decided", "policy.decided"]


def _run_hook(env: dict[str, str], tool_input: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    command = hook_settings()["hooks"]["PreToolUse"][0]["hooks"][0]["command"]
    hook_input = {"hook_event_name": "PreToolUse", "tool_name": "Bash", "tool_input": tool_input, "cwd": "/w"}
    return subprocess.run(command, shell=True, input=json.dumps(hook_input), capture_output=True, text=True,
                          env={**os.environ, **env}, check=False, timeout=30)


def test_hook_script_blocks_with_exit_2_records_the_denial_and_fails_closed(
    runner: Any, base_config: Config, tmp_path: Path
) -> None:
    assert HOOK_MODULE.endswith("pretooluse_hook") and sys.executable in hook_settings()["hooks"]["PreToolUse"][0]["hooks"][0]["command"]
    denials = tmp_path / "denials.jsonl"
    server = runner.run(start_hook_server(PolicyChecker(base_config), token=TOKEN))
    env = {"AGENTCOORD_HOOK_URL": server.url(PATH), "AGENTCOORD_HOOK_TOKEN": TOKEN, "AGENTCOORD_HOOK_DENIALS": str(denials)}
    try:
        denied = _run_hook(env, {"command": "kubectl rollout restart deploy/api --context production"})
        allowed = _run_hook(env, {"command": "git status"})
        wrong_token = _run_hook({**env, "AGENTCOORD_HOOK_TOKEN": "nope"}, {"command": "git status"})
    finally:
        runner.run(server.stop())
    unreachable = _run_hook(env, {"command": "git status"})  # the server is gone

    assert denied.returncode == 2 and "no-production-deploys" in denied.stderr
    assert [json.loads(line)["rule_ids"] for line in denials.read_text().splitlines()] == [["no-production-deploys"]]
    assert allowed.returncode == 0 and allowed.stdout == ""
    assert wrong_token.returncode == 2
    assert unreachable.returncode == 2 and "blocked" in unreachable.stderr
