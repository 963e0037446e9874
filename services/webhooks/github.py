"""The GitHub webhook: a pull request's fate becomes the review verdict on the task behind it.

Each task works on the branch `agentcoord/<mission id>/<task id>` (actors/agents/worktree.py);
a pull request from that branch is the task's result under review. Merged: accepted, by whoever
merged it. Closed without merging, or a review requesting changes: rejected, with the reason
(the review's text becomes the rework's starting point). Anything else is acknowledged and
ignored. Deliveries are authenticated with the `X-Hub-Signature-256` HMAC of the body (compared
in constant time) and are idempotent: the review id is derived from GitHub's delivery id, so a
redelivery records nothing twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from agentcoord.clients import MissionClient
from agentcoord.errors import ConflictError, InvalidInputError, NotFoundError
from agentcoord.reviews import ReviewVerdict
from agentcoord.services.mission.convert import verdict_to_proto
from agentcoord.v1 import mission_pb2

log = logging.getLogger(__name__)

PATH = "/hooks/github"
BRANCH_PREFIX = "agentcoord/"
MAX_BODY_BYTES = 25 * 1024 * 1024  # GitHub caps payloads at 25 MB


@dataclass(frozen=True)
class PullRequestVerdict:
    """A verdict GitHub gave on a task's pull request."""

    mission_id: str
    task_id: str
    verdict: ReviewVerdict
    reviewer: str
    reason: str
    review_id: str


ReviewSink = Callable[[PullRequestVerdict], Awaitable[bool]]
"""Records a verdict (MissionService.ReviewTask in production); True if it was new."""


def mission_service_sink(address: str) -> ReviewSink:
    """A ReviewSink calling MissionService.ReviewTask at `address` (which also restarts the mission)."""

    def call(verdict: PullRequestVerdict) -> bool:
        client = MissionClient(address)
        try:
            request = mission_pb2.ReviewTaskRequest(
                mission_id=verdict.mission_id, task_id=verdict.task_id, verdict=verdict_to_proto(verdict.verdict),
                reviewer=verdict.reviewer, reason=verdict.reason, review_id=verdict.review_id,
            )
            return client.review(request).recorded
        finally:
            client.close()

    async def review(verdict: PullRequestVerdict) -> bool:
        return await asyncio.to_thread(call, verdict)

    return review


def signature_matches(secret: bytes, body: bytes, header: str) -> bool:
    """True when `header` is GitHub's `sha256=<hex>` HMAC of `body` under `secret`."""
    expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), header.encode())


def task_of_branch(ref: str) -> tuple[str, str] | None:
    """(mission id, task id) of an `agentcoord/<mission>/<task>` branch, else None."""
    if not ref.startswith(BRANCH_PREFIX):
        return None
    parts = ref[len(BRANCH_PREFIX):].split("/")
    if len(parts) != 2 or not all(parts):
        return None
    return parts[0], parts[1]


def verdict_of_event(event: str, delivery: str, body: Mapping[str, Any]) -> PullRequestVerdict | None:
    """The verdict a `pull_request` or `pull_request_review` delivery carries, or None."""
    pull = body.get("pull_request")
    if not isinstance(pull, Mapping):
        return None
    task = task_of_branch(str((pull.get("head") or {}).get("ref", "")))
    if task is None:
        return None
    number = pull.get("number")
    action = body.get("action")
    if event == "pull_request" and action == "closed" and pull.get("merged"):
        login = (pull.get("merged_by") or body.get("sender") or {}).get("login", "unknown")
        verdict, reviewer, reason = ReviewVerdict.ACCEPTED, login, f"pull request #{number} merged"
    elif event == "pull_request" and action == "closed":
        login = (body.get("sender") or {}).get("login", "unknown")
        verdict, reviewer, reason = ReviewVerdict.REJECTED, login, f"pull request #{number} closed without merging"
    elif event == "pull_request_review" and action == "submitted":
        review = body.get("review") or {}
        if str(review.get("state", "")).lower() != "changes_requested":
            return None
        login = (review.get("user") or {}).get("login", "unknown")
        text = str(review.get("body") or "").strip()
        verdict, reviewer = ReviewVerdict.REJECTED, login
        reason = f"changes requested on pull request #{number}" + (f": {text}" if text else "")
    else:
        return None
    return PullRequestVerdict(
        mission_id=task[0], task_id=task[1], verdict=verdict, reviewer=f"github:{reviewer}", reason=reason,
        review_id=f"github-{delivery}",
    )


def add_github_routes(app: web.Application, *, secret: str, review: ReviewSink) -> None:
    """Serve POST /hooks/github on `app`, authenticated by the webhook `secret`."""
    if not secret:
        raise ValueError("the GitHub webhook needs a non-empty secret")
    key = secret.encode()

    async def deliver(request: web.Request) -> web.Response:
        body = await request.read()
        if not signature_matches(key, body, request.headers.get("X-Hub-Signature-256", "")):
            return web.json_response({"error": "missing or wrong X-Hub-Signature-256"}, status=401)
        event = request.headers.get("X-GitHub-Event", "")
        delivery = request.headers.get("X-GitHub-Delivery", "")
        if event == "ping":
            return web.json_response({"ok": "pong"})
        if not delivery:
            return web.json_response({"error": "missing X-GitHub-Delivery"}, status=400)
        try:
            payload = json.loads(body)
        except ValueError:
            return web.json_response({"error": "body must be JSON"}, status=400)
        verdict = verdict_of_event(event, delivery, payload) if isinstance(payload, dict) else None
        if verdict is None:
            return web.json_response({"ignored": f"{event or 'unnamed'} event carries no verdict on an agentcoord branch"},
                                     status=202)
        try:
            recorded = await review(verdict)
        except NotFoundError as exc:
            return web.json_response({"error": str(exc)}, status=404)
        except ConflictError as exc:
            return web.json_response({"error": str(exc)}, status=409)
        except InvalidInputError as exc:
            return web.json_response({"error": str(exc)}, status=422)
        log.info("pull request verdict %s", verdict.verdict.value,
                 extra={"mission_id": verdict.mission_id, "task_id": verdict.task_id})
        return web.json_response({"verdict": verdict.verdict.value, "task_id": verdict.task_id, "recorded": recorded})

    app.router.add_post(PATH, deliver)
