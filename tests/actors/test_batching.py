"""The coalescer: concurrent calls of one event-loop turn become one batch, each caller gets its answer."""

from __future__ import annotations

import asyncio

import pytest

from agentcoord.actors.batching import Coalescer, SingleFlight


def test_calls_of_one_turn_go_out_as_one_batch_and_later_calls_as_another() -> None:
    batches: list[list[int]] = []

    async def send(requests: list[int]) -> list[str]:
        batches.append(requests)
        await asyncio.sleep(0)
        return [f"r{r}" for r in requests]

    async def scenario() -> tuple[list[str], str]:
        coalescer: Coalescer[int, str] = Coalescer(send)
        together = await asyncio.gather(*(coalescer(i) for i in range(4)))
        alone = await coalescer(9)
        return list(together), alone

    together, alone = asyncio.run(scenario())
    assert together == ["r0", "r1", "r2", "r3"]
    assert alone == "r9"
    assert batches == [[0, 1, 2, 3], [9]]


def test_a_failed_batch_fails_every_caller_in_it() -> None:
    async def send(requests: list[int]) -> list[int]:
        raise ConnectionError("actor died")

    async def scenario() -> list[BaseException | int]:
        coalescer: Coalescer[int, int] = Coalescer(send)
        return await asyncio.gather(coalescer(1), coalescer(2), return_exceptions=True)

    results = asyncio.run(scenario())
    assert [type(r) for r in results] == [ConnectionError, ConnectionError]


def test_a_batch_answered_with_the_wrong_number_of_results_fails_instead_of_misassigning() -> None:
    async def send(requests: list[int]) -> list[int]:
        return requests[:1]

    async def scenario() -> None:
        coalescer: Coalescer[int, int] = Coalescer(send)
        await asyncio.gather(coalescer(1), coalescer(2))

    with pytest.raises(RuntimeError, match="2 requests got 1 results"):
        asyncio.run(scenario())


def test_single_flight_shares_a_run_per_key_until_it_ends_and_survives_a_cancelled_caller() -> None:
    runs: list[str] = []

    async def run(key: str) -> str:
        runs.append(key)
        await asyncio.sleep(0.01)
        return f"done {key}"

    async def scenario() -> tuple[list[str], str, str]:
        flights: SingleFlight[str, str] = SingleFlight()
        impatient = asyncio.ensure_future(flights("a", lambda: run("a")))
        await asyncio.sleep(0)
        shared = asyncio.gather(flights("a", lambda: run("a")), flights("b", lambda: run("b")))
        impatient.cancel()  # the run it started goes on for the others
        together = await shared
        again = await flights("a", lambda: run("a"))  # the first run ended: a new one
        return list(together), again, runs[-1]

    together, again, last = asyncio.run(scenario())
    assert together == ["done a", "done b"] and again == "done a" and last == "a"
    assert runs == ["a", "b", "a"]
