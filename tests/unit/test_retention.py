from __future__ import annotations

import json

from pipeline.containers import ReleaseRow, parse_release_rows
from pipeline.retention import stale_releases


def row(name: str, state: str = "exited") -> ReleaseRow:
    return ReleaseRow(name=name, image=f"img-{name}", state=state, created_at="", labels={})


def test_stale_keeps_newest_stopped() -> None:
    rows = [row("v5", "running"), row("v4"), row("v3"), row("v2"), row("v1")]
    assert [r.name for r in stale_releases(rows, keep=2, serving="v5")] == ["v2", "v1"]


def test_stale_never_includes_running_or_serving() -> None:
    rows = [row("v3", "running"), row("leftover", "running"), row("v2")]
    assert stale_releases(rows, keep=0, serving="v3") == [row("v2")]


def test_stale_with_keep_zero_removes_all_stopped() -> None:
    rows = [row("v2"), row("v1")]
    assert len(stale_releases(rows, keep=0, serving=None)) == 2


def test_parse_release_rows_reads_labels() -> None:
    line = json.dumps(
        {
            "Names": "agent-dk-uat-v1",
            "Image": "127.0.0.1:5000/agent-dk@sha256:abc",
            "State": "running",
            "CreatedAt": "2026-12-04 20:00:00 +0000 UTC",
            "Labels": "agent-dk.env=uat,agent-dk.role=app,org.opencontainers.image.version=v1,agent-dk.alias=r-1",
        }
    )
    [parsed] = parse_release_rows(line + "\n\n")
    assert parsed.version == "v1"
    assert parsed.alias == "r-1"
    assert parsed.labels["agent-dk.env"] == "uat"
