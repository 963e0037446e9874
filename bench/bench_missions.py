"""Mission engine benchmark: orchestration overhead per task, throughput, and recovery time.

    python bench/bench_missions.py                 # 10 missions x 20 tasks (about a minute)
    python bench/bench_missions.py --missions 50   # the issue's full size

Runs against an embedded PostgreSQL in a temp dir, a local Ray (2 CPUs) and the real services,
with simulated agents that take no time, so what is measured is the mission machinery. The
baseline, in the same run, is a bare `ray.get` of the same TaskExecutor Ray tasks without any
mission around them. After an untimed full-size warm-up of both, timed runs alternate (bare,
missions, bare, ... bare) and their medians are compared, so load that comes and goes falls on
both sides. Prints ratios and CPU per task by kind of process; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import psutil
import psycopg
import ray
from cpu_usage import CpuMeter

from agentcoord.actors import NAMESPACE, ray_system_config
from agentcoord.actors.agents import AgentRun
from agentcoord.actors.supervisor import ACTOR_NAME as SUPERVISOR
from agentcoord.actors.supervisor import running_host
from agentcoord.actors.task_executor import AttemptRequest, run_attempt
from agentcoord.clients import MissionClient
from agentcoord.config import Config
from agentcoord.missions import parse_mission
from agentcoord.services.mission.convert import create_request
from agentcoord.stack import ALL_SERVICES, resolve_database, start_services_stack

AGENTS = """agents:
  - name: sim-instant
    adapter: sim
    model: sim-small
    capabilities: [code]
    input_usd_per_mtok: "0.80"
    output_usd_per_mtok: "4.00"
    max_concurrency: 64
    settings: {latency_ms: 0}
"""


def mission_document(index: int, tasks: int) -> dict[str, object]:
    """A DAG of `tasks` tasks: a few independent chains, so tasks run both in parallel and in sequence."""
    return {
        "name": f"bench-{index}", "goal": "benchmark", "max_parallel": 4,
        "tasks": [
            {"id": f"t{i:02d}", "description": f"task {i}", "capabilities": ["code"],
             **({"depends_on": [f"t{i - 4:02d}"]} if i >= 4 else {})}
            for i in range(tasks)
        ],
    }


def task_latencies_ms(url: str, mission_ids: list[str]) -> dict[str, list[float]]:
    """Per task: ready (mission running and dependencies done) -> running -> succeeded, in ms.

    ready -> running is the mission machinery alone (checks, routing, the start commit);
    running -> succeeded adds the attempt itself (Ray queueing and the executor) and its finish.
    Per mission: created -> running (placement on its host and first reads).
    """
    latencies: dict[str, list[float]] = {"ready->succeeded": [], "ready->running": [], "running->succeeded": [],
                                         "mission created->running": []}
    with psycopg.connect(url) as conn:
        for mission_id in mission_ids:
            rows = conn.execute(
                "SELECT task_id, topic, payload->>'to', created_at FROM events WHERE mission_id = %s"
                " AND topic IN ('mission.created', 'mission.state', 'task.state') ORDER BY xact_id, event_id",
                (mission_id,),
            ).fetchall()
            created = next(at for _, topic, _, at in rows if topic == "mission.created")
            running = next(at for _, topic, to, at in rows if topic == "mission.state" and to == "running")
            latencies["mission created->running"].append((running - created).total_seconds() * 1000)
            started = {task: at for task, topic, to, at in rows if topic == "task.state" and to == "running"}
            done = {task: at for task, topic, to, at in rows if topic == "task.state" and to == "succeeded"}
            for task, finished in done.items():
                index = int(task[1:])
                ready = done[f"t{index - 4:02d}"] if index >= 4 else running
                latencies["ready->succeeded"].append((finished - ready).total_seconds() * 1000)
                latencies["ready->running"].append((started[task] - ready).total_seconds() * 1000)
                latencies["running->succeeded"].append((finished - started[task]).total_seconds() * 1000)
    return latencies


def run_missions(address: str, count: int, tasks: int, url: str) -> tuple[float, list[str]]:
    client = MissionClient(address, deadline_s=60)
    try:
        started = time.perf_counter()
        ids = [client.create(create_request(parse_mission(mission_document(i, tasks)), request_id=str(uuid.uuid4())))
               .mission.mission_id for i in range(count)]
        with psycopg.connect(url, autocommit=True) as conn:
            while conn.execute(
                "SELECT count(*) FROM missions WHERE mission_id = ANY(%s) AND state NOT IN ('completed', 'failed')", (ids,)
            ).fetchone()[0]:
                time.sleep(0.05)
        return time.perf_counter() - started, ids
    finally:
        client.close()


def bare_ray(config: Config, count: int) -> float:
    """The same TaskExecutor Ray tasks, launched directly, 4 at a time per 'mission' like above."""
    started = time.perf_counter()
    refs = [
        run_attempt.remote(config, AttemptRequest(agent="sim-instant", run=AgentRun(
            attempt_id=str(uuid.uuid4()), mission_id="bare", task_id=f"t{i}", attempt_number=1, goal="benchmark",
            description=f"task {i}", capabilities=("code",))))
        for i in range(count)
    ]
    ray.get(refs)
    return time.perf_counter() - started


def recovery_seconds(address: str, url: str, samples: int) -> list[float]:
    """Kill the Mission host running a mission; time until a host records the mission's next transition.

    Each kill strikes a healthy system: it waits until Ray has restarted the host the previous
    kill struck, so a sample measures recovery from one crash, not from two at once.
    """
    times = []
    client = MissionClient(address)
    supervisor = ray.get_actor(SUPERVISOR, namespace=NAMESPACE)
    try:
        for i in range(samples):
            while ray.get(supervisor.hosts_down.remote()):
                time.sleep(0.05)
            document = mission_document(1000 + i, 40)
            mission_id = client.create(create_request(parse_mission(document), request_id=str(uuid.uuid4()))).mission.mission_id
            with psycopg.connect(url, autocommit=True) as conn:
                while conn.execute("SELECT count(*) FROM tasks WHERE mission_id = %s AND state = 'succeeded'",
                                   (mission_id,)).fetchone()[0] < 4:
                    time.sleep(0.01)
                actor = running_host(mission_id)
                pid = ray.get(actor.pid.remote())
                killed = time.perf_counter()
                ray.kill(actor, no_restart=False)
                # The killed process may still commit a transition on its way out: count only
                # what is written after it is gone.
                psutil.wait_procs([psutil.Process(pid)], timeout=30)
                last = conn.execute("SELECT max(event_id) FROM events WHERE mission_id = %s", (mission_id,)).fetchone()[0]
                while conn.execute("SELECT count(*) FROM events WHERE mission_id = %s AND event_id > %s"
                                   " AND topic IN ('task.state', 'mission.state')", (mission_id, last)).fetchone()[0] == 0:
                    time.sleep(0.005)
                times.append(time.perf_counter() - killed)
    finally:
        client.close()
    return times


def ray_worker_processes() -> set[int]:
    """Ray's worker processes on this machine (idle ones included), by pid.

    A run that starts new ones pays about 0.3-0.4 s of CPU for each (a Python process importing
    Ray and agentcoord), which shows up as the executors' CPU; the same count hides that.
    """
    return {p.pid for p in psutil.process_iter(["cmdline"]) if (p.info["cmdline"] or [""])[0].startswith("ray::")}


def print_cpu(phases: dict[str, dict[str, float]], tasks: int) -> None:
    """CPU milliseconds per task, per process group and phase (mean over its runs; see cpu_usage)."""
    groups = sorted({group for used in phases.values() for group in used},
                    key=lambda group: -phases["missions"].get(group, 0.0))
    print(f"CPU per task, ms {'':26s}" + "".join(f"{phase:>13s}" for phase in phases))
    for group in groups:
        print(f"  {group:40s}" + "".join(f"{used.get(group, 0.0) / tasks * 1000:13.1f}" for used in phases.values()))
    print(f"  {'all':40s}" + "".join(f"{sum(used.values()) / tasks * 1000:13.1f}" for used in phases.values()))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def main_async(args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="bench-missions-"))
    (workdir / "agents.yaml").write_text(AGENTS)
    config = Config.from_env({"AGENTCOORD_DATA_DIR": str(workdir), "AGENTCOORD_AGENTS_FILE": str(workdir / "agents.yaml")})
    config, embedded = resolve_database(config)
    ray.init(num_cpus=2, include_dashboard=False, namespace=NAMESPACE, logging_level="ERROR", log_to_driver=False,
             _system_config=ray_system_config(2))  # as `agentcoord up` starts it
    running = await start_services_stack(config, ALL_SERVICES, port=0)
    url = running.config.database.url
    assert url
    try:
        total = args.missions * args.tasks
        # Untimed, at full size, both ways, twice: the first attempt in a Ray worker process pays
        # for its imports, connections and first calls (0.3-0.4 s of CPU), and Ray keeps more idle
        # workers than run at once and hands them out in no fixed order, so it takes a few runs
        # before every worker has run one; a control plane that has been up a while is there.
        for _ in range(2):
            await asyncio.to_thread(bare_ray, running.config, total)
            await asyncio.to_thread(run_missions, running.address, args.missions, args.tasks, url)
        meter = CpuMeter()
        bare_s: list[float] = []
        mission_s: list[float] = []
        cpu: dict[str, dict[str, float]] = {"bare": {}, "missions": {}}
        ids: list[str] = []
        pool = ray_worker_processes()
        workers = [f"{len(pool)}"]
        # Alternating rounds, ending with bare Ray: load that comes and goes, and the growth of the
        # tables, fall on both sides; the medians are compared.
        for phase in ["bare", "missions"] * args.rounds + ["bare"]:
            meter.start()
            if phase == "bare":
                bare_s.append(await asyncio.to_thread(bare_ray, running.config, total))
            else:
                seconds, round_ids = await asyncio.to_thread(run_missions, running.address, args.missions, args.tasks, url)
                mission_s.append(seconds)
                ids += round_ids
            for group, used in meter.stop().items():
                cpu[phase][group] = cpu[phase].get(group, 0.0) + used
            now = ray_worker_processes()
            workers.append(f"{len(now)} ({phase}: {len(now - pool)} new)")
            pool = now
        latencies = task_latencies_ms(url, ids)
        recovery = await asyncio.to_thread(recovery_seconds, running.address, url, args.recoveries)
    finally:
        await running.stop()
        ray.shutdown()
        if embedded is not None:
            embedded.stop()
    bare, missions = statistics.median(bare_s), statistics.median(mission_s)
    print(f"missions x tasks: {args.missions} x {args.tasks} = {total} tasks, sim agent latency 0 ms, 2 CPUs, "
          f"{args.rounds} rounds")
    print(f"bare ray.get of the same TaskExecutor tasks: median {bare:.2f} s = {total / bare:.0f} tasks/s "
          f"({bare / total * 1000:.2f} ms/task; runs: {', '.join(f'{s:.2f}' for s in bare_s)} s)")
    print(f"through missions:                            median {missions:.2f} s = {total / missions:.0f} tasks/s "
          f"({missions / total * 1000:.2f} ms/task; runs: {', '.join(f'{s:.2f}' for s in mission_s)} s)")
    print(f"Ray worker processes after the warm-up and after each run: {', '.join(workers)}")
    print(f"throughput ratio missions / bare ray:         {bare / missions:.2f}")
    print(f"orchestration overhead per task (throughput): {(missions - bare) / total * 1000:.1f} ms")
    for name, values in latencies.items():
        print(f"latency {name + ':':27s} median {statistics.median(values):7.1f} ms, p99 {percentile(values, 0.99):7.1f} ms")
    print_cpu({phase: {group: used / (len(bare_s) if phase == "bare" else len(mission_s)) for group, used in groups.items()}
               for phase, groups in cpu.items()}, total)
    print(f"recovery, Mission host kill -> next transition ({len(recovery)} kills): "
          f"median {statistics.median(recovery):.2f} s, max {max(recovery):.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--missions", type=int, default=10)
    parser.add_argument("--tasks", type=int, default=20)
    parser.add_argument("--recoveries", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds of missions, each between two of bare Ray")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
