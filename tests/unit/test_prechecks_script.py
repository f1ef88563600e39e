"""scripts/prechecks.sh on its own: argument checks and the GPU parsing, with a fake nvidia-smi."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "prechecks.sh"

# Fakes for a GPU host: nvidia-smi prints two GPUs, docker reports an NVIDIA runtime.
FAKE_NVIDIA_SMI = """#!/bin/sh
echo "0, NVIDIA A100-SXM4-40GB, 40960, 30000"
echo "1, NVIDIA A100-SXM4-40GB, 40960, 12000"
"""
FAKE_DOCKER = """#!/bin/sh
echo '{"io.containerd.runc.v2":{"path":"runc"},"nvidia":{"path":"nvidia-container-runtime"}}'
"""


def run(*args: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {"PATH": path or "/usr/bin:/bin", "HOME": "/tmp"}
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, env=env, check=False)


@pytest.fixture
def gpu_host(tmp_path: Path) -> str:
    for name, text in (("nvidia-smi", FAKE_NVIDIA_SMI), ("docker", FAKE_DOCKER)):
        fake = tmp_path / name
        fake.write_text(text)
        fake.chmod(0o755)
    return f"{tmp_path}:/usr/bin:/bin"


def test_gpu_reports_free_memory(gpu_host: str) -> None:
    completed = run("--gpus", "all", "gpu", path=gpu_host)
    assert completed.returncode == 0, completed.stderr
    assert "GPU 0 NVIDIA A100-SXM4-40GB 30000/40960 MiB free" in completed.stdout
    assert "GPU 1 NVIDIA A100-SXM4-40GB 12000/40960 MiB free" in completed.stdout


def test_gpu_hint_blue_green_fits(gpu_host: str) -> None:
    completed = run("--gpus", "all", "--gpu-memory-mb", "10000", "gpu", path=gpu_host)
    assert "blue-green fits: 12000 MiB free per GPU holds a second 10000 MiB release" in completed.stdout


def test_gpu_hint_recreate(gpu_host: str) -> None:
    completed = run("--gpus", "all", "--gpu-memory-mb", "20000", "gpu", path=gpu_host)
    assert 'use strategy = "recreate"' in completed.stdout


def test_gpu_skipped_without_request() -> None:
    completed = run("gpu")
    assert completed.returncode == 0
    assert completed.stdout.startswith("RESULT gpu skip")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--port", "99999", "disk"], "invalid --port '99999'"),
        (["--gpus", "some", "gpu"], "invalid --gpus 'some'"),
        (["--min-free-mb", "lots", "disk"], "invalid --min-free-mb 'lots'"),
        (["diks"], "unknown check or option 'diks'"),
        ([], "no check given"),
    ],
)
def test_script_rejects_bad_arguments(args: list[str], expected: str) -> None:
    completed = run(*args)
    assert completed.returncode == 2
    assert expected in completed.stderr
