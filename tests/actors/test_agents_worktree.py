"""Task worktrees on a real git repository."""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from agentcoord.actors.agents.worktree import changed_files, finish_worktree, prepare_worktree


def _repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "app.py").write_text("print('hi')\n")
    for args in (["init", "-q", "-b", "main"], ["add", "-A"],
                 ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "initial"]):
        subprocess.run(["git", *args], cwd=repo, check=True)
    return repo


def test_tasks_get_their_own_worktrees_even_when_started_together(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    with ThreadPoolExecutor(max_workers=4) as pool:
        trees = list(pool.map(lambda i: prepare_worktree(repo, root=tmp_path / "wt", mission_id="m 1",
                                                          task_id=f"task/{i}"), range(4)))
    assert len({t.path for t in trees}) == 4 and all((t.path / "app.py").exists() for t in trees)
    assert trees[0].branch == "agentcoord/m-1/task-0"


def test_changed_files_survive_a_retry_and_are_committed_on_success(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    tree = prepare_worktree(repo, root=tmp_path / "wt", mission_id="m", task_id="t")
    (tree.path / "app.py").write_text("print('bye')\n")
    (tree.path / "new.py").write_text("x = 1\n")
    assert finish_worktree(tree, succeeded=False, message="unused") == ("app.py", "new.py")
    again = prepare_worktree(repo, root=tmp_path / "wt", mission_id="m", task_id="t")
    assert (again.path, again.base_commit) == (tree.path, tree.base_commit)
    assert changed_files(again) == ("app.py", "new.py")
    assert finish_worktree(again, succeeded=True, message="task t") == ("app.py", "new.py")
    assert not tree.path.exists()
    log = subprocess.run(["git", "log", "--format=%s", "--name-only", "-1", tree.branch], cwd=repo,
                         capture_output=True, text=True, check=True).stdout.split()
    assert log == ["task", "t", "app.py", "new.py"]
