"""Cost reports as a Ray job: one Ray task per format writes the report files.

Submit to a cluster with the Ray job server:

    ray job submit --working-dir . -- python -m agentcoord.jobs.cost_report \\
        --period last-week --by agent,mission --formats html,csv,parquet --output-dir reports/

DATABASE_URL (read through Config) says which PostgreSQL to report on; RAY_ADDRESS which Ray
to join (unset: a local Ray). Files are named `cost-<period>-<by>.<ext>`.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import ray

from agentcoord.config import Config
from agentcoord.errors import InvalidInputError
from agentcoord.report_formats import FORMATS, check_format, cost_report
from agentcoord.reports import PERIOD_FORMS, Period, parse_dimensions, parse_period

log = logging.getLogger(__name__)

EXTENSIONS = {"table": "txt", "csv": "csv", "parquet": "parquet", "markdown": "md", "html": "html"}


@ray.remote(num_cpus=1, max_retries=2)
def render_one(database_url: str, period: Period, by: tuple[str, ...], fmt: str, now: datetime) -> bytes:
    """One report file's bytes (a Ray task: retried when its worker dies)."""
    return cost_report(database_url, period=period, by=by, fmt=fmt, now=now)


def write_reports(
    database_url: str, *, period: Period, by: Sequence[str], formats: Sequence[str],
    output_dir: Path, now: datetime, stem: str,
) -> list[Path]:
    """Render every format as a Ray task in parallel and write the files; return their paths."""
    refs = {fmt: render_one.remote(database_url, period, tuple(by), fmt, now) for fmt in formats}
    output_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt, ref in refs.items():
        path = output_dir / f"{stem}.{EXTENSIONS[fmt]}"
        path.write_bytes(ray.get(ref))
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None, *, config: Config | None = None) -> int:
    """Entry point of `python -m agentcoord.jobs.cost_report`; exit 0, or 2 on bad input."""
    parser = argparse.ArgumentParser(prog="agentcoord.jobs.cost_report", description=__doc__)
    parser.add_argument("--period", default="last-week", help=f"one of: {', '.join(PERIOD_FORMS)}")
    parser.add_argument("--by", default="agent,mission")
    parser.add_argument("--formats", default="html,csv", help=f"comma-separated: {', '.join(FORMATS)}")
    parser.add_argument("--output-dir", type=Path, default=Path("reports"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    config = config or Config.from_env()
    now = datetime.now(UTC)
    try:
        period = parse_period(args.period, now=now)
        by = parse_dimensions(args.by)
        formats = [check_format(f, output=args.output_dir) for f in args.formats.split(",") if f.strip()]
        if not formats:
            raise InvalidInputError("choose at least one format", field="formats")
        if not config.database.url:
            raise InvalidInputError("set DATABASE_URL to the database to report on", field="DATABASE_URL")
    except InvalidInputError as exc:
        log.error("%s", exc)
        return 2
    started_ray = not ray.is_initialized()
    if started_ray:
        ray.init(address=config.ray_address, include_dashboard=False)
    try:
        stem = f"cost-{args.period.strip().lower()}-{'-'.join(by)}"
        paths = write_reports(config.database.url, period=period, by=by, formats=formats,
                              output_dir=args.output_dir, now=now, stem=stem)
    finally:
        if started_ray:
            ray.shutdown()
    for path in paths:
        log.info("wrote %s", path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
