"""`ray job submit` of the run_missions job to a separate Ray cluster started with `ray start`.

The job's driver runs on that cluster, hosts the services itself and runs its missions there,
against the test's database: exactly the README's command, with only RAY_ADDRESS (here the job
server's address) and DATABASE_URL changed.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[3]
RAY = str(Path(sys.executable).with_name("ray"))
START_TRIES = 3
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def job_server() -> Iterator[tuple[str, dict[str, str]]]:
    """A second Ray cluster with its job server; yields the job server's URL and the CLI env."""
    # As from an activated virtualenv: the job's `python` is the one with AgentCoordinator installed.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    env = {**os.environ, "PATH": path, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
    env.pop("RAY_ADDRESS", None)
    failures = []
    for _ in range(START_TRIES):  # on a busy machine the dashboard can miss Ray's start-up deadline
        temp_dir = tempfile.mkdtemp(prefix="acrj-", dir="/tmp")  # Ray's socket paths must stay short
        dashboard_port = _free_port()
        # Every port chosen here: the defaults (e.g. the agent's 52365) may be the test Ray's.
        ports = [f"--{name}={_free_port()}" for name in (
            "port", "dashboard-agent-listen-port", "dashboard-agent-grpc-port", "runtime-env-agent-port",
            "metrics-export-port",
        )]
        start = subprocess.Popen(  # its own process group: stopping it never touches the test's Ray
            [RAY, "start", "--head", *ports, "--dashboard-host=127.0.0.1", f"--dashboard-port={dashboard_port}",
             "--num-cpus=2", f"--temp-dir={temp_dir}", "--include-dashboard=true"],
            env=env, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        try:
            output, _ = start.communicate(timeout=180)
            if start.returncode == 0:
                yield f"http://127.0.0.1:{dashboard_port}", env
                return
            failures.append(output[-2000:])
        finally:
            _stop_group(start.pid)
            shutil.rmtree(temp_dir, ignore_errors=True)
    pytest.fail(f"`ray start` failed {START_TRIES} times; last output:\n{failures[-1]}")


def _stop_group(pid: int) -> None:
    for sig, wait_s in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 0.0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        time.sleep(wait_s)


def test_ray_job_submit_runs_missions_on_the_cluster_it_names(
    job_server: tuple[str, dict[str, str]], stack: Any, tmp_path: Path
) -> None:
    url, env = job_server
    job_env = {
        "DATABASE_URL": stack.config.database.url,
        "AGENTCOORD_GRPC_ADDR": "127.0.0.1:1",  # nothing answers there: the job hosts the services
        "AGENTCOORD_DATA_DIR": str(tmp_path / "job-state"),
        "AGENTCOORD_AGENTS_FILE": str(ROOT / "tests" / "fixtures" / "test_agents.yaml"),
    }
    command = [RAY, "job", "submit", "--address", url, "--working-dir", ".",
               "--runtime-env-json", json.dumps({"env_vars": job_env}),
               "--", "python", "-m", "agentcoord.jobs.run_missions", "examples/missions/hello.yaml"]
    deadline = time.monotonic() + 180
    while True:  # the job server accepts jobs a little after `ray start` returns
        result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240, check=False)
        if "No available agent" not in result.stdout + result.stderr or time.monotonic() > deadline:
            break
        time.sleep(2)
    logs = result.stdout + result.stderr
    assert result.returncode == 0, logs[-4000:]
    assert "hosting them for this job" in logs and "state:  completed" in logs and "succeeded" in logs
    mission_id = logs.split("state:  completed")[0].rsplit("mission ", 1)[1].split(":")[0]
    with psycopg.connect(stack.config.database.url) as conn:
        state = conn.execute("SELECT state FROM missions WHERE mission_id = %s", (mission_id,)).fetchone()
        pids = conn.execute(
            "SELECT DISTINCT pid FROM mission_incarnations WHERE mission_id = %s", (mission_id,)
        ).fetchall()
    assert state == ("completed",) and pids  # recorded in the shared database by the job cluster's actor
