"""The agent pool's leases: per-agent limits across missions, idempotent by attempt id, first come first served."""

from __future__ import annotations

from agentcoord.actors.agent_pool import WAITER_TTL_S, AgentPool


def test_leases_stop_at_the_limit_and_a_batch_of_releases_frees_them() -> None:
    pool = AgentPool()
    assert pool.acquire_many([("sim", "a1", 2, ""), ("sim", "a2", 2, ""), ("sim", "a3", 2, ""), ("other", "b1", 1, "")]) == [
        True, True, False, True]
    assert pool.acquire("sim", "a1", 2)  # the same attempt again: it already holds its slot
    pool.release_many(["a1", "a2", "never-leased"])
    assert pool.in_use() == {"other": 1}
    assert pool.acquire_many([("sim", "a3", 2, "")]) == [True]


def test_releases_sent_with_acquires_go_first_and_a_restarted_holder_loses_its_leases() -> None:
    pool = AgentPool()
    assert pool.acquire_many([("sim", "a1", 2, ""), ("sim", "a2", 2, "")], holder="host-0") == [True, True]
    assert pool.acquire_many([("sim", "b1", 2, "")], holder="host-1") == [False]
    assert pool.acquire_many([("sim", "b1", 2, "")], released=["a1"], holder="host-1") == [True]  # a1 freed first
    assert pool.forget("host-0") == 1  # a2: host-0 restarted, its attempts are lost
    assert pool.in_use() == {"sim": 1}
    assert pool.acquire_many([("sim", "c1", 2, ""), ("sim", "c2", 2, "")], holder="host-0") == [True, False]
    pool.release_many(["b1", "c1", "c1"])  # a release sent twice frees one slot
    assert pool.in_use() == {}


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_freed_slot_goes_to_the_oldest_waiter_not_to_whoever_asks_first() -> None:
    clock = Clock()
    pool = AgentPool(clock=clock)
    assert pool.acquire("sim", "a1", 1, waiter="m1/t1")
    assert not pool.acquire("sim", "b1", 1, waiter="m2/t1")  # queued first
    assert not pool.acquire("sim", "c1", 1, waiter="m3/t1")
    assert pool.waiting() == {"sim": ["m2/t1", "m3/t1"]}

    # m1 frees its slot and asks for its next task in the same call: m2 waited longer.
    assert pool.acquire_many([("sim", "a2", 1, "m1/t2")], released=["a1"]) == [False]
    clock.now += 0.2
    assert not pool.acquire("sim", "c2", 1, waiter="m3/t1")  # a new try keeps its place, behind m2
    assert pool.acquire("sim", "b2", 1, waiter="m2/t1")  # each try has a new attempt id
    assert pool.waiting() == {"sim": ["m3/t1", "m1/t2"]}


def test_a_waiter_that_stops_asking_loses_its_place() -> None:
    clock = Clock()
    pool = AgentPool(clock=clock)
    assert not pool.acquire("sim", "b1", 0, waiter="gone/t1")  # a limit of 0 refuses everyone
    clock.now += WAITER_TTL_S / 2
    assert not pool.acquire("sim", "c1", 1, waiter="m3/t1")  # behind gone/t1, which may still ask
    clock.now += WAITER_TTL_S
    assert pool.acquire("sim", "c2", 1, waiter="m3/t1")  # gone/t1 has not asked for too long
    assert pool.waiting() == {}
