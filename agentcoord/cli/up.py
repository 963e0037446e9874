"""`agentcoord up`: everything on this machine — database, Ray, services, dashboard — and a demo.

Ctrl-C stops it all cleanly; the next `up` finds the same data (embedded PostgreSQL lives in
the user's state dir unless DATABASE_URL is set).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import uuid
from importlib import resources
from pathlib import Path
from typing import Any

import ray
from aiohttp import web

from agentcoord.actors.policy_checker import PolicyChecker
from agentcoord.cli.mission import follow_mission, print_mission
from agentcoord.cli.output import say, table
from agentcoord.clients import MissionClient
from agentcoord.config import Config
from agentcoord.missions import load_mission_file
from agentcoord.money import format_usd as usd
from agentcoord.services.mission.convert import create_request, mission_state_from_proto
from agentcoord.services.webhooks import claude_hook, github
from agentcoord.services.webhooks.server import WebhookServer, serve_webhooks
from agentcoord.stack import (
    ALL_SERVICES,
    RunningServices,
    ensure_ray,
    resolve_database,
    start_services_stack,
)
from agentcoord.states import MissionState


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    up = subparsers.add_parser("up", help="start database, Ray, gRPC services and dashboard; run the demo mission")
    up.add_argument("--no-demo", action="store_true", help="do not run the demo mission")
    up.add_argument("--mission", type=Path, help="run this mission file instead of the bundled demo")
    up.add_argument("--exit-after-demo", action="store_true", help="stop once the demo mission has finished")
    up.set_defaults(handler=run_up)


def run_up(args: argparse.Namespace, config: Config) -> int:
    demo = None if args.no_demo else load_mission_file(args.mission or _bundled_demo())
    config, embedded = resolve_database(config)
    say("database:  " + (f"embedded PostgreSQL in {config.database.data_dir}" if embedded else "DATABASE_URL"))
    ensure_ray(config, quiet=True)
    say("ray:       " + (f"joined {config.ray_address}" if config.ray_address else "local cluster started"))
    try:
        return asyncio.run(_up(config, demo_spec=demo, exit_after_demo=args.exit_after_demo))
    finally:
        ray.shutdown()
        if embedded is not None:
            embedded.stop()


async def _up(config: Config, *, demo_spec: Any, exit_after_demo: bool) -> int:
    from agentcoord.dashboard.app import (
        serve_dashboard,  # panel is slow to import; only `up` needs it
    )

    running = await start_services_stack(config, ALL_SERVICES, port=config.grpc_port)
    dashboard = serve_dashboard(running.config, port=config.dashboard_port, address="127.0.0.1")
    hooks = await _start_webhooks(running)
    say(f"services:  gRPC {running.address} (MissionService, RoutingService, CostService, AuditService)")
    say(f"dashboard: http://127.0.0.1:{dashboard.port}/")
    say(f"claude hook: {hooks.url(claude_hook.PATH)}" if hooks and config.hook_token
        else "claude hook: off (set AGENTCOORD_HOOK_TOKEN to serve it)")
    say(f"github webhook: {hooks.url(github.PATH)}" if hooks and config.github_webhook_secret
        else "github webhook: off (set AGENTCOORD_GITHUB_WEBHOOK_SECRET to serve it)")
    outcome = 0
    try:
        if demo_spec is not None:
            outcome = await asyncio.to_thread(_run_demo, running, demo_spec)
        _print_hints(running)
        if not exit_after_demo:
            say("running; Ctrl-C stops everything")
            await _wait_for_signal()
    finally:
        if hooks is not None:
            await hooks.stop()
        dashboard.stop()
        await running.stop()
    return outcome


async def _start_webhooks(running: RunningServices) -> WebhookServer | None:
    """Serve the webhook endpoints whose secrets are configured, on the hook port; None if none are."""
    config = running.config
    if not (config.hook_token or config.github_webhook_secret):
        return None
    app = web.Application(client_max_size=github.MAX_BODY_BYTES)
    if config.hook_token:
        claude_hook.add_claude_hook_routes(app, PolicyChecker(config), token=config.hook_token, db=running.db)
    if config.github_webhook_secret:
        github.add_github_routes(
            app, secret=config.github_webhook_secret, review=github.mission_service_sink(running.address)
        )
    return await serve_webhooks(app, host="127.0.0.1", port=config.hook_port)


def _run_demo(running: RunningServices, spec: Any) -> int:
    """Create the demo mission through MissionService, follow it, and show where the money went."""
    client = MissionClient(running.address)
    try:
        mission = client.create(create_request(spec, request_id=f"demo-{uuid.uuid4()}")).mission
        say(f"\ndemo mission {mission.mission_id} ({mission.name}): {mission.goal}")
        mission = follow_mission(client, mission.mission_id, timeout_s=300)
        print_mission(mission)
    finally:
        client.close()
    by_agent: dict[str, int] = {}
    for task in mission.tasks:
        if task.agent:
            by_agent[task.agent] = by_agent.get(task.agent, 0) + task.cost_micro_usd
    say("\nspend by agent:")
    say(table(("AGENT", "COST"), [(agent, usd(cost)) for agent, cost in sorted(by_agent.items())]))
    return 0 if mission_state_from_proto(mission.state) is MissionState.COMPLETED else 1


def _print_hints(running: RunningServices) -> None:
    say("\nnext:")
    say("  agentcoord mission create examples/missions/hello.yaml --wait")
    say("  agentcoord mission list")
    say("  agentcoord review list")
    say("  agentcoord report --period last-7d --by agent,mission")
    say("  agentcoord audit verify")


async def _wait_for_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


def _bundled_demo() -> Path:
    return Path(str(resources.files("agentcoord") / "defaults" / "demo_mission.yaml"))
