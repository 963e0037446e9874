"""`agentcoord mission create|list|show`: talk to MissionService."""

from __future__ import annotations

import argparse
import time
import uuid
from pathlib import Path

from agentcoord.cli.output import say, table
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

POLL_INTERVAL_S = 0.5


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    mission = subparsers.add_parser("mission", help="create, list and inspect missions (needs `agentcoord up`)")
    verbs = mission.add_subparsers(dest="verb", required=True)
    create = verbs.add_parser("create", help="validate a mission YAML file and start it")
    create.add_argument("file", type=Path, help="mission file: name, goal, tasks (id, description, capabilities, depends_on, action)")
    create.add_argument("--wait", action="store_true", help="follow the mission until it ends; exit 1 if it fails")
    create.add_argument("--request-id", default="", help="idempotency key: retrying with it never creates a second mission")
    create.add_argument("--timeout", type=float, default=600.0, help="seconds --wait waits at most (default 600)")
    create.set_defaults(handler=create_mission)
    listing = verbs.add_parser("list", help="missions, newest first")
    listing.add_argument("--state", choices=[s.value for s in MissionState], help="only missions in this state")
    listing.add_argument("--limit", type=int, default=20, help="how many (default 20, at most 200)")
    listing.set_defaults(handler=list_missions)
    show = verbs.add_parser("show", help="one mission with its tasks, agents and costs")
    show.add_argument("mission_id")
    show.set_defaults(handler=show_mission)


def create_mission(args: argparse.Namespace, config: Config) -> int:
    spec = load_mission_file(args.file)  # bad files stop here: exit 2, nothing sent
    client = MissionClient(config.addresses.mission)
    try:
        response = client.create(create_request(spec, request_id=args.request_id or str(uuid.uuid4())))
        mission = response.mission
        say(f"mission {mission.mission_id} {'created' if response.created else 'already existed'}: {mission.name}")
        if not args.wait:
            return 0
        mission = follow_mission(client, mission.mission_id, timeout_s=args.timeout)
    finally:
        client.close()
    print_mission(mission)
    return 0 if mission_state_from_proto(mission.state) is MissionState.COMPLETED else 1


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
    """Poll the mission, printing each task transition once, until it reaches a terminal state."""
    deadline = time.monotonic() + timeout_s
    seen: dict[str, int] = {}
    while True:
        mission = client.get(mission_id)
        for task in mission.tasks:
            if seen.get(task.spec.id) != task.state:
                seen[task.spec.id] = task.state
                agent = f" on {task.agent}" if task.agent else ""
                say(f"  {task.spec.id}: {task_state_from_proto(task.state).value}{agent}")
        state = mission_state_from_proto(mission.state)
        if state is not None and state.is_terminal:
            return mission
        if time.monotonic() > deadline:
            say(f"still {state.value if state else 'unknown'} after {timeout_s:.0f}s; see `agentcoord mission show {mission_id}`")
            return mission
        time.sleep(POLL_INTERVAL_S)


def print_mission(mission: mission_pb2.Mission) -> None:
    say(f"mission {mission.mission_id}: {mission.name}")
    say(f"  goal:   {mission.goal}")
    say(f"  state:  {_state(mission)}" + (f" ({mission.reason})" if mission.reason else ""))
    say(f"  cost:   {usd(sum(t.cost_micro_usd for t in mission.tasks))}")
    rows = [
        (t.spec.id, task_state_from_proto(t.state).value, t.agent or "-", str(t.attempts), usd(t.cost_micro_usd),
         t.reason[:70])
        for t in mission.tasks
    ]
    say(table(("TASK", "STATE", "AGENT", "ATTEMPTS", "COST", "REASON"), rows))


def _state(mission: mission_pb2.Mission) -> str:
    state = mission_state_from_proto(mission.state)
    return state.value if state else "unspecified"


_DONE = {mission_pb2.TASK_STATE_SUCCEEDED, mission_pb2.TASK_STATE_ACCEPTED}
