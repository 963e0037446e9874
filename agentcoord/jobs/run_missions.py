"""Ray job: run mission files to completion on whatever cluster RAY_ADDRESS names.

    ray job submit --working-dir . -- python -m agentcoord.jobs.run_missions examples/missions/hello.yaml

It uses the gRPC services at AGENTCOORD_GRPC_ADDR when they answer, and otherwise hosts them
itself for the job's lifetime, so a job needs only DATABASE_URL (and the cluster) to run.
Exit code 0 when every mission completed, 1 when any did not, 2 for a bad mission file.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from agentcoord.cli.mission import follow_mission, print_mission
from agentcoord.cli.output import say, warn
from agentcoord.clients import MissionClient
from agentcoord.config import Config
from agentcoord.errors import AgentCoordError, InvalidInputError
from agentcoord.missions import MissionSpec, load_mission_file
from agentcoord.services.mission.convert import create_request, mission_state_from_proto
from agentcoord.stack import ALL_SERVICES, ensure_ray, resolve_database, start_services_stack
from agentcoord.states import MissionState


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m agentcoord.jobs.run_missions", description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="+", type=Path, help="mission YAML files")
    parser.add_argument("--allow-over-budget", action="store_true", help="run missions whose forecast exceeds budget")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait per mission (default 3600)")
    args = parser.parse_args(argv)
    try:
        specs = [load_mission_file(path) for path in args.files]
    except InvalidInputError as exc:
        warn(f"error: {exc}")
        return 2
    config, embedded = resolve_database(Config.from_env())
    ensure_ray(config, quiet=True)
    try:
        return asyncio.run(_run(config, specs, allow_over_budget=args.allow_over_budget, timeout_s=args.timeout))
    except AgentCoordError as exc:
        warn(f"error: {exc}")
        return 1
    finally:
        if embedded is not None:
            embedded.stop()


async def _run(config: Config, specs: list[MissionSpec], *, allow_over_budget: bool, timeout_s: float) -> int:
    hosted = None
    address = config.addresses.mission
    if not await _serving(address):
        hosted = await start_services_stack(config, ALL_SERVICES, port=0)
        address = hosted.address
        say(f"no services at {config.addresses.mission}; hosting them for this job on {address}")
    try:
        outcomes = await asyncio.gather(
            *(asyncio.to_thread(_run_one, address, spec, allow_over_budget, timeout_s) for spec in specs)
        )
    finally:
        if hosted is not None:
            await hosted.stop()
    return 0 if all(outcomes) else 1


def _run_one(address: str, spec: MissionSpec, allow_over_budget: bool, timeout_s: float) -> bool:
    client = MissionClient(address)
    try:
        request = create_request(spec, request_id=str(uuid.uuid4()), allow_over_budget=allow_over_budget)
        mission = client.create(request).mission
        say(f"mission {mission.mission_id} ({spec.name}) started")
        mission = follow_mission(client, mission.mission_id, timeout_s=timeout_s)
    finally:
        client.close()
    print_mission(mission)
    return mission_state_from_proto(mission.state) is MissionState.COMPLETED


async def _serving(address: str) -> bool:
    """True when a gRPC server with our MissionService answers health checks at `address`."""
    async with grpc.aio.insecure_channel(address) as channel:
        try:
            response = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service="agentcoord.v1.MissionService"), timeout=2.0
            )
        except grpc.RpcError:
            return False
    return bool(response.status == health_pb2.HealthCheckResponse.SERVING)


if __name__ == "__main__":
    sys.exit(main())
