"""`agentcoord mission create|list|show|watch|cancel`: talk to MissionService."""

from __future__ import annotations

import argparse
import json
import uuid
from pathlib import Path

from agentcoord.cli.output import say, shorten, table
from agentcoord.clients import MissionClient
from agentcoord.config import Config
from agentcoord.missions import load_mission_file
from agentcoord.money import format_usd as usd
from agentcoord.services.mission.convert import (
    create_request,
    mission_state_from_proto,
    mission_state_to_proto,
    task_state_from_proto,
)
from agentcoord.states import MissionState
from agentcoord.v1 import mission_pb2


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    mission = subparsers.add_parser("mission", help="create, list and inspect missions (needs `agentcoord up`)")
    verbs = mission.add_subparsers(dest="verb", required=True)
    create = verbs.add_parser("create", help="validate a mission YAML file and start it")
    create.add_argument("file", type=Path, help="mission file: name, goal, tasks (id, description, capabilities, depends_on, action)")
    create.add_argument("--wait", action="store_true", help="follow the mission until it ends; exit 1 if it fails")
    create.add_argument("--request-id", default="", help="idempotency key: retrying with it never creates a second mission")
    create.add_argument("--timeout", type=float, default=600.0, help="seconds --wait waits at most (default 600)")
    create.add_argument(
        "--allow-over-budget", action="store_true",
        help="start even if the cost forecast (P90 of similar past tasks) exceeds the mission's budget_usd",
    )
    create.set_defaults(handler=create_mission)
    listing = verbs.add_parser("list", help="missions, newest first")
    listing.add_argument("--state", choices=[s.value for s in MissionState], help="only missions in this state")
    listing.add_argument("--limit", type=int, default=20, help="how many (default 20, at most 200)")
    listing.set_defaults(handler=list_missions)
    show = verbs.add_parser("show", help="one mission with its tasks, agents and costs")
    show.add_argument("mission_id")
    show.set_defaults(handler=show_mission)
    watch = verbs.add_parser("watch", help="stream a mission's events until it ends; resumable with --from-seq")
    watch.add_argument("mission_id")
    watch.add_argument("--from-seq", type=int, default=0, help="print only events after this seq (default: all)")
    watch.set_defaults(handler=watch_mission)
    cancel = verbs.add_parser("cancel", help="cancel a mission: running attempts stop, the reason is recorded")
    cancel.add_argument("mission_id")
    cancel.add_argument("--reason", default="", help="why (recorded in the mission and the audit log)")
    cancel.set_defaults(handler=cancel_mission)


def create_mission(args: argparse.Namespace, config: Config) -> int:
    spec = load_mission_file(args.file)  # bad files stop here: exit 2, nothing sent
    client = MissionClient(config.addresses.mission)
    try:
        response = client.create(
            create_request(spec, request_id=args.request_id or str(uuid.uuid4()), allow_over_budget=args.allow_over_budget)
        )
        mission = response.mission
        say(f"mission {mission.mission_id} {'created' if response.created else 'already existed'}: {mission.name}")
        if not args.wait:
            return 0
        mission = follow_mission(client, mission.mission_id, timeout_s=args.timeout)
    finally:
        client.close()
    print_mission(mission)
    state = mission_state_from_proto(mission.state)
    if state is MissionState.AWAITING_REVIEW:
        say("results wait for review: `agentcoord review list`, then `agentcoord review accept|reject`")
    return 0 if state in (MissionState.COMPLETED, MissionState.AWAITING_REVIEW) else 1


def list_missions(args: argparse.Namespace, config: Config) -> int:
    state = (
        mission_pb2.MISSION_STATE_UNSPECIFIED if args.state is None else mission_state_to_proto(MissionState(args.state))
    )
    client = MissionClient(config.addresses.mission)
    try:
        missions = client.list(page_size=args.limit, state=state).missions
    finally:
        client.close()
    rows = [
        (m.mission_id, m.name, _state(m), f"{sum(t.state in _DONE for t in m.tasks)}/{len(m.tasks)}",
         usd(sum(t.cost_micro_usd for t in m.tasks)), m.created_at.ToDatetime().strftime("%Y-%m-%d %H:%M:%S"))
        for m in missions
    ]
    say(table(("MISSION", "NAME", "STATE", "TASKS DONE", "COST", "CREATED (UTC)"), rows))
    return 0


def show_mission(args: argparse.Namespace, config: Config) -> int:
    client = MissionClient(config.addresses.mission)
    try:
        mission = client.get(args.mission_id)
    finally:
        client.close()
    print_mission(mission)
    return 0


def follow_mission(client: MissionClient, mission_id: str, *, timeout_s: float) -> mission_pb2.Mission:
    """Print the mission's task transitions until it ends or waits for reviews; return it."""
    for update in client.watch(mission_id, timeout_s=timeout_s):
        line = describe_event(update.event)
        if line:
            say(line)
        if update.mission_state == mission_pb2.MISSION_STATE_AWAITING_REVIEW:
            mission = client.get(mission_id)
            if mission.state == mission_pb2.MISSION_STATE_AWAITING_REVIEW:
                return mission  # nothing happens until someone reviews
    return client.get(mission_id)


def watch_mission(args: argparse.Namespace, config: Config) -> int:
    client = MissionClient(config.addresses.mission)
    try:
        for update in client.watch(args.mission_id, from_seq=args.from_seq):
            event = update.event
            say(f"{event.seq:>8}  {event.created_at.ToDatetime():%H:%M:%S}  {describe_event(event) or event.topic}")
        mission = client.get(args.mission_id)
    finally:
        client.close()
    say(f"mission {_state(mission)}" + (f": {mission.reason}" if mission.reason else ""))
    return 0


def cancel_mission(args: argparse.Namespace, config: Config) -> int:
    client = MissionClient(config.addresses.mission)
    try:
        mission = client.cancel(args.mission_id, reason=args.reason)
    finally:
        client.close()
    say(f"mission {mission.mission_id} {_state(mission)}: {mission.reason}")
    return 0


def describe_event(event: mission_pb2.MissionEvent) -> str:
    """One line for a person, or '' for events only machines care about."""
    payload = json.loads(event.payload_json or "{}")
    if event.topic == "task.state":
        agent = f" on {payload['agent']}" if payload.get("agent") else ""
        reason = f" ({shorten(payload['reason'])})" if payload.get("reason") and payload["to"] != "succeeded" else ""
        return f"  {event.task_id}: {payload['from']} -> {payload['to']}{agent}{reason}"
    if event.topic == "mission.state":
        return f"  mission: {payload['from']} -> {payload['to']}"
    if event.topic == "task.reviewed":
        reason = f": {shorten(payload['reason'])}" if payload.get("reason") else ""
        return f"  {event.task_id}: {payload['verdict']} by {payload['reviewer']}{reason}"
    if event.topic == "task.deferred":
        return f"  {event.task_id}: waits for {payload['blocked_by']} (same paths)"
    if event.topic == "mission.planned":
        return f"  planned {len(payload.get('tasks', []))} tasks"
    return ""


def print_mission(mission: mission_pb2.Mission) -> None:
    say(f"mission {mission.mission_id}: {mission.name}")
    say(f"  goal:   {mission.goal}")
    say(f"  state:  {_state(mission)}" + (f" ({mission.reason})" if mission.reason else ""))
    forecast = (
        f" (forecast P50 {usd(mission.forecast_p50_micro_usd)}, P90 {usd(mission.forecast_p90_micro_usd)})"
        if mission.forecast_p90_micro_usd else ""
    )
    budget = f"; budget {usd(mission.settings.budget_micro_usd)}" if mission.settings.budget_micro_usd else ""
    say(f"  cost:   {usd(sum(t.cost_micro_usd for t in mission.tasks))}{forecast}{budget}")
    rows = [
        (t.spec.id, task_state_from_proto(t.state).value, t.agent or "-", str(t.attempts), usd(t.cost_micro_usd),
         shorten(t.reason, 70))
        for t in mission.tasks
    ]
    say(table(("TASK", "STATE", "AGENT", "ATTEMPTS", "COST", "REASON"), rows))



def _state(mission: mission_pb2.Mission) -> str:
    state = mission_state_from_proto(mission.state)
    return state.value if state else "unspecified"


_DONE = {mission_pb2.TASK_STATE_SUCCEEDED, mission_pb2.TASK_STATE_ACCEPTED}
