"""Deploys through SSH to the sandbox: the basic path, bad input and host keys."""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.conftest import UAT_PORT, ReleaseImages, Sandbox, http_version
from tests.keys import ed25519_public_openssh


def deploy(sandbox: Sandbox, version: str, *extra: str, env: str = "uat"):
    return sandbox.invoke("deploy", f"--env={env}", f"--version={version}", *extra)


def test_deploy_serves_new_tag_as_non_root(sandbox: Sandbox, images: ReleaseImages) -> None:
    completed = deploy(sandbox, images.v1)
    assert completed.returncode == 0, completed.stderr
    assert http_version(UAT_PORT) == images.v1
    serving = sandbox.serving("uat")
    assert sandbox.docker("inspect", "--format", "{{.Config.User}}", serving).strip() == "10001:10001"
    assert sandbox.docker("exec", serving, "id", "-u").strip() == "10001"


def test_release_runs_hardened(sandbox: Sandbox, images: ReleaseImages) -> None:
    assert deploy(sandbox, images.v1).returncode == 0
    inspected = json.loads(sandbox.docker("inspect", sandbox.serving("uat")))[0]
    host = inspected["HostConfig"]
    assert inspected["Config"]["User"] == "10001:10001"
    assert host["ReadonlyRootfs"] is True
    assert "no-new-privileges" in host["SecurityOpt"]
    assert host["CapDrop"] == ["ALL"]
    assert host["Memory"] == 4 * 1024**3
    assert host["PidsLimit"] == 512
    assert host["RestartPolicy"]["Name"] == "unless-stopped"
    assert "/tmp" in host["Tmpfs"]
    assert not host["PortBindings"]
    assert inspected["Config"]["Healthcheck"]["Interval"] == 1_000_000_000
    assert "APP_ENV=uat" in inspected["Config"]["Env"]


def test_redeploy_same_version_changes_nothing(sandbox: Sandbox, images: ReleaseImages) -> None:
    assert deploy(sandbox, images.v1).returncode == 0
    before = sandbox.snapshot()
    completed = deploy(sandbox, images.v1)
    assert completed.returncode == 0, completed.stderr
    assert f"uat already serves version {images.v1}" in completed.stdout
    assert sandbox.snapshot() == before


def test_force_starts_fresh_container(sandbox: Sandbox, images: ReleaseImages) -> None:
    assert deploy(sandbox, images.v1).returncode == 0
    before = sandbox.serving("uat")
    completed = deploy(sandbox, images.v1, "--force")
    assert completed.returncode == 0, completed.stderr
    assert sandbox.serving("uat") != before
    assert http_version(UAT_PORT) == images.v1


def test_unpushed_version_fails_before_change(sandbox: Sandbox, images: ReleaseImages) -> None:
    assert deploy(sandbox, images.v1).returncode == 0
    before = sandbox.snapshot()
    completed = deploy(sandbox, "it-never-pushed")
    assert completed.returncode == 1
    assert "cannot pull 127.0.0.1:5000/agent-dk:it-never-pushed" in completed.stderr
    assert sandbox.snapshot() == before
    assert http_version(UAT_PORT) == images.v1


def test_bad_input_leaves_server_unchanged(sandbox: Sandbox, images: ReleaseImages) -> None:
    assert deploy(sandbox, images.v1).returncode == 0
    before = sandbox.snapshot()
    for args, expected in (
        (["--env=nope", f"--version={images.v2}"], "unknown environment 'nope'"),
        (["--env=uat", "--version=bad tag;rm"], "invalid --version 'bad tag;rm'"),
    ):
        completed = sandbox.invoke("deploy", *args)
        assert completed.returncode == 2
        assert expected in completed.stderr
        assert len(completed.stderr.strip().splitlines()) == 1
    assert sandbox.snapshot() == before
    assert http_version(UAT_PORT) == images.v1


def test_dry_run_changes_nothing(sandbox: Sandbox, images: ReleaseImages) -> None:
    assert deploy(sandbox, images.v1).returncode == 0
    before = sandbox.snapshot()
    completed = deploy(sandbox, images.v2, "--dry-run")
    assert completed.returncode == 0, completed.stderr
    assert f"docker pull --quiet 127.0.0.1:5000/agent-dk:{images.v2}" in completed.stdout
    assert "docker container exec agent-dk-uat nginx -s reload" in completed.stdout
    assert sandbox.snapshot() == before
    assert http_version(UAT_PORT) == images.v1


def test_changed_host_key_is_rejected(sandbox: Sandbox, images: ReleaseImages, tmp_path: Path) -> None:
    assert deploy(sandbox, images.v1).returncode == 0
    before = sandbox.snapshot()
    wrong = tmp_path / "known_hosts"
    wrong.write_text("[127.0.0.1]:2222 " + ed25519_public_openssh() + "\n")
    completed = sandbox.invoke(
        "deploy", "--env=uat", f"--version={images.v2}", extra_env={"SSH_KNOWN_HOSTS_FILE": str(wrong)}
    )
    assert completed.returncode == 1
    assert "does not match the pinned one" in completed.stderr
    assert completed.stderr.count("SHA256:") == 2
    assert sandbox.snapshot() == before


def test_unknown_host_key_is_rejected(sandbox: Sandbox, images: ReleaseImages, tmp_path: Path) -> None:
    other = tmp_path / "known_hosts"
    other.write_text("gpu-server.example.internal " + ed25519_public_openssh() + "\n")
    before = sandbox.snapshot()
    completed = sandbox.invoke(
        "deploy", "--env=uat", f"--version={images.v2}", extra_env={"SSH_KNOWN_HOSTS_FILE": str(other)}
    )
    assert completed.returncode == 1
    assert "is not in SSH_KNOWN_HOSTS" in completed.stderr
    assert "the server offered ssh-ed25519 SHA256:" in completed.stderr
    assert "adding this line to SSH_KNOWN_HOSTS: [127.0.0.1]:2222 ssh-ed25519 " in completed.stderr
    assert sandbox.snapshot() == before


def test_status_reports_serving_version(sandbox: Sandbox, images: ReleaseImages) -> None:
    assert deploy(sandbox, images.v1).returncode == 0
    completed = sandbox.invoke("status", "--env=uat")
    assert completed.returncode == 0, completed.stderr
    assert f"port {UAT_PORT} reports version {images.v1}" in completed.stdout
    assert f"version {images.v1} (running, health healthy)" in completed.stdout
    assert "proxy:       agent-dk-uat (running) on port 18080 -> r-" in completed.stdout


def test_logs_show_serving_release(sandbox: Sandbox, images: ReleaseImages) -> None:
    assert deploy(sandbox, images.v1).returncode == 0
    completed = sandbox.invoke("logs", "--env=uat", "--lines=20")
    assert completed.returncode == 0, completed.stderr
    assert "Uvicorn running on http://0.0.0.0:8080" in completed.stdout


def test_setup_is_idempotent(sandbox: Sandbox, images: ReleaseImages) -> None:
    assert deploy(sandbox, images.v1).returncode == 0
    before = sandbox.snapshot()
    completed = sandbox.invoke("setup", "--env=uat")
    assert completed.returncode == 0, completed.stderr
    assert "network: agent-dk-uat exists" in completed.stdout
    assert "proxy: proxy agent-dk-uat is running" in completed.stdout
    assert "live-restore:" in completed.stdout
    assert sandbox.snapshot() == before
