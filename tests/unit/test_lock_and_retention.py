from __future__ import annotations

from datetime import UTC, datetime

from pipeline.lock import LockInfo
from pipeline.retention import stale_releases
from tests.unit.test_retention import row

INFO = LockInfo("alice@laptop", "laptop", 4242, "deploy", "hotfix", "", "2026-12-04T10:00:00Z", "abc123")


def test_lock_age() -> None:
    assert INFO.age_seconds(datetime(2026, 12, 4, 10, 5, tzinfo=UTC)) == 300


def test_old_lock_is_stale_with_way_out() -> None:
    text = INFO.describe(stale_after=60)
    assert "held by alice@laptop (deploy: hotfix)" in text
    assert "STALE" in text
    assert "invoke unlock" in text


def test_failed_releases_do_not_count_toward_retention() -> None:
    rows = [row("v4", "running"), row("v3-failed"), row("v3"), row("v2"), row("v2-failed")]
    stale = stale_releases(rows, keep=2, serving="v4", failed={"v3-failed", "v2-failed"})
    assert [r.name for r in stale] == ["v2-failed"]
