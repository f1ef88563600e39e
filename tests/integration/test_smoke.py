"""Post-deployment smoke checks, each driven to pass and to fail on the sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.configs import write_config
from tests.integration.conftest import ReleaseImages, Sandbox

CHECKS = ("health", "version", "api", "gpu", "latency", "tls", "container")


def smoke(sandbox: Sandbox, *args: str, extra_env: dict[str, str] | None = None):
    return sandbox.invoke("smoke", "--env=uat", *args, extra_env=extra_env)


def status_of(output: str, check: str) -> str:
    lines = [line for line in output.splitlines() if line.startswith(f"RESULT {check} ")]
    assert len(lines) == 1, f"expected one RESULT {check} line in:\n{output}"
    return lines[0].split()[2]


def deploy(sandbox: Sandbox, version: str) -> None:
    completed = sandbox.invoke("deploy", "--env=uat", f"--version={version}")
    assert completed.returncode == 0, completed.stderr


def test_smoke_passes_after_deploy(sandbox: Sandbox, images: ReleaseImages) -> None:
    deploy(sandbox, images.v1)
    completed = smoke(sandbox)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    for check in ("health", "version", "api", "latency", "container"):
        assert status_of(completed.stdout, check) == "pass"
    assert status_of(completed.stdout, "gpu") == "skip"
    assert status_of(completed.stdout, "tls") == "skip"


def test_smoke_wrong_version_fails(sandbox: Sandbox, images: ReleaseImages) -> None:
    deploy(sandbox, images.v1)
    completed = smoke(sandbox, "--version=not-what-serves")
    assert completed.returncode == 1
    assert status_of(completed.stdout, "version") == "fail"
    assert "expected 'not-what-serves'" in completed.stdout


def test_smoke_broken_api_fails(sandbox: Sandbox, images: ReleaseImages) -> None:
    deploy(sandbox, images.broken_api)
    completed = smoke(sandbox)
    assert completed.returncode == 1
    assert status_of(completed.stdout, "api") == "fail"
    assert status_of(completed.stdout, "health") == "pass"


def test_smoke_stopped_release_fails(sandbox: Sandbox, images: ReleaseImages) -> None:
    deploy(sandbox, images.v1)
    serving = sandbox.serving("uat")
    sandbox.docker("stop", serving)
    try:
        completed = smoke(sandbox)
    finally:
        sandbox.docker("start", serving)
    assert completed.returncode == 1
    assert status_of(completed.stdout, "health") == "fail"
    assert status_of(completed.stdout, "container") == "fail"


@pytest.mark.parametrize(("release", "expected"), [("fake_gpu", "pass"), ("v1", "fail")])
def test_smoke_gpu_inside_container(sandbox: Sandbox, images: ReleaseImages, release: str, expected: str) -> None:
    deploy(sandbox, getattr(images, release))
    # The sandbox .env turns GPUs off for deploys, so the smoke run turns them on again.
    completed = smoke(sandbox, extra_env={"GPUS_OVERRIDE": "all"})
    assert status_of(completed.stdout, "gpu") == expected


def test_smoke_latency_over_budget_fails(sandbox: Sandbox, images: ReleaseImages, tmp_path: Path) -> None:
    deploy(sandbox, images.slow)
    config = write_config(tmp_path, {"uat": {"latency_p50_ms": 20, "latency_p95_ms": 40, "latency_requests": 5}})
    completed = smoke(sandbox, extra_env={"AGENT_DK_CONFIG": str(config)})
    assert completed.returncode == 1
    assert status_of(completed.stdout, "latency") == "fail"
    assert "budget p50 20 ms" in completed.stdout
