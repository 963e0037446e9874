"""Mission leases on a real PostgreSQL: one driver per mission, released when its session ends."""

from __future__ import annotations

import asyncio

from agentcoord.store.mission_leases import MissionLeases, mission_lock_key


def test_a_second_driver_waits_until_the_first_lets_go(runner, database_url: str) -> None:
    async def scenario() -> list[str]:
        first, second = MissionLeases(database_url), MissionLeases(database_url)
        order: list[str] = []
        try:
            async with first.hold("m-1"):
                waiting = asyncio.ensure_future(_hold_and_note(second, "m-1", order, "second"))
                async with second.hold("m-2"):  # another mission is not held up
                    order.append("other mission")
                await asyncio.sleep(0.3)
                assert not waiting.done()
                order.append("first lets go")
            await asyncio.wait_for(waiting, timeout=5)
        finally:
            await first.close()
            await second.close()
        return order

    assert runner.run(scenario()) == ["other mission", "first lets go", "second"]


def test_a_lease_ends_with_its_session(runner, database_url: str) -> None:
    """A host whose process dies loses its connection, and with it every lease it held."""

    async def scenario() -> None:
        dead, live = MissionLeases(database_url), MissionLeases(database_url)
        try:
            async with dead.hold("m-3"):
                await dead.close()  # as the kernel closes a killed process's socket
                async with live.hold("m-3"):
                    pass
        finally:
            await live.close()

    runner.run(asyncio.wait_for(scenario(), timeout=10))


def test_lock_keys_are_stable_and_distinct() -> None:
    assert mission_lock_key("m-1") == mission_lock_key("m-1")
    assert len({mission_lock_key(f"m-{i}") for i in range(10_000)}) == 10_000


async def _hold_and_note(leases: MissionLeases, mission_id: str, order: list[str], note: str) -> None:
    async with leases.hold(mission_id):
        order.append(note)
