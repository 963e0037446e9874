"""`agentcoord up`, the README's first command, as a real process joined to the test's Ray."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import ray

ROOT = Path(__file__).resolve().parents[3]


def test_up_starts_everything_runs_the_demo_mission_and_stops(stack: Any, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "RAY_ADDRESS": ray.get_runtime_context().gcs_address,
        "DATABASE_URL": stack.config.database.url,
        "AGENTCOORD_DATA_DIR": str(tmp_path),
        "AGENTCOORD_GRPC_PORT": "0",
        "AGENTCOORD_DASHBOARD_PORT": "0",
        "AGENTCOORD_HOOK_PORT": "0",
        "AGENTCOORD_HOOK_TOKEN": "test-token-not-a-secret",
    }
    result = subprocess.run(
        [sys.executable, "-m", "agentcoord.cli.main", "up", "--exit-after-demo"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "services:  gRPC 127.0.0.1:" in out and "dashboard: http://127.0.0.1:" in out
    assert "claude hook: http://127.0.0.1:" in out and "test-token-not-a-secret" not in out + result.stderr
    assert "state:  completed (all 5 tasks succeeded)" in out
    assert "spend by agent:" in out and "sim-deep" in out
