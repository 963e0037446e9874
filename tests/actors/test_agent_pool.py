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
