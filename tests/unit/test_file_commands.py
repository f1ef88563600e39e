from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from pipeline.commands import files

SNAPSHOTS = ("20260101T000000.000000Z", "20260102T000000.000000Z", "20260103T000000.000000Z")


@pytest.mark.parametrize("parent", ["my dir/backups", "it's/backups", 'say "hi"/backups', "line\nbreak/backups"])
def test_prune_snapshots_keeps_newest(tmp_path: Path, parent: str) -> None:
    backups = tmp_path / parent
    for name in SNAPSHOTS:
        (backups / name).mkdir(parents=True)
    # Splitting the parent path at its first blank or quote would name this directory.
    bystander = tmp_path / "my"
    bystander.mkdir()

    subprocess.run(files.prune_snapshots(str(backups), 2), cwd=tmp_path, check=True, timeout=10)

    assert sorted(path.name for path in backups.iterdir()) == list(SNAPSHOTS[1:])
    assert bystander.is_dir()


def test_prune_snapshots_without_snapshots(tmp_path: Path) -> None:
    completed = subprocess.run(files.prune_snapshots(str(tmp_path / "missing"), 2), check=False, timeout=10)
    assert completed.returncode == 0


def test_prune_snapshots_keep_zero_removes_all(tmp_path: Path) -> None:
    for name in SNAPSHOTS:
        (tmp_path / name).mkdir()
    subprocess.run(files.prune_snapshots(str(tmp_path), 0), check=True, timeout=10)
    assert list(tmp_path.iterdir()) == []


def test_prune_snapshots_rejects_negative_keep() -> None:
    with pytest.raises(ValueError, match="expected 0 or more"):
        files.prune_snapshots("/home/deploy/.agent-dk/uat/backups", -1)
