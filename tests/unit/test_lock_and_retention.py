from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
from datetime import UTC, datetime

from pipeline.lock import LockInfo
from pipeline.retention import stale_releases
from tests.unit.test_retention import row

INFO = LockInfo("alice@laptop", "laptop", 4242, "deploy", "hotfix", "", "2026-12-04T10:00:00Z", "abc123")


def test_lock_age() -> None:
    assert INFO.age_seconds(datetime(2026, 12, 4, 10, 5, tzinfo=UTC)) == 300


def test_old_lock_is_stale_with_way_out() -> None:
    text = INFO.describe(stale_after=60, environment="prod")
    assert "held by alice@laptop (deploy: hotfix)" in text
    assert "STALE" in text
    assert "invoke unlock --env=prod --reason=TEXT" in text


def test_dead_local_holder_is_stale_at_once() -> None:
    # A pid that just exited on this machine, and a lock started now, so age alone is not stale.
    dead = dataclasses.replace(
        INFO, host=socket.gethostname(), pid=_exited_pid(), started_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    )
    assert dead.holder_gone()
    text = dead.describe(stale_after=3600, environment="uat")
    assert "no longer runs" in text
    assert "invoke unlock --env=uat --reason=TEXT" in text


def test_live_or_remote_holder_is_not_gone() -> None:
    assert not dataclasses.replace(INFO, host=socket.gethostname(), pid=os.getpid()).holder_gone()
    assert not dataclasses.replace(INFO, host="another-runner", pid=_exited_pid()).holder_gone()


def _exited_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_failed_releases_do_not_count_toward_retention() -> None:
    rows = [row("v4", "running"), row("v3-failed"), row("v3"), row("v2"), row("v2-failed")]
    stale = stale_releases(rows, keep=2, serving="v4", failed={"v3-failed", "v2-failed"})
    assert [r.name for r in stale] == ["v2-failed"]
