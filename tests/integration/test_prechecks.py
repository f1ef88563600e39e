"""Each pre-deployment check, driven to pass and to fail on the sandbox."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.integration.configs import write_config
from tests.integration.conftest import REPO, ReleaseImages, Sandbox, http_version

SCANNER_DATA = REPO / "tests" / "data" / "scanners"
BACKUP_ROOT = Path("/tmp/agent-dk-it-backups")
SQUATTER = "agent-dk-it-port-squatter"


def prechecks(sandbox: Sandbox, *args: str, config: Path | None = None, extra_env: dict[str, str] | None = None):
    env = dict(extra_env or {})
    if config is not None:
        env["AGENT_DK_CONFIG"] = str(config)
    return sandbox.invoke("prechecks", *args, extra_env=env)


def result_line(output: str, check: str, status: str) -> str:
    """Return every RESULT line of one check and status, joined, and fail when there is none."""
    lines = [line for line in output.splitlines() if line.startswith(f"RESULT {check} {status} ")]
    assert lines, f"no RESULT {check} {status} line in:\n{output}"
    return "\n".join(lines)


@pytest.fixture
def deployed(sandbox: Sandbox, images: ReleaseImages) -> str:
    completed = sandbox.invoke("deploy", "--env=uat", f"--version={images.v1}")
    assert completed.returncode == 0, completed.stderr
    return images.v1


def test_all_checks_pass_on_healthy_sandbox(sandbox: Sandbox, deployed: str) -> None:
    started = time.monotonic()
    completed = prechecks(sandbox, "--env=uat", f"--version={deployed}")
    seconds = time.monotonic() - started
    assert completed.returncode == 0, completed.stdout + completed.stderr
    for check in ("disk", "network", "freeze"):
        result_line(completed.stdout, check, "pass")
    result_line(completed.stdout, "gpu", "skip")
    result_line(completed.stdout, "backup", "skip")
    result_line(completed.stdout, "security", "warn")
    # One SSH connection serves every server check; the whole run stays well under 5 s.
    assert seconds < 5


def test_script_all_passes_on_server(sandbox: Sandbox, deployed: str) -> None:
    completed = subprocess.run(
        ["bash", str(REPO / "scripts" / "prechecks.sh"), "--registry", "127.0.0.1:5000", "all"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "RESULT network pass port: 18080 is held by uat's own agent-dk-uat" in completed.stdout
    assert "fail" not in completed.stdout.replace("RESULT", "")


def make_backup(age_hours: float, *, corrupt: bool = False) -> Path:
    shutil.rmtree(BACKUP_ROOT, ignore_errors=True)
    BACKUP_ROOT.mkdir(mode=0o755)
    backup = BACKUP_ROOT / "db-20261204.tar.gz"
    backup.write_bytes(b"backup contents")
    digest = hashlib.sha256(b"other contents" if corrupt else b"backup contents").hexdigest()
    (BACKUP_ROOT / "db-20261204.tar.gz.sha256").write_text(f"{digest}  {backup.name}\n")
    stamp = time.time() - age_hours * 3600
    os.utime(backup, (stamp, stamp))
    for path in (BACKUP_ROOT, backup, BACKUP_ROOT / "db-20261204.tar.gz.sha256"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return backup


@pytest.mark.parametrize(
    ("age_hours", "corrupt", "status", "expected"),
    [
        (1, False, "pass", "sha256 verifies"),
        (30, False, "fail", "older than the maximum of 26 h"),
        (1, True, "fail", "does not match"),
    ],
)
def test_backup_check(
    sandbox: Sandbox, deployed: str, tmp_path: Path, age_hours: float, corrupt: bool, status: str, expected: str
) -> None:
    make_backup(age_hours, corrupt=corrupt)
    config = write_config(tmp_path, {"uat": {"backup_path": str(BACKUP_ROOT)}})
    completed = prechecks(sandbox, "--env=uat", "--only=backup", f"--version={deployed}", config=config)
    assert completed.returncode == (0 if status == "pass" else 1)
    assert expected in result_line(completed.stdout, "backup", status)


def test_backup_missing_fails_production(sandbox: Sandbox, deployed: str) -> None:
    completed = prechecks(sandbox, "--env=prod", "--only=backup", f"--version={deployed}")
    assert completed.returncode == 1
    assert "production treats this warning as a failure" in result_line(completed.stdout, "backup", "fail")


def test_backup_override_is_warning(sandbox: Sandbox, deployed: str) -> None:
    completed = prechecks(
        sandbox, "--env=prod", "--only=backup", f"--version={deployed}", "--override=backup", "--reason=restore drill"
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "overridden (restore drill)" in result_line(completed.stdout, "backup", "warn")


def test_freeze_check_fails_inside_window(sandbox: Sandbox, deployed: str, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    window = {
        "name": "incident",
        "reason": "Incident review in progress",
        "environments": ["uat"],
        "start": (now - timedelta(hours=1)).isoformat(),
        "end": (now + timedelta(hours=2)).isoformat(),
    }
    config = write_config(tmp_path, freeze=[window])
    completed = prechecks(sandbox, "--env=uat", "--only=freeze", f"--version={deployed}", config=config)
    assert completed.returncode == 1
    line = result_line(completed.stdout, "freeze", "fail")
    assert "Incident review in progress" in line
    assert "until" in line


def test_freeze_blocks_deploy_unless_overridden(
    sandbox: Sandbox, images: ReleaseImages, deployed: str, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    window = {
        "name": "incident",
        "reason": "Incident review in progress",
        "start": (now - timedelta(hours=1)).isoformat(),
        "end": (now + timedelta(hours=2)).isoformat(),
    }
    config = write_config(tmp_path, freeze=[window])
    before = sandbox.snapshot()
    blocked = sandbox.invoke(
        "deploy", "--env=uat", f"--version={images.v2}", extra_env={"AGENT_DK_CONFIG": str(config)}
    )
    assert blocked.returncode == 1
    assert "Incident review in progress" in blocked.stderr
    assert sandbox.snapshot() == before
    overridden = sandbox.invoke(
        "deploy", "--env=uat", f"--version={images.v2}", "--override=freeze", "--reason=hotfix for the incident",
        extra_env={"AGENT_DK_CONFIG": str(config)},
    )  # fmt: skip
    assert overridden.returncode == 0, overridden.stderr
    assert "change freeze overridden (hotfix for the incident)" in overridden.stderr
    assert http_version(18080) == images.v2


def test_security_check_with_reports(sandbox: Sandbox, deployed: str) -> None:
    failing = prechecks(
        sandbox,
        "--env=uat",
        "--only=security",
        f"--version={deployed}",
        f"--security-report=trivy:{SCANNER_DATA / 'trivy.json'}",
    )
    assert failing.returncode == 1
    assert "at or above HIGH" in result_line(failing.stdout, "security", "fail")
    passing = prechecks(
        sandbox,
        "--env=uat",
        "--only=security",
        f"--version={deployed}",
        f"--security-report=trivy:{SCANNER_DATA / 'trivy-clean.json'}",
    )
    assert passing.returncode == 0, passing.stdout + passing.stderr
    result_line(passing.stdout, "security", "pass")


def test_security_without_scanner_fails_production(sandbox: Sandbox, deployed: str) -> None:
    completed = prechecks(sandbox, "--env=prod", "--only=security", f"--version={deployed}")
    assert completed.returncode == 1
    line = result_line(completed.stdout, "security", "fail")
    assert "no scanner installed" in line
    assert "--override=security" in line


def test_disk_check_fails_below_minimum(sandbox: Sandbox, deployed: str, tmp_path: Path) -> None:
    config = write_config(tmp_path, {"uat": {"min_free_disk_mb": 999_999_999}})
    completed = prechecks(sandbox, "--env=uat", "--only=disk", f"--version={deployed}", config=config)
    assert completed.returncode == 1
    assert "below the minimum of 999999999 MiB" in result_line(completed.stdout, "disk", "fail")


def test_network_check_names_port_holder(sandbox: Sandbox, images: ReleaseImages, tmp_path: Path) -> None:
    sandbox.docker("rm", "--force", SQUATTER, check=False)
    sandbox.docker(
        "run", "--detach", "--name", SQUATTER, "--publish", "127.0.0.1:18095:8080",
        f"127.0.0.1:5000/agent-dk:{images.v1}",
    )  # fmt: skip
    try:
        config = write_config(tmp_path, {"uat": {"port": 18095}})
        completed = prechecks(sandbox, "--env=uat", "--only=network", f"--version={images.v1}", config=config)
    finally:
        sandbox.docker("rm", "--force", SQUATTER, check=False)
    assert completed.returncode == 1
    assert f"held by container {SQUATTER}" in result_line(completed.stdout, "network", "fail")


def test_network_check_fails_without_registry(sandbox: Sandbox, deployed: str) -> None:
    completed = prechecks(
        sandbox, "--env=uat", "--only=network", f"--version={deployed}", extra_env={"REGISTRY": "127.0.0.1:5999"}
    )
    assert completed.returncode == 1
    assert "127.0.0.1:5999 does not answer" in result_line(completed.stdout, "network", "fail")


def test_gpu_check_fails_without_runtime(sandbox: Sandbox, deployed: str) -> None:
    completed = prechecks(
        sandbox, "--env=uat", "--only=gpu", f"--version={deployed}", extra_env={"GPUS_OVERRIDE": "all"}
    )
    assert completed.returncode == 1
    line = result_line(completed.stdout, "gpu", "fail")
    assert "no NVIDIA runtime" in line
    assert "NVIDIA Container Toolkit" in line


def test_prod_deploy_without_approval_changes_nothing(sandbox: Sandbox, images: ReleaseImages) -> None:
    before = sandbox.state()
    completed = sandbox.invoke("deploy", "--env=prod", f"--version={images.v1}")
    assert completed.returncode == 2
    assert "requires approval" in completed.stderr
    assert sandbox.state() == before
