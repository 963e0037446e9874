"""The coalescer: concurrent calls of one event-loop turn become one batch, each caller gets its answer."""

from __future__ import annotations

import asyncio

import pytest

from agentcoord.actors.batching import Coalescer


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
