"""Usage ingest: CostService.RecordUsageStream vs plain executemany INSERT vs raw COPY, one run.

    python bench/bench_cost_ingest.py                      # 200k events (about a minute)
    python bench/bench_cost_ingest.py --events 1000000     # the issue's size

Uses DATABASE_URL, else an embedded PostgreSQL in a temp dir. Each method starts from an empty
usage_events table (but the replay) after a CHECKPOINT. The baselines only insert rows (psycopg, from this process). The gRPC server
runs in this process and validates, prices, COPYs with idempotency, writes bus events and checks
budgets, all in one transaction; its client is a separate process, like a remote agent, in two
modes measured one after the other:
  prebuilt  the client serialises every message first, then the clock runs while it streams
            them (what the server sustains)
  built     the client builds each message while streaming (client CPU on the same 2 cores)
Then the prebuilt stream is replayed unchanged (every key known: the staging + merge fall back).
One full-size stream before the measurements warms the server up (see main).
Prints events/s and ratios against raw COPY; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

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


def _client(port: int, n: int, per_message: int, prebuilt: bool, queue: Any) -> None:
    """Stream n events to the server at `port`; put (seconds, recorded) on `queue`."""
    options = [("grpc.max_send_message_length", 64 << 20)]
    with grpc.insecure_channel(f"127.0.0.1:{port}", options=options) as channel:
        if prebuilt:
            payloads = [request.SerializeToString() for request in requests(n, per_message)]
            call = channel.stream_unary(
                "/agentcoord.v1.CostService/RecordUsageStream",
                request_serializer=None,  # the payloads are serialised already
                response_deserializer=cost_pb2.RecordUsageStreamResponse.FromString,
            )
            began = time.perf_counter()
            response = call(iter(payloads), timeout=3600)
        else:
            stub = cost_pb2_grpc.CostServiceStub(channel)
            began = time.perf_counter()
            response = stub.RecordUsageStream(requests(n, per_message), timeout=3600)
        queue.put((time.perf_counter() - began, int(response.recorded)))


class CostServer:
    """CostService on 127.0.0.1 in a background thread's event loop of this process."""

    def __init__(self, url: str) -> None:
        self._loop = asyncio.new_event_loop()
        threading.Thread(target=self._loop.run_forever, daemon=True).start()
        config = Config.from_env({"DATABASE_URL": url, "AGENTCOORD_DATA_DIR": tempfile.mkdtemp()})
        self._db = self._run(Database.open(url))
        self._hosted = self._run(
            start_services(["cost"], ServiceContext(config, self._db), host="127.0.0.1", port=0)
        )
        self.port = self._hosted.port

    def _run(self, coro):  # type: ignore[no-untyped-def]
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def stream(self, n: int, per_message: int, *, prebuilt: bool) -> tuple[float, int]:
        """Seconds the client took to stream n events, and how many the server recorded."""
        ctx = multiprocessing.get_context("spawn")
        queue = ctx.Queue()
        client = ctx.Process(target=_client, args=(self.port, n, per_message, prebuilt, queue))
        client.start()
        seconds, recorded = queue.get()
        client.join()
        return seconds, recorded

    def stop(self) -> None:
        self._run(self._hosted.stop())
        self._run(self._db.close())
        self._loop.call_soon_threadsafe(self._loop.stop)


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
    recorded = {}
    server = CostServer(url)

    def timed(method: Callable[[], object]) -> float:
        began = time.perf_counter()
        method()
        return time.perf_counter() - began

    try:
        # The first stream a fresh server takes is much slower (about 1.7x here: the process
        # and its PostgreSQL backend grow their memory); warm up once, unmeasured.
        server.stream(args.events, args.per_message, prebuilt=True)
        for name, method in (
            ("executemany INSERT", lambda: timed(lambda: executemany(url, args.events))),
            ("COPY (raw)", lambda: timed(lambda: copy(url, args.events))),
            ("gRPC stream, prebuilt", lambda: server.stream(args.events, args.per_message, prebuilt=True)),
            ("gRPC replay, prebuilt", lambda: server.stream(args.events, args.per_message, prebuilt=True)),
            ("gRPC stream, built", lambda: server.stream(args.events, args.per_message, prebuilt=False)),
        ):
            with psycopg.connect(url, autocommit=True) as conn:
                if "replay" not in name:
                    conn.execute("TRUNCATE usage_events")
                conn.execute("CHECKPOINT")  # no method pays for an earlier one's dirty pages
            outcome = method()
            if isinstance(outcome, tuple):
                results[name], recorded[name] = outcome
            else:
                results[name] = outcome
            with psycopg.connect(url) as conn:
                stored = conn.execute("SELECT count(*) FROM usage_events").fetchone()[0]
            assert stored == args.events, (name, stored)
    finally:
        server.stop()
        if embedded is not None:
            embedded.stop()
    assert recorded["gRPC stream, prebuilt"] == recorded["gRPC stream, built"] == args.events
    assert recorded["gRPC replay, prebuilt"] == 0, recorded
    copy_rate = args.events / results["COPY (raw)"]
    print(f"{args.events:,} usage events, {args.per_message} per stream message")
    print(f"{'method':<24} {'seconds':>8} {'events/s':>10} {'vs COPY':>8}")
    for name, seconds in results.items():
        rate = args.events / seconds
        print(f"{name:<24} {seconds:8.2f} {rate:10,.0f} {rate / copy_rate:8.2f}x")
    print(f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}"
          f" on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
