"""Fault injection on a real Ray and PostgreSQL: kills, crash loops, cancels, resumable watches.

Attempts of the `slow` capability take 3 s (tests/fixtures/test_agents.yaml), which gives each
test a window to strike while an attempt runs.
"""

from __future__ import annotations

import os
import random
import signal
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psutil
import psycopg
import pytest
import ray

from agentcoord.actors import NAMESPACE
from agentcoord.actors.mission_host import mission_host, shared_host_index
from agentcoord.actors.supervisor import ACTOR_NAME as SUPERVISOR
from agentcoord.actors.supervisor import running_host, supervisor_handle
from agentcoord.clients import MissionClient
from agentcoord.missions import parse_mission
from agentcoord.services.mission.convert import create_request
from agentcoord.store import missions as store

pytestmark = pytest.mark.slow


def _create(stack: Any, document: dict[str, Any]) -> str:
    client = MissionClient(stack.address)
    try:
        spec = parse_mission(document)
        return client.create(create_request(spec, request_id=str(uuid.uuid4()))).mission.mission_id
    finally:
        client.close()


def _query(url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def _tasks(url: str, mission_id: str) -> dict[str, tuple[str, int]]:
    rows = _query(url, "SELECT task_id, state, attempts FROM tasks WHERE mission_id = %s", mission_id)
    return {task: (state, attempts) for task, state, attempts in rows}


def _mission_state(url: str, mission_id: str) -> str:
    return _query(url, "SELECT state FROM missions WHERE mission_id = %s", mission_id)[0][0]


def _wait(predicate: Callable[[], bool], deadline_s: float = 90.0, what: str = "condition") -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"{what} not reached within {deadline_s} s")


def _chain(*capabilities: str) -> dict[str, Any]:
    return {
        "name": "chain", "goal": "fault injection",
        "tasks": [
            {"id": f"s{i}", "description": f"step {i}", "capabilities": [cap], **({"depends_on": [f"s{i - 1}"]} if i else {})}
            for i, cap in enumerate(capabilities)
        ],
    }


def test_killing_an_attempts_worker_reruns_only_that_task(stack: Any) -> None:
    url = stack.config.database.url
    mission_id = _create(stack, _chain("code", "slow", "docs"))
    _wait(lambda: _tasks(url, mission_id)["s1"][0] == "running", what="s1 running")
    workers: list[psutil.Process] = []

    def attempt_workers() -> bool:
        # The start is committed before the attempt is launched: wait for a worker to pick it up.
        workers[:] = [
            p for p in psutil.process_iter(["cmdline"])
            if any("execute_attempt" in part for part in (p.info["cmdline"] or []))
        ]
        return bool(workers)

    _wait(attempt_workers, deadline_s=30.0, what="a worker process running the attempt")
    for worker in workers:
        worker.send_signal(signal.SIGKILL)  # the worker dies mid-attempt, as in an OOM kill
    _wait(lambda: _mission_state(url, mission_id) == "completed", what="mission completed")
    assert _tasks(url, mission_id) == {"s0": ("succeeded", 1), "s1": ("succeeded", 2), "s2": ("succeeded", 1)}
    errors = [e for (e,) in _query(
        url, "SELECT error FROM attempts WHERE mission_id = %s AND task_id = 's1' ORDER BY number", mission_id)]
    assert errors[0].startswith("attempt crashed") and errors[1] == ""


def test_a_mission_survives_ten_kills_of_its_actor_without_redoing_or_double_counting(stack: Any) -> None:
    url = stack.config.database.url
    rng = random.Random(20261204)
    document = {
        "name": "twenty", "goal": "survive", "max_parallel": 4,
        "tasks": [
            {"id": f"t{i:02d}", "description": f"task {i}", "capabilities": ["code"],
             **({"depends_on": [f"t{rng.randrange(i):02d}"]} if i and rng.random() < 0.6 else {})}
            for i in range(20)
        ],
    }
    mission_id = _create(stack, document)
    for kill in range(10):
        finished = sum(1 for state, _ in _tasks(url, mission_id).values() if state == "succeeded")
        if _mission_state(url, mission_id) == "completed":
            break
        time.sleep(rng.uniform(0.0, 0.4))  # a random point of the mission
        try:
            actor = running_host(mission_id, timeout_s=10)
        except TimeoutError:
            if _mission_state(url, mission_id) == "completed":
                break  # it finished during the pause: no host runs it any more
            raise
        if kill % 2:
            ray.kill(actor, no_restart=False)
        else:
            pid = ray.get(actor.pid.remote(), timeout=30)
            os.kill(pid, signal.SIGKILL)
        _wait(lambda f=finished: _mission_state(url, mission_id) == "completed"
              or sum(1 for s, _ in _tasks(url, mission_id).values() if s == "succeeded") > f, what="progress after a kill")
    _wait(lambda: _mission_state(url, mission_id) == "completed", what="mission completed")
    assert all(state == "succeeded" for state, _ in _tasks(url, mission_id).values())
    accepted = _query(url, "SELECT task_id, count(*) FROM attempts WHERE mission_id = %s AND outcome = 'succeeded'"
                           " GROUP BY task_id", mission_id)
    assert len(accepted) == 20 and all(count == 1 for _, count in accepted)
    usage = _query(url, "SELECT u.idempotency_key, a.attempt_id FROM usage_events u LEFT JOIN attempts a"
                        " ON u.idempotency_key = 'attempt:' || a.attempt_id WHERE u.mission_id = %s", mission_id)
    assert all(attempt is not None for _, attempt in usage)  # every usage row is one attempt's, counted once
    incarnations = _query(url, "SELECT count(*) FROM mission_incarnations WHERE mission_id = %s", mission_id)[0][0]
    assert incarnations >= 2


def test_a_dead_hosts_mission_moves_to_a_live_host_and_the_restarted_host_leaves_it_alone(stack: Any) -> None:
    url = stack.config.database.url
    mission_id = _create(stack, _chain("code", "slow", "code"))
    _wait(lambda: _tasks(url, mission_id)["s1"][0] == "running", what="s1 running")
    supervisor = ray.get_actor(SUPERVISOR, namespace=NAMESPACE)
    dead = ray.get(supervisor.host_of.remote(mission_id), timeout=30)
    pid = ray.get(running_host(mission_id).pid.remote(), timeout=30)
    os.kill(pid, signal.SIGKILL)
    _wait(lambda: ray.get(supervisor.host_of.remote(mission_id), timeout=30) not in (None, dead),
          deadline_s=30, what="the mission running on another host")
    _wait(lambda: _mission_state(url, mission_id) == "completed", what="mission completed")
    assert _tasks(url, mission_id) == {"s0": ("succeeded", 1), "s1": ("succeeded", 2), "s2": ("succeeded", 1)}
    _wait(lambda: ray.get(supervisor.hosts_down.remote(), timeout=30) == [], deadline_s=60, what="the dead host restarted")
    restarted = ray.get(ray.get_actor(dead, namespace=NAMESPACE).pid.remote(), timeout=30)
    # Two starts: the first host's and the live host's; the restarted host was given nothing to run again.
    starts = [p for (p,) in _query(url, "SELECT pid FROM mission_incarnations WHERE mission_id = %s ORDER BY incarnation",
                                   mission_id)]
    assert len(starts) == 2 and starts[0] == pid and starts[1] not in (pid, restarted)


def test_the_agent_slots_of_a_host_killed_for_good_are_freed_for_its_moved_missions(stack: Any) -> None:
    """Eight attempts of an agent that runs eight at once hold all its slots; after the kill
    the moved mission's retries need all eight again, and no process of that host comes back to
    drop them. The runner on the live host releases the slots of the attempts it finds lost."""
    url = stack.config.database.url
    document = {"name": "wide", "goal": "slots", "max_parallel": 8,
                "tasks": [{"id": f"w{i}", "description": f"wide {i}", "capabilities": ["slow"]} for i in range(8)]}
    mission_id = _create(stack, document)
    _wait(lambda: sum(1 for s, _ in _tasks(url, mission_id).values() if s == "running") == 8, deadline_s=30,
          what="eight attempts running")
    ray.kill(running_host(mission_id), no_restart=True)
    _wait(lambda: _mission_state(url, mission_id) == "completed", deadline_s=60, what="mission completed")
    assert all(state == "succeeded" and attempts == 2 for state, attempts in _tasks(url, mission_id).values())


def _insert_and_start(stack: Any, runner: Any, mission_id: str, document: dict[str, Any]) -> None:
    async def insert() -> None:
        async with stack.db.transaction() as conn:
            await store.insert_mission(conn, mission_id=mission_id, request_id=None, spec=parse_mission(document), actor="test")

    runner.run(insert())
    ray.get(supervisor_handle(stack.config).start_mission.remote(mission_id, stack.config), timeout=30)


def test_a_mission_that_kills_its_host_at_every_start_fails_alone_as_a_crash_loop(stack: Any, runner: Any) -> None:
    """Its shared host's other mission is restarted with it at first, then both get hosts of their own."""
    url = stack.config.database.url
    suspect = str(uuid.uuid4())
    host = shared_host_index(suspect, stack.config.mission_hosts)
    bystander = next(m for m in (str(uuid.uuid4()) for _ in range(1000))
                     if shared_host_index(m, stack.config.mission_hosts) == host)
    _insert_and_start(stack, runner, bystander, _chain("slow", "code"))
    _insert_and_start(stack, runner, suspect, _chain("slow", "code"))
    killed: set[int] = set()

    def kill_newest_incarnation() -> bool:
        if _mission_state(url, suspect) == "failed":
            return True
        pids = [pid for (pid,) in _query(
            url, "SELECT pid FROM mission_incarnations WHERE mission_id = %s ORDER BY incarnation", suspect)]
        for pid in pids[-1:]:
            if pid not in killed:
                killed.add(pid)
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        return False

    _wait(kill_newest_incarnation, deadline_s=120, what="crash loop detected")
    reason = _query(url, "SELECT reason FROM missions WHERE mission_id = %s", suspect)[0][0]
    assert reason.startswith("crash loop: the mission started 5 times in a row"), reason
    # Sharing a process with the suspect, it restarted with it at first; had it stayed there, it too
    # would have started five times without finishing a task.
    _wait(lambda: _mission_state(url, bystander) == "completed", what="the other mission completed")
    assert all(state == "succeeded" for state, _ in _tasks(url, bystander).values())


def test_concurrent_get_or_create_yields_one_host_and_one_run_of_the_mission(stack: Any) -> None:
    url = stack.config.database.url
    mission_id = _create(stack, _chain("slow"))
    with ThreadPoolExecutor(32) as pool:
        hosts = list(pool.map(lambda _: mission_host(stack.config, mission_id)[1], range(32)))
    assert len({host._actor_id for host in hosts}) == 1
    # 32 concurrent runs of the mission on its host (the supervisor's own run among them) share one drive.
    states = ray.get([hosts[0].run.remote(mission_id, stack.config) for _ in range(32)], timeout=90)
    assert states == ["completed"] * 32
    assert _query(url, "SELECT count(*) FROM mission_incarnations WHERE mission_id = %s", mission_id)[0][0] == 1


def test_a_killed_supervisor_comes_back_and_its_missions_finish(stack: Any) -> None:
    url = stack.config.database.url
    mission_id = _create(stack, _chain("slow", "code"))
    _wait(lambda: _tasks(url, mission_id)["s0"][0] == "running", what="s0 running")
    supervisor = ray.get_actor(SUPERVISOR, namespace=NAMESPACE)
    ray.kill(supervisor, no_restart=False)
    _wait(lambda: mission_id in ray.get(ray.get_actor(SUPERVISOR, namespace=NAMESPACE).running.remote(), timeout=30),
          what="supervisor re-attached the mission")
    _wait(lambda: _mission_state(url, mission_id) == "completed", what="mission completed")


def test_cancel_stops_the_running_attempt_and_watch_resumes_without_gaps(stack: Any) -> None:
    url = stack.config.database.url
    mission_id = _create(stack, _chain("code", "slow", "docs"))
    client = MissionClient(stack.address)
    try:
        first: list[int] = []
        for update in client.watch(mission_id):
            first.append(update.event.seq)
            if update.event.topic == "task.state" and update.event.task_id == "s1" and '"to": "running"' in update.event.payload_json:
                break
        started = time.monotonic()
        cancelled = client.cancel(mission_id, reason="changed my mind")
        rest = [update.event.seq for update in client.watch(mission_id, from_seq=first[-1], timeout_s=60)]
        assert client.cancel(mission_id).reason == "changed my mind"  # idempotent
    finally:
        client.close()
    assert cancelled.reason == "changed my mind"
    _wait(lambda: _tasks(url, mission_id)["s1"][0] == "failed", deadline_s=10, what="attempt stopped")
    assert time.monotonic() - started < 2.8  # before the 2.4-3.6 s attempt would have ended
    # The agent was stopped, not waited for: it never reported, so no usage was recorded for it.
    assert _query(url, "SELECT count(*) FROM usage_events WHERE mission_id = %s AND task_id = 's1'", mission_id)[0][0] == 0
    assert _mission_state(url, mission_id) == "cancelled"
    assert _tasks(url, mission_id)["s2"] == ("pending", 0)
    logged = _query(url, "SELECT count(*) FROM events WHERE mission_id = %s", mission_id)[0][0]
    streamed = first + rest
    assert streamed == list(range(1, len(streamed) + 1))  # resumed stream: no gap, no duplicate
    assert len(streamed) <= logged
