from __future__ import annotations

import json

from pipeline.containers import digest_ref, parse_inspect

INSPECT = [
    {
        "Id": "139d7b8cb3bc0123456789",
        "Name": "/agent-dk-uat",
        "RestartCount": 0,
        "State": {
            "Status": "running",
            "ExitCode": 0,
            "StartedAt": "2026-12-04T20:35:37Z",
            "Health": {"Status": "healthy"},
        },
        "Config": {
            "Image": "127.0.0.1:5000/agent-dk@sha256:" + "b" * 64,
            "User": "10001:10001",
            "Labels": {"org.opencontainers.image.version": "v7"},
        },
    }
]


def test_parse_inspect_reads_state() -> None:
    state = parse_inspect(json.dumps(INSPECT))
    assert state.name == "agent-dk-uat"
    assert state.id == "139d7b8cb3bc"
    assert state.running
    assert state.health == "healthy"
    assert state.version == "v7"
    assert state.user == "10001:10001"


def test_parse_inspect_without_health() -> None:
    data = json.loads(json.dumps(INSPECT))
    del data[0]["State"]["Health"]
    data[0]["State"]["Status"] = "exited"
    state = parse_inspect(json.dumps(data))
    assert state.health is None
    assert not state.running


def test_digest_ref_picks_repository() -> None:
    digests = json.dumps(
        ["other.example.internal/agent-dk@sha256:" + "c" * 64, "127.0.0.1:5000/agent-dk@sha256:" + "d" * 64]
    )
    assert digest_ref(digests, "127.0.0.1:5000/agent-dk") == "127.0.0.1:5000/agent-dk@sha256:" + "d" * 64
    assert digest_ref("null", "127.0.0.1:5000/agent-dk") is None
