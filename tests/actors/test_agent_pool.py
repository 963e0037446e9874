"""The agent pool's leases: per-agent limits across missions, idempotent by attempt id."""

from __future__ import annotations

from agentcoord.actors.agent_pool import AgentPool


def test_leases_stop_at_the_limit_and_a_batch_of_releases_frees_them() -> None:
    pool = AgentPool()
    assert pool.acquire_many([("sim", "a1", 2), ("sim", "a2", 2), ("sim", "a3", 2), ("other", "b1", 1)]) == [
        True, True, False, True]
    assert pool.acquire("sim", "a1", 2)  # the same attempt again: it already holds its slot
    pool.release_many(["a1", "a2", "never-leased"])
    assert pool.in_use() == {"other": 1}
    assert pool.acquire_many([("sim", "a3", 2)]) == [True]


def test_releases_sent_with_acquires_go_first_and_a_restarted_holder_loses_its_leases() -> None:
    pool = AgentPool()
    assert pool.acquire_many([("sim", "a1", 2), ("sim", "a2", 2)], holder="host-0") == [True, True]
    assert pool.acquire_many([("sim", "b1", 2)], holder="host-1") == [False]
    assert pool.acquire_many([("sim", "b1", 2)], released=["a1"], holder="host-1") == [True]  # a1 freed first
    assert pool.forget("host-0") == 1  # a2: host-0 restarted, its attempts are lost
    assert pool.in_use() == {"sim": 1}
    assert pool.acquire_many([("sim", "c1", 2), ("sim", "c2", 2)], holder="host-0") == [True, False]
    pool.release_many(["b1", "c1", "c1"])  # a release sent twice frees one slot
    assert pool.in_use() == {}
