from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.gpu import parse_nvidia_smi_csv
from app.main import MAX_TEXT_CHARS, app

FAKE_NVIDIA_SMI = """#!/bin/sh
# Fake nvidia-smi for tests: prints two GPUs in the CSV query format.
echo "0, NVIDIA A100-SXM4-40GB, GPU-aaaa, 40960, 1024"
echo "1, NVIDIA A100-SXM4-40GB, GPU-bbbb, 40960, 0"
"""


@pytest.fixture
def client() -> TestClient:
    with TestClient(app) as test_client:
        yield test_client


def test_health_returns_ok(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_after_startup(client: TestClient) -> None:
    response = client.get("/ready")
    assert response.status_code == 200
    assert response.json() == {"ready": True}


def test_version_reads_build_identity(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_VERSION", "v1.2.3")
    monkeypatch.setenv("APP_GIT_SHA", "abc123")
    monkeypatch.setenv("APP_ENV", "uat")
    monkeypatch.setenv("APP_BUILD_TIME", "2026-12-04T10:00:00Z")
    assert client.get("/version").json() == {
        "version": "v1.2.3",
        "git_sha": "abc123",
        "environment": "uat",
        "build_time": "2026-12-04T10:00:00Z",
    }


def test_gpu_without_nvidia_smi(client: TestClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    body = client.get("/gpu").json()
    assert body["gpus"] == []
    assert "nvidia-smi not found" in body["reason"]


def test_gpu_with_fake_nvidia_smi(client: TestClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = tmp_path / "nvidia-smi"
    fake.write_text(FAKE_NVIDIA_SMI)
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    body = client.get("/gpu").json()
    assert body["reason"] is None
    assert [gpu["index"] for gpu in body["gpus"]] == [0, 1]
    assert body["gpus"][0]["memory_used_mib"] == 1024


def test_gpu_reports_failing_nvidia_smi(client: TestClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = tmp_path / "nvidia-smi"
    fake.write_text(
        "#!/bin/sh\necho 'NVIDIA-SMI has failed because it could not communicate with the driver' >&2\nexit 9\n"
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    body = client.get("/gpu").json()
    assert body["gpus"] == []
    assert "exit code 9" in body["reason"]
    assert "could not communicate" in body["reason"]


def test_similarity_of_identical_texts(client: TestClient) -> None:
    response = client.post("/v1/similarity", json={"left": "GPU server", "right": "GPU server"})
    assert response.status_code == 200
    assert response.json() == {"similarity": 1.0}


def test_similarity_of_unrelated_texts(client: TestClient) -> None:
    response = client.post("/v1/similarity", json={"left": "abc", "right": "xyz"})
    assert response.json() == {"similarity": 0.0}


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"left": "only one side"},
        {"left": "", "right": "x"},
        {"left": "x", "right": 5},
        {"left": "x", "right": "y" * (MAX_TEXT_CHARS + 1)},
        ["left", "right"],
    ],
)
def test_similarity_rejects_bad_input(client: TestClient, payload: object) -> None:
    assert client.post("/v1/similarity", json=payload).status_code == 422


def test_similarity_rejects_invalid_json(client: TestClient) -> None:
    response = client.post("/v1/similarity", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422


def test_parse_nvidia_smi_rejects_unknown_format() -> None:
    with pytest.raises(ValueError, match="unexpected nvidia-smi line"):
        parse_nvidia_smi_csv("0, A100\n")
