"""`agentcoord`: the command line.

Exit codes: 0 success; 1 a negative answer (mission failed, audit log tampered);
2 bad input or usage (the message names the file, field and value); 3 a service or the
database could not be reached; `audit verify` adds 4, 5 and 6 for checkpoint problems.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from agentcoord.cli import agents, audit, budget, mission, report, review, serve, up
from agentcoord.cli.output import warn
from agentcoord.config import Config
from agentcoord.errors import (
    AgentCoordError,
    InvalidInputError,
    ServiceUnavailableError,
    StoreError,
)

EXIT_OK, EXIT_NEGATIVE, EXIT_BAD_INPUT, EXIT_UNAVAILABLE = 0, 1, 2, 3


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agentcoord",
        description="AgentCoordinator: missions, routing, cost, policy and audit for AI coding agents.",
        epilog="Exit codes: 0 success, 1 negative answer (mission failed, audit tampered), "
        "2 bad input, 3 service or database unreachable; audit verify adds 4 bad checkpoint signature, "
        "5 root mismatch, 6 truncation or rollback. Configuration comes from the environment: "
        "DATABASE_URL, RAY_ADDRESS, AGENTCOORD_* (see README).",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level to stderr")
    commands = parser.add_subparsers(dest="command", required=True)
    up.add_parser(commands)
    serve.add_parser(commands)
    mission.add_parser(commands)
    review.add_parser(commands)
    agents.add_parser(commands)
    report.add_parser(commands)
    budget.add_parser(commands)
    audit.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        config = Config.from_env()
        return int(args.handler(args, config))
    except InvalidInputError as exc:
        warn(f"error: {exc}")
        return EXIT_BAD_INPUT
    except (ServiceUnavailableError, StoreError) as exc:
        warn(f"error: {exc}")
        return EXIT_UNAVAILABLE
    except AgentCoordError as exc:
        warn(f"error: {exc}")
        return EXIT_NEGATIVE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
