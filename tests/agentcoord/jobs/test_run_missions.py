"""The run_missions Ray job, run as its own process joining the test's Ray cluster."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import ray

ROOT = Path(__file__).resolve().parents[3]


def _job(stack: Any, *args: str, grpc_addr: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "RAY_ADDRESS": ray.get_runtime_context().gcs_address,
        "DATABASE_URL": stack.config.database.url,
        "AGENTCOORD_GRPC_ADDR": grpc_addr,
        "AGENTCOORD_DATA_DIR": str(stack.config.state_dir),
        "AGENTCOORD_AGENTS_FILE": str(ROOT / "tests" / "fixtures" / "test_agents.yaml"),
    }
    return subprocess.run(
        [sys.executable, "-m", "agentcoord.jobs.run_missions", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=240, check=False,
    )


def test_the_job_runs_missions_through_running_services(stack: Any) -> None:
    result = _job(stack, "examples/missions/hello.yaml", "examples/missions/deploy-prod.yaml", grpc_addr=stack.address)
    assert result.returncode == 1, result.stderr  # the production deploy is blocked, so not all completed
    assert "state:  completed" in result.stdout and "state:  failed" in result.stdout
    assert "no-production-deploys" in result.stdout


def test_the_job_hosts_services_itself_when_none_answer(stack: Any) -> None:
    result = _job(stack, "examples/missions/hello.yaml", grpc_addr="127.0.0.1:1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "hosting them for this job" in result.stdout and "state:  completed" in result.stdout


def test_a_bad_mission_file_exits_2(stack: Any, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ngoal: g\ntasks: []\n")
    result = _job(stack, str(bad), grpc_addr=stack.address)
    assert result.returncode == 2 and "tasks: must be a non-empty list" in result.stderr
