"""Version identity from the git work tree the pipeline runs in."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

from pipeline.errors import InputError

DIRTY_SUFFIX = "-dirty"


def _git(*args: str, cwd: Path) -> str:
    try:
        completed = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=30)
    except FileNotFoundError:
        raise InputError("git not found: install git, or pass --version") from None
    if completed.returncode != 0:
        raise InputError(f"git {' '.join(args)} failed in {cwd}: {completed.stderr.strip()}; pass --version instead")
    return completed.stdout.strip()


def head_sha(cwd: Path) -> str:
    return _git("rev-parse", "HEAD", cwd=cwd)


def is_dirty(cwd: Path) -> bool:
    return bool(_git("status", "--porcelain", "--untracked-files=no", cwd=cwd))


def default_version(cwd: Path) -> str:
    """Return HEAD's short SHA, with a -dirty suffix when tracked files have uncommitted changes."""
    short = _git("rev-parse", "--short=12", "HEAD", cwd=cwd)
    return short + (DIRTY_SUFFIX if is_dirty(cwd) else "")


def build_time(cwd: Path) -> str:
    """Return HEAD's commit time in UTC for a clean tree, else now.

    A rebuild of the same commit then gets the same labels and layers, so its digest does not
    change and redeploying it is a no-op.
    """
    if is_dirty(cwd):
        return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    epoch = int(_git("log", "-1", "--format=%ct", "HEAD", cwd=cwd))
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def branch(cwd: Path) -> str:
    name = _git("rev-parse", "--abbrev-ref", "HEAD", cwd=cwd)
    if name == "HEAD":
        raise InputError("HEAD is detached, so no branch names the environment: pass --env")
    return name


def head_sha_or_unknown(cwd: Path) -> str:
    """Return HEAD's SHA for reports, or "unknown" outside a git work tree."""
    try:
        return head_sha(cwd)
    except InputError:
        return "unknown"
