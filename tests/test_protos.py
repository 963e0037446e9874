"""The contracts: protos pass buf's STANDARD lint, and the committed stubs are what protoc makes."""

from __future__ import annotations

import filecmp
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def test_buf_lint_passes() -> None:
    result = subprocess.run([str(BIN / "buf"), "lint"], check=False, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_generated_stubs_are_current(tmp_path: Path) -> None:
    protos = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "protos" / "agentcoord" / "v1").glob("*.proto"))
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", "-I", "protos", f"--python_out={tmp_path}",
         f"--pyi_out={tmp_path}", f"--grpc_python_out={tmp_path}", *protos],
        cwd=ROOT, check=True, timeout=120,
    )
    generated = sorted(p.name for p in (tmp_path / "agentcoord" / "v1").iterdir())
    committed = sorted(p.name for p in (ROOT / "agentcoord" / "v1").iterdir() if p.name != "__init__.py" and p.is_file())
    assert generated == committed, "run `make protos` and commit the result"
    _, mismatch, errors = filecmp.cmpfiles(tmp_path / "agentcoord" / "v1", ROOT / "agentcoord" / "v1", generated, shallow=False)
    assert not mismatch and not errors, f"stale stubs {mismatch or errors}: run `make protos` and commit"
