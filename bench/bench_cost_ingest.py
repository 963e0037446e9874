"""Usage ingest: CostService.RecordUsageStream vs plain executemany INSERT vs raw COPY, one run.

    python bench/bench_cost_ingest.py                      # 200k events (about a minute)
    python bench/bench_cost_ingest.py --events 1000000     # the issue's size

Uses DATABASE_URL, else an embedded PostgreSQL in a temp dir. Each method starts from an empty
usage_events table. The gRPC path validates, prices, stages by COPY and merges with idempotency
and bus events, all in one transaction; the baselines only insert rows. Prints events/s and
ratios against raw COPY; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import psycopg
from google.protobuf.timestamp_pb2 import Timestamp

from agentcoord.config import Config
from agentcoord.services.context import ServiceContext
from agentcoord.services.host import start_services
from agentcoord.store import Database, migrate, start_embedded_postgres
from agentcoord.v1 import cost_pb2, cost_pb2_grpc

log = logging.getLogger("bench_cost_ingest")
ENDED = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
COLUMNS = ("idempotency_key", "mission_id", "task_id", "agent", "model", "input_tokens",
           "output_tokens", "cost_micro_usd", "started_at", "ended_at")


def rows(n: int, prefix: str) -> Iterator[tuple[object, ...]]:
    for i in range(n):
        yield (f"{prefix}-{i}", f"m-{i % 50}", f"t-{i % 400}", "sim-fast", "sim-small",
               1000 + i % 997, 200 + i % 89, 1_600, ENDED - timedelta(seconds=30), ENDED)


def executemany(url: str, n: int) -> None:
    placeholders = ", ".join(["%s"] * len(COLUMNS))
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        cur.executemany(
            f"INSERT INTO usage_events ({', '.join(COLUMNS)}) VALUES ({placeholders})"
            " ON CONFLICT (idempotency_key) DO NOTHING",
            rows(n, "em"),
        )


def copy(url: str, n: int) -> None:
    query = f"COPY usage_events ({', '.join(COLUMNS)}) FROM STDIN"
    with psycopg.connect(url) as conn, conn.cursor() as cur, cur.copy(query) as cp:
        for row in rows(n, "cp"):
            cp.write_row(row)


def requests(n: int, per_message: int) -> Iterator[cost_pb2.RecordUsageStreamRequest]:
    started, ended = Timestamp(), Timestamp()
    started.FromDatetime(ENDED - timedelta(seconds=30))
    ended.FromDatetime(ENDED)
    for start in range(0, n, per_message):
        yield cost_pb2.RecordUsageStreamRequest(events=[
            cost_pb2.UsageEvent(
                idempotency_key=f"gr-{i}", mission_id=f"m-{i % 50}", task_id=f"t-{i % 400}",
                agent="sim-fast", input_tokens=1000 + i % 997, output_tokens=200 + i % 89,
                started_at=started, ended_at=ended,
            )
            for i in range(start, min(n, start + per_message))
        ])


def grpc_stream(url: str, n: int, per_message: int) -> int:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def run(coro):  # type: ignore[no-untyped-def]
        return asyncio.run_coroutine_threadsafe(coro, loop).result()

    config = Config.from_env({"DATABASE_URL": url, "AGENTCOORD_DATA_DIR": tempfile.mkdtemp()})
    db = run(Database.open(url))
    hosted = run(start_services(["cost"], ServiceContext(config, db), host="127.0.0.1", port=0))
    try:
        options = [("grpc.max_send_message_length", 64 << 20)]
        with grpc.insecure_channel(f"127.0.0.1:{hosted.port}", options=options) as channel:
            response = cost_pb2_grpc.CostServiceStub(channel).RecordUsageStream(
                requests(n, per_message), timeout=3600
            )
        return int(response.recorded)
    finally:
        run(hosted.stop())
        run(db.close())
        loop.call_soon_threadsafe(loop.stop)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--per-message", type=int, default=1_000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    url = os.environ.get("DATABASE_URL")
    embedded = None
    if not url:
        embedded = start_embedded_postgres(Path(tempfile.mkdtemp()) / "pg")
        url = embedded.url
    migrate(url)
    results = {}
    try:
        for name, method in (("executemany INSERT", lambda: executemany(url, args.events)),
                             ("COPY (raw)", lambda: copy(url, args.events)),
                             ("gRPC RecordUsageStream", lambda: grpc_stream(url, args.events, args.per_message))):
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("TRUNCATE usage_events")
            began = time.perf_counter()
            method()
            results[name] = time.perf_counter() - began
            with psycopg.connect(url) as conn:
                stored = conn.execute("SELECT count(*) FROM usage_events").fetchone()[0]
            assert stored == args.events, (name, stored)
    finally:
        if embedded is not None:
            embedded.stop()
    copy_rate = args.events / results["COPY (raw)"]
    print(f"{args.events:,} usage events, {args.per_message} per stream message")
    print(f"{'method':<24} {'seconds':>8} {'events/s':>10} {'vs COPY':>8}")
    for name, seconds in results.items():
        rate = args.events / seconds
        print(f"{name:<24} {seconds:8.2f} {rate:10,.0f} {rate / copy_rate:8.2f}x")


if __name__ == "__main__":
    main()
