"""`agentcoord review list|accept|reject`: the review queue and verdicts, through MissionService."""

from __future__ import annotations

import argparse
import getpass
import uuid

from agentcoord.cli.output import say, shorten, table
from agentcoord.clients import MissionClient
from agentcoord.config import Config
from agentcoord.money import format_usd as usd
from agentcoord.reviews import ReviewVerdict
from agentcoord.services.mission.convert import (
    mission_state_from_proto,
    task_state_from_proto,
    verdict_to_proto,
)
from agentcoord.v1 import mission_pb2


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    review = subparsers.add_parser(
        "review", help="review results waiting for a verdict: accepted, or rejected and reworked (needs `agentcoord up`)"
    )
    verbs = review.add_subparsers(dest="verb", required=True)
    listing = verbs.add_parser("list", help="tasks whose results wait for review, longest waiting first")
    listing.add_argument("--limit", type=int, default=50, help="how many (default 50, at most 200)")
    listing.set_defaults(handler=list_queue)
    for verdict, text in (
        (ReviewVerdict.ACCEPTED, "accept a task's result: the task counts as done"),
        (ReviewVerdict.REJECTED,
         ("reject a task's result: it is reworked by a newly routed attempt while attempts remain, else the task"
          " ends rejected; the agent's acceptance for the task's capabilities drops")),
    ):
        verb = verbs.add_parser("accept" if verdict is ReviewVerdict.ACCEPTED else "reject", help=text)
        verb.add_argument("mission_id")
        verb.add_argument("task_id")
        verb.add_argument(
            "--reason", default="", required=verdict is ReviewVerdict.REJECTED,
            help="why (required to reject: the rework starts from it; recorded in the audit log)",
        )
        verb.add_argument("--reviewer", default="", help="who reviewed (default: the current user)")
        verb.add_argument("--review-id", default="", help="idempotency key: retrying with it records one review")
        verb.set_defaults(handler=review_task, verdict=verdict)


def list_queue(args: argparse.Namespace, config: Config) -> int:
    client = MissionClient(config.addresses.mission)
    try:
        items = client.review_queue(limit=args.limit).items
    finally:
        client.close()
    rows = [
        (i.mission_id, i.mission_name, i.task.spec.id, i.task.agent, usd(i.task.cost_micro_usd),
         i.waiting_since.ToDatetime().strftime("%Y-%m-%d %H:%M:%S"), shorten(i.summary, 60))
        for i in items
    ]
    say(table(("MISSION", "NAME", "TASK", "AGENT", "COST", "WAITING SINCE (UTC)", "RESULT"), rows))
    return 0


def review_task(args: argparse.Namespace, config: Config) -> int:
    request = mission_pb2.ReviewTaskRequest(
        mission_id=args.mission_id, task_id=args.task_id, verdict=verdict_to_proto(args.verdict),
        reviewer=args.reviewer or getpass.getuser(), reason=args.reason, review_id=args.review_id or str(uuid.uuid4()),
    )
    client = MissionClient(config.addresses.mission)
    try:
        response = client.review(request)
    finally:
        client.close()
    task = next(t for t in response.mission.tasks if t.spec.id == args.task_id)
    state = mission_state_from_proto(response.mission.state)
    say(
        f"{args.task_id} {args.verdict.value} by {response.review.reviewer}"
        f"{'' if response.recorded else ' (already recorded)'}: task {task_state_from_proto(task.state).value},"
        f" mission {state.value if state else 'unspecified'}"
    )
    return 0

