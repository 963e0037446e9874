"""`agentcoord serve NAME...`: host some services alone (for scale-out behind a load balancer)."""

from __future__ import annotations

import argparse
import asyncio
import signal

from agentcoord.cli.output import say
from agentcoord.config import Config
from agentcoord.stack import ALL_SERVICES, ensure_ray, resolve_database, start_services_stack


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    serve = subparsers.add_parser("serve", help="run gRPC services without the rest (Ctrl-C stops)")
    serve.add_argument("services", nargs="+", choices=ALL_SERVICES, help="which services to host on one port")
    serve.add_argument("--port", type=int, default=None, help="port (default AGENTCOORD_GRPC_PORT or 50051; 0 = any)")
    serve.set_defaults(handler=run_serve)


def run_serve(args: argparse.Namespace, config: Config) -> int:
    config, embedded = resolve_database(config)
    if "mission" in args.services:
        ensure_ray(config, quiet=True)
    try:
        asyncio.run(_serve(config, args.services, port=config.grpc_port if args.port is None else args.port))
    finally:
        if embedded is not None:
            embedded.stop()
    return 0


async def _serve(config: Config, names: list[str], *, port: int) -> None:
    running = await start_services_stack(config, names, port=port)
    say(f"serving {', '.join(names)} on {running.address} (health and reflection on); Ctrl-C stops")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await running.stop()
