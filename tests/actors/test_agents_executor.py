"""The task executor with a fake claude: worktrees, outbox events, usage, resume, policy hook, Ray cancel.

Real parts: PostgreSQL (fresh database per test), git, the aiohttp policy endpoint with the bundled
policy, a local Ray for the cancel test. The CostService is a recording stub, so the test sees
exactly the usage record the executor sends.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import psycopg
import pytest
import ray

from agentcoord.actors.agents import AgentOutcome, AgentRun
from agentcoord.actors.policy_checker import PolicyChecker
from agentcoord.actors.task_executor import AttemptRequest, execute_attempt, run_attempt
from agentcoord.config import AgentConfig, Config, ServiceAddresses
from agentcoord.services.webhooks.claude_hook import PATH, start_hook_server
from agentcoord.store import Database
from agentcoord.store.agents import latest_session
from agentcoord.v1 import cost_pb2, cost_pb2_grpc

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SESSION = "5f1d2c3a-8b7e-4f60-9a1b-2c3d4e5f6a7b"
TOKEN = "executor-hook-token-42"


class RecordingCostService(cost_pb2_grpc.CostServiceServicer):
    def __init__(self) -> None:
        self.events: list[cost_pb2.UsageEvent] = []

    def RecordUsage(self, request: cost_pb2.RecordUsageRequest, context: Any) -> cost_pb2.RecordUsageResponse:
        self.events.append(request.event)
        return cost_pb2.RecordUsageResponse(recorded=True)


@pytest.fixture
def cost_service() -> Iterator[tuple[str, RecordingCostService]]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    service = RecordingCostService()
    cost_pb2_grpc.add_CostServiceServicer_to_server(service, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield f"127.0.0.1:{port}", service
    server.stop(0)


@pytest.fixture
def hook_url(runner: Any, base_config: Config) -> Iterator[str]:
    """The policy endpoint (bundled policy, no database), which every claude run asks before a tool call."""
    server = runner.run(start_hook_server(PolicyChecker(base_config), token=TOKEN))
    yield server.url(PATH)
    runner.run(server.stop())


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    (repo / "README.md").write_text("# target\n")
    deploy = repo / "scripts" / "deploy.sh"
    deploy.write_text('#!/bin/sh\necho "$@" > "$DEPLOY_MARKER"\n')
    deploy.chmod(0o755)
    for args in (["init", "-q", "-b", "main"], ["add", "-A"],
                 ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "initial"]):
        subprocess.run(["git", *args], cwd=repo, check=True)
    return repo


def configure(base: Config, tmp_path: Path, *, database_url: str, cost_address: str, repository: Path,
              recording: Path, hook_url: str, **env: str) -> Config:
    agent = AgentConfig(
        name="claude-test", adapter="claude", model="claude-sonnet-4-5", capabilities=("code",),
        input_price_micro_usd_per_mtok=3_000_000, output_price_micro_usd_per_mtok=15_000_000,
        settings={
            "binary": str(FIXTURES / "bin" / "claude"), "repository": str(repository), "policy_hook_url": hook_url,
            "policy_hook_token": TOKEN, "permission_mode": "bypassPermissions",
            "env": {"FAKE_RECORDING": str(recording), "FAKE_DELAY_MS": "5", "FAKE_EXECUTE_TOOLS": "1",
                    "FAKE_ARGV_FILE": str(tmp_path / "argv.json"), "DEPLOY_MARKER": str(tmp_path / "deployed"), **env},
        },
    )
    return dataclasses.replace(
        base.with_database_url(database_url), agents=(agent,), state_dir=tmp_path / "state",
        addresses=ServiceAddresses(cost_address, cost_address, cost_address, cost_address),
    )


def a_request(*, attempt_id: str = "att-1", number: int = 1, resume: str = "") -> AttemptRequest:
    return AttemptRequest(agent="claude-test", run=AgentRun(
        attempt_id=attempt_id, mission_id="m-7", task_id="fix-parser", attempt_number=number,
        goal="Parser handles empty input", description="Fix first_item on an empty list", capabilities=("code",),
        resume_session_id=resume,
    ))


def editing_recording(tmp_path: Path) -> Path:
    """claude_success.jsonl whose Bash call really writes the fix."""
    lines = (FIXTURES / "agents" / "claude_success.jsonl").read_text().splitlines()
    call = json.loads(lines[2])
    call["message"]["content"][0]["input"]["command"] = (
        "mkdir -p src && printf 'def first_item(items):\\n    return items[0] if items else None\\n' > src/parser.py"
    )
    lines[2] = json.dumps(call)
    path = tmp_path / "editing.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def events(url: str) -> list[tuple[str, str, dict[str, Any]]]:
    with psycopg.connect(url) as conn:
        return [(r[0], r[1], r[2]) for r in conn.execute("SELECT topic, actor, payload FROM events ORDER BY event_id")]


def test_attempt_runs_in_a_worktree_records_every_event_and_its_usage(
    base_config: Config, fresh_database_url: str, cost_service: tuple[str, RecordingCostService], repository: Path,
    tmp_path: Path, runner: Any, make_db: Callable[[str], Database], hook_url: str,
) -> None:
    address, costs = cost_service
    config = configure(base_config, tmp_path, database_url=fresh_database_url, cost_address=address,
                       repository=repository, recording=editing_recording(tmp_path), hook_url=hook_url)
    report = execute_attempt(config, a_request())

    assert report.outcome is AgentOutcome.SUCCEEDED
    assert (report.cost_micro_usd, report.session_id) == (52_392, SESSION)
    assert report.files_changed == ("src/parser.py",)
    assert report.branch == "agentcoord/m-7/fix-parser"
    worktree = tmp_path / "state" / "worktrees" / "m-7" / "fix-parser"
    assert json.loads((tmp_path / "argv.json").read_text())["cwd"] == str(worktree)
    assert not worktree.exists()  # removed on success; the work is committed on the branch
    shown = subprocess.run(["git", "show", "--name-only", "--format=%s", report.branch], cwd=repository,
                           capture_output=True, text=True, check=True).stdout
    assert "agentcoord: fix-parser" in shown and "src/parser.py" in shown

    recorded = events(fresh_database_url)
    topics = [topic for topic, _, _ in recorded]
    assert topics[0] == "agent.session"
    assert {"agent.message", "agent.command", "agent.file_change"} <= set(topics)
    assert all(actor == "agent:claude-test" and payload["attempt_id"] == "att-1" for _, actor, payload in recorded)
    assert any(p.get("command", "").startswith("mkdir -p src") for t, _, p in recorded if t == "agent.command")

    assert [(e.idempotency_key, e.attempt_id, e.cost_micro_usd, e.cache_read_tokens, e.cache_write_tokens)
            for e in costs.events] == [("attempt:att-1", "att-1", 52_392, 52_658, 6_673)]

    db = make_db(fresh_database_url)

    async def session() -> str | None:
        async with db.transaction() as conn:
            return await latest_session(conn, mission_id="m-7", task_id="fix-parser", agent="claude-test")

    assert runner.run(session()) == SESSION


def test_a_retry_resumes_the_session_of_the_attempt_that_died_in_the_same_worktree(
    base_config: Config, fresh_database_url: str, cost_service: tuple[str, RecordingCostService], repository: Path,
    tmp_path: Path, runner: Any, make_db: Callable[[str], Database], hook_url: str,
) -> None:
    address, _ = cost_service
    recording = FIXTURES / "agents" / "claude_success.jsonl"
    crashing = configure(base_config, tmp_path, database_url=fresh_database_url, cost_address=address,
                         repository=repository, recording=recording, hook_url=hook_url, FAKE_STOP_AFTER_LINES="3",
                         FAKE_EXIT_CODE="1")
    first = execute_attempt(crashing, a_request())
    assert first.outcome is AgentOutcome.FAILED and first.failure == "crash"
    worktree = tmp_path / "state" / "worktrees" / "m-7" / "fix-parser"
    assert worktree.exists()  # kept for inspection, and for the resumed session

    db = make_db(fresh_database_url)

    async def session() -> str | None:
        async with db.transaction() as conn:
            return await latest_session(conn, mission_id="m-7", task_id="fix-parser", agent="claude-test")

    resume = runner.run(session())
    assert resume == SESSION
    healthy = configure(base_config, tmp_path, database_url=fresh_database_url, cost_address=address,
                        repository=repository, recording=recording, hook_url=hook_url)
    second = execute_attempt(healthy, a_request(attempt_id="att-2", number=2, resume=resume))
    assert second.outcome is AgentOutcome.SUCCEEDED and second.resumed_from == SESSION
    call = json.loads((tmp_path / "argv.json").read_text())
    assert call["argv"][call["argv"].index("--resume") + 1] == SESSION
    assert call["cwd"] == str(worktree)
    with psycopg.connect(fresh_database_url) as conn:
        rows = conn.execute("SELECT attempt_id, resumed_from FROM agent_sessions ORDER BY attempt_id").fetchall()
    assert rows == [("att-1", ""), ("att-2", SESSION)]


def test_the_policy_hook_blocks_a_production_deploy_before_it_runs(
    base_config: Config, fresh_database_url: str, cost_service: tuple[str, RecordingCostService], repository: Path,
    tmp_path: Path, runner: Any, make_db: Callable[[str], Database],
) -> None:
    address, costs = cost_service
    server = runner.run(start_hook_server(PolicyChecker(base_config), token=TOKEN, db=make_db(fresh_database_url)))
    try:
        config = configure(base_config, tmp_path, database_url=fresh_database_url, cost_address=address,
                           repository=repository, recording=FIXTURES / "agents" / "claude_deploy.jsonl",
                           hook_url=server.url(PATH))
        report = execute_attempt(config, a_request())
    finally:
        runner.run(server.stop())

    assert report.outcome is AgentOutcome.BLOCKED_BY_POLICY
    assert report.policy_rule_ids == ("no-production-deploys",)
    assert not (tmp_path / "deployed").exists()  # the deploy script never ran
    assert (tmp_path / "state" / "worktrees" / "m-7" / "fix-parser").exists()  # kept for inspection
    recorded = events(fresh_database_url)
    assert any(t == "agent.command" and p.get("command") == "./scripts/deploy.sh --env production"
               for t, _, p in recorded)
    decided = [p for t, _, p in recorded if t == "policy.decided"]
    assert [(d["effect"], d["rule_ids"], d["action"]["attempt_id"]) for d in decided] == [
        ("deny", ["no-production-deploys"], "att-1")]
    assert len(costs.events) == 1  # the tokens spent before the block are still accounted


def test_ray_cancel_kills_the_agent_process_group(
    ray_cluster: None, base_config: Config, fresh_database_url: str,
    cost_service: tuple[str, RecordingCostService], repository: Path, tmp_path: Path, hook_url: str,
) -> None:
    address, costs = cost_service
    pid_file = tmp_path / "pids"
    config = configure(base_config, tmp_path, database_url=fresh_database_url, cost_address=address,
                       repository=repository, recording=FIXTURES / "agents" / "claude_success.jsonl",
                       hook_url=hook_url, FAKE_HANG="1", FAKE_PID_FILE=str(pid_file), FAKE_STOP_AFTER_LINES="2")
    ref = run_attempt.remote(config, a_request())
    _wait_for(pid_file.exists, deadline_s=60)
    pids = [int(p) for p in pid_file.read_text().split()]
    ray.cancel(ref)
    with pytest.raises((ray.exceptions.TaskCancelledError, ray.exceptions.RayTaskError)):
        ray.get(ref, timeout=60)
    _wait_for(lambda: not any(_alive(pid) for pid in pids), deadline_s=30)
    assert costs.events == []  # a cancelled attempt reports nothing; the Mission decides what follows
    assert any(t == "agent.session" for t, _, _ in events(fresh_database_url))  # flushed before dying


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return not stat.read().split(") ")[1].startswith("Z")
    except FileNotFoundError:
        return False


def _wait_for(condition: Callable[[], bool], *, deadline_s: float) -> None:
    end = time.monotonic() + deadline_s
    while not condition():
        if time.monotonic() > end:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)
