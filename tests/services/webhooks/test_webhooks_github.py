"""The GitHub webhook: signed pull-request deliveries become review verdicts, once each."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import aiohttp
import psycopg
import pytest
from aiohttp import web

from agentcoord.cli.main import main
from agentcoord.errors import ConflictError
from agentcoord.reviews import ReviewVerdict
from agentcoord.services.webhooks.github import (
    PATH,
    PullRequestVerdict,
    add_github_routes,
    mission_service_sink,
    signature_matches,
    verdict_of_event,
)
from agentcoord.services.webhooks.server import serve_webhooks

SECRET = "webhook-secret-0123456789"


def pull_request(action: str, *, merged: bool = False, ref: str = "agentcoord/m-1/schema") -> dict[str, Any]:
    return {
        "action": action, "sender": {"login": "closer"},
        "pull_request": {"number": 42, "merged": merged, "head": {"ref": ref}, "merged_by": {"login": "merger"}},
    }


def test_pull_request_fates_map_to_verdicts_on_the_task_of_the_branch() -> None:
    merged = verdict_of_event("pull_request", "d-1", pull_request("closed", merged=True))
    assert merged == PullRequestVerdict("m-1", "schema", ReviewVerdict.ACCEPTED, "github:merger",
                                        "pull request #42 merged", "github-d-1")
    closed = verdict_of_event("pull_request", "d-2", pull_request("closed"))
    assert closed is not None and (closed.verdict, closed.reviewer) == (ReviewVerdict.REJECTED, "github:closer")
    assert closed.reason == "pull request #42 closed without merging"
    review = {**pull_request("submitted"),
              "review": {"state": "CHANGES_REQUESTED", "body": "Add an index first.", "user": {"login": "ana"}}}
    changes = verdict_of_event("pull_request_review", "d-3", review)
    assert changes is not None and changes.reason == "changes requested on pull request #42: Add an index first."
    assert changes.reviewer == "github:ana" and changes.verdict is ReviewVerdict.REJECTED
    approved = {**review, "review": {"state": "approved", "user": {"login": "ana"}}}
    assert verdict_of_event("pull_request_review", "d-4", approved) is None  # merging is the acceptance
    assert verdict_of_event("pull_request", "d-5", pull_request("opened")) is None
    assert verdict_of_event("pull_request", "d-6", pull_request("closed", ref="feature/login")) is None
    assert verdict_of_event("pull_request", "d-7", pull_request("closed", ref="agentcoord/m-1")) is None


def test_the_signature_is_the_hmac_of_the_body() -> None:
    body = b'{"a": 1}'
    good = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert signature_matches(SECRET.encode(), body, good)
    assert not signature_matches(SECRET.encode(), body + b" ", good)
    assert not signature_matches(b"other", body, good)
    assert not signature_matches(SECRET.encode(), body, "")


def _deliver(runner: Any, url: str, event: str, body: dict[str, Any], *, delivery: str = "d-1",
             secret: str = SECRET) -> tuple[int, dict[str, Any]]:
    raw = json.dumps(body).encode()
    headers = {
        "X-GitHub-Event": event, "X-GitHub-Delivery": delivery, "Content-Type": "application/json",
        "X-Hub-Signature-256": "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest(),
    }

    async def post() -> tuple[int, dict[str, Any]]:
        async with aiohttp.ClientSession() as session, session.post(url, data=raw, headers=headers) as response:
            return response.status, await response.json()

    result: tuple[int, dict[str, Any]] = runner.run(post())
    return result


def test_the_endpoint_authenticates_ignores_what_is_not_a_verdict_and_reports_conflicts(runner: Any) -> None:
    received: list[PullRequestVerdict] = []

    async def sink(verdict: PullRequestVerdict) -> bool:
        if verdict.task_id == "done":
            raise ConflictError("task m-1/done is accepted, not awaiting review")
        received.append(verdict)
        return True

    app = web.Application()
    add_github_routes(app, secret=SECRET, review=sink)
    server = runner.run(serve_webhooks(app))
    try:
        url = server.url(PATH)
        assert _deliver(runner, url, "pull_request", pull_request("closed"), secret="wrong")[0] == 401
        assert _deliver(runner, url, "ping", {"zen": "hi"}) == (200, {"ok": "pong"})
        assert _deliver(runner, url, "push", {"ref": "refs/heads/main"})[0] == 202
        status, answer = _deliver(runner, url, "pull_request", pull_request("closed", merged=True))
        assert status == 200 and answer == {"verdict": "accepted", "task_id": "schema", "recorded": True}
        status, answer = _deliver(runner, url, "pull_request", pull_request("closed", ref="agentcoord/m-1/done"))
        assert status == 409 and "not awaiting review" in answer["error"]
    finally:
        runner.run(server.stop())
    assert [v.review_id for v in received] == ["github-d-1"]
    with pytest.raises(ValueError, match="non-empty secret"):
        add_github_routes(web.Application(), secret="", review=sink)


MISSION = """\
name: pr-review
goal: Add a column
tasks:
  - id: schema
    description: Write the migration
    capabilities: [code]
    action: {kind: migrate}
"""


def test_a_merged_pull_request_accepts_the_task_through_mission_service_once(
    runner: Any, tmp_path: Path, cli_env: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "pr-review.yaml"
    path.write_text(MISSION)
    assert main(["mission", "create", str(path), "--wait", "--timeout", "120"]) == 0
    mission_id = capsys.readouterr().out.split()[1]
    app = web.Application()
    add_github_routes(app, secret=SECRET, review=mission_service_sink(cli_env.address))
    server = runner.run(serve_webhooks(app))
    try:
        merged = pull_request("closed", merged=True, ref=f"agentcoord/{mission_id}/schema")
        first = _deliver(runner, server.url(PATH), "pull_request", merged, delivery="abc-123")
        again = _deliver(runner, server.url(PATH), "pull_request", merged, delivery="abc-123")  # GitHub redelivers
    finally:
        runner.run(server.stop())
    assert first == (200, {"verdict": "accepted", "task_id": "schema", "recorded": True})
    assert again == (200, {"verdict": "accepted", "task_id": "schema", "recorded": False})
    url = cli_env.config.database.url
    deadline = time.monotonic() + 60
    while True:
        with psycopg.connect(url) as conn:
            state = conn.execute("SELECT state FROM missions WHERE mission_id = %s", (mission_id,)).fetchone()[0]
            reviews = conn.execute("SELECT reviewer, reason FROM reviews WHERE mission_id = %s", (mission_id,)).fetchall()
        if state == "completed" or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert state == "completed"
    assert reviews == [("github:merger", "pull request #42 merged")]
