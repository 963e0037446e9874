"""Coalescing concurrent calls into one: a round of task starts makes one policy call, not one per task.

`SingleFlight` is the keyed variant: concurrent callers of the same key share one run.

A Mission starts a round of ready tasks concurrently; each asks the PolicyChecker and the
AgentPool on its own, as if alone. `Coalescer` collects the requests made in the same turn of
the event loop and sends them as one batch (one Ray actor call), then hands each caller its own
answer, so callers keep a one-request interface and the actors see one call per round.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Generic, TypeVar

Request = TypeVar("Request")
Result = TypeVar("Result")
Key = TypeVar("Key", bound=Hashable)


class SingleFlight(Generic[Key, Result]):
    """`await flights(key, run)`: callers of a key while its run is under way share that run;
    a call after it ended runs again. The run is shielded: one caller cancelled stops nobody else.
    """

    def __init__(self) -> None:
        self._running: dict[Key, asyncio.Future[Result]] = {}

    async def __call__(self, key: Key, run: Callable[[], Awaitable[Result]]) -> Result:
        flight = self._running.get(key)
        if flight is None:
            flight = asyncio.ensure_future(run())
            self._running[key] = flight
            flight.add_done_callback(lambda _: self._running.pop(key, None))
        return await asyncio.shield(flight)


class Coalescer(Generic[Request, Result]):
    """`await coalescer(request)`; requests of one event-loop turn go out as one `send(requests)`.

    `send` returns one result per request; a result that is an exception is raised to its
    caller alone, and an exception `send` raises goes to every caller of the batch.
    """

    def __init__(self, send: Callable[[list[Request]], Awaitable[Sequence[Result | Exception]]]) -> None:
        self._send = send
        self._pending: list[tuple[Request, asyncio.Future[Result]]] = []
        self._flushes: set[asyncio.Task[None]] = set()

    async def __call__(self, request: Request) -> Result:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        self._pending.append((request, future))
        if len(self._pending) == 1:
            loop.call_soon(self._flush)  # after every caller already scheduled in this turn has queued
        return await future

    def _flush(self) -> None:
        batch, self._pending = self._pending, []
        task = asyncio.ensure_future(self._deliver(batch))
        self._flushes.add(task)
        task.add_done_callback(self._flushes.discard)

    async def _deliver(self, batch: list[tuple[Request, asyncio.Future[Result]]]) -> None:
        try:
            results = await self._send([request for request, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"a batch of {len(batch)} requests got {len(results)} results")
        except asyncio.CancelledError:
            for _, future in batch:
                future.cancel()
            raise
        except Exception as exc:  # noqa: BLE001 -- every caller gets the failure of its batch
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if future.done():
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)
