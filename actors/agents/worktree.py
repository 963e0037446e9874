"""Git worktrees: each task works in its own checkout and branch of the target repository.

The worktree path and branch are fixed per (mission, task), so a retry that resumes an agent
session finds the files (and the directory the CLI keyed its session on) where the failed attempt
left them. On success the work is committed to the task's branch and the checkout removed (the
branch stays for review and merge); on failure the checkout is kept for inspection.
"""

from __future__ import annotations

import fcntl
import logging
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from agentcoord.errors import AgentCoordError

log = logging.getLogger(__name__)

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_BASE_FILE = "agentcoord-base"
_AUTHOR = ("-c", "user.name=agentcoord", "-c", "user.email=agentcoord@localhost")


class WorktreeError(AgentCoordError):
    """A git command on the target repository failed."""


@dataclass(frozen=True)
class Worktree:
    """One task's checkout: where it is, its branch, and the commit it started from."""

    repository: Path
    path: Path
    branch: str
    base_commit: str


def _git(cwd: Path, *args: str) -> str:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True, timeout=120)
    except FileNotFoundError as exc:
        raise WorktreeError("git is not installed") from exc
    except subprocess.CalledProcessError as exc:
        raise WorktreeError(f"git {' '.join(args)} failed in {cwd}: {exc.stderr.strip()}") from exc
    except subprocess.TimeoutExpired as exc:
        raise WorktreeError(f"git {' '.join(args)} timed out in {cwd}") from exc
    return done.stdout.strip()


def _safe(part: str) -> str:
    return _UNSAFE.sub("-", part).strip(".-") or "x"


def prepare_worktree(repository: Path, *, root: Path, mission_id: str, task_id: str) -> Worktree:
    """The task's worktree, created from the repository's HEAD or reused from an earlier attempt."""
    path = root / _safe(mission_id) / _safe(task_id)
    branch = f"agentcoord/{_safe(mission_id)}/{_safe(task_id)}"
    if (path / ".git").exists():
        git_dir = Path(_git(path, "rev-parse", "--absolute-git-dir"))
        base_file = git_dir / _BASE_FILE
        base = base_file.read_text().strip() if base_file.exists() else _git(path, "rev-parse", "HEAD")
        log.info("reusing worktree %s", path)
        return Worktree(repository=repository, path=path, branch=branch, base_commit=base)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _repository_lock(repository):  # tasks of one mission start side by side on one repository
        base = _git(repository, "rev-parse", "HEAD")
        _git(repository, "worktree", "prune")
        if _git(repository, "branch", "--list", branch):
            _git(repository, "worktree", "add", str(path), branch)
        else:
            _git(repository, "worktree", "add", "-b", branch, str(path), base)
    (Path(_git(path, "rev-parse", "--absolute-git-dir")) / _BASE_FILE).write_text(base)
    return Worktree(repository=repository, path=path, branch=branch, base_commit=base)


def changed_files(worktree: Worktree) -> tuple[str, ...]:
    """Files changed since the task began: committed on the branch or still in the checkout."""
    changed = _git(worktree.path, "diff", "--name-only", worktree.base_commit).splitlines()  # commits + checkout
    untracked = _git(worktree.path, "ls-files", "--others", "--exclude-standard").splitlines()
    return tuple(dict.fromkeys(name for name in [*changed, *untracked] if name))


def finish_worktree(worktree: Worktree, *, succeeded: bool, message: str) -> tuple[str, ...]:
    """Return the changed files; on success commit them to the branch and remove the checkout."""
    files = changed_files(worktree)
    if not succeeded:
        log.info("keeping worktree %s of a failed attempt for inspection", worktree.path)
        return files
    if _git(worktree.path, "status", "--porcelain"):
        _git(worktree.path, "add", "-A")
        _git(worktree.path, *_AUTHOR, "commit", "--no-verify", "-q", "-m", message)
    with _repository_lock(worktree.repository):
        _git(worktree.repository, "worktree", "remove", "--force", str(worktree.path))
    return files


@contextmanager
def _repository_lock(repository: Path) -> Iterator[None]:
    """Serialise worktree bookkeeping on one repository across processes (git's own locks fail, not wait)."""
    lock_path = Path(_git(repository, "rev-parse", "--path-format=absolute", "--git-common-dir")) / "agentcoord.lock"
    with open(lock_path, "a", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
