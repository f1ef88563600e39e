from __future__ import annotations

from pathlib import Path

from tests.integration.conftest import UAT_PORT, ReleaseImages, Sandbox, http_version
from tests.keys import ed25519_public_openssh

CONTAINER = "agent-dk-uat"
PREVIOUS = "agent-dk-uat-previous"


def deploy(sandbox: Sandbox, version: str, *extra: str):
    return sandbox.invoke("deploy", "--env=uat", f"--version={version}", *extra)


def test_deploy_serves_new_tag_as_non_root(sandbox: Sandbox, images: ReleaseImages) -> None:
    completed = deploy(sandbox, images.v1)
    assert completed.returncode == 0, completed.stderr
    assert http_version(UAT_PORT) == images.v1
    assert sandbox.docker("inspect", "--format", "{{.Config.User}}", CONTAINER).strip() == "10001:10001"
    assert sandbox.docker("exec", CONTAINER, "id", "-u").strip() == "10001"


def test_redeploy_same_version_changes_nothing(sandbox: Sandbox, images: ReleaseImages) -> None:
    assert deploy(sandbox, images.v1).returncode == 0
    before = sandbox.container_id(CONTAINER)
    completed = deploy(sandbox, images.v1)
    assert completed.returncode == 0, completed.stderr
    assert f"uat already serves version {images.v1}" in completed.stdout
    assert sandbox.container_id(CONTAINER) == before


def test_force_replaces_same_version(sandbox: Sandbox, images: ReleaseImages) -> None:
    assert deploy(sandbox, images.v1).returncode == 0
    before = sandbox.container_id(CONTAINER)
    completed = deploy(sandbox, images.v1, "--force")
    assert completed.returncode == 0, completed.stderr
    assert sandbox.container_id(CONTAINER) != before
    assert http_version(UAT_PORT) == images.v1


def test_new_version_replaces_old(sandbox: Sandbox, images: ReleaseImages) -> None:
    assert deploy(sandbox, images.v1).returncode == 0
    completed = deploy(sandbox, images.v2)
    assert completed.returncode == 0, completed.stderr
    assert f"uat serves version {images.v2}" in completed.stdout
    assert http_version(UAT_PORT) == images.v2
    assert sandbox.container_id(PREVIOUS) is None


def test_crashing_release_restores_previous(sandbox: Sandbox, images: ReleaseImages) -> None:
    assert deploy(sandbox, images.v2).returncode == 0
    completed = deploy(sandbox, images.crashing)
    assert completed.returncode == 1
    assert "crashed while starting" in completed.stderr
    assert "fake crash at start" in completed.stderr
    assert f"serves version {images.v2} again" in completed.stderr
    assert http_version(UAT_PORT) == images.v2
    assert sandbox.container_id(PREVIOUS) is None


def test_interrupted_deploy_is_recovered(sandbox: Sandbox, images: ReleaseImages) -> None:
    assert deploy(sandbox, images.v1).returncode == 0
    # What a deploy killed between stopping the old container and starting the new one leaves.
    sandbox.docker("stop", CONTAINER)
    sandbox.docker("rename", CONTAINER, PREVIOUS)
    completed = deploy(sandbox, images.v2)
    assert completed.returncode == 0, completed.stderr
    assert "earlier deploy was interrupted" in completed.stderr
    assert http_version(UAT_PORT) == images.v2
    assert sandbox.container_id(PREVIOUS) is None


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
    assert "SHA256:" in completed.stderr
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
    assert "adding this line to SSH_KNOWN_HOSTS: [127.0.0.1]:2222 ssh-ed25519 " in completed.stderr
    assert sandbox.snapshot() == before


def test_status_reports_serving_version(sandbox: Sandbox, images: ReleaseImages) -> None:
    assert deploy(sandbox, images.v1).returncode == 0
    completed = sandbox.invoke("status", "--env=uat")
    assert completed.returncode == 0, completed.stderr
    assert f"reports version {images.v1}" in completed.stdout
    assert "agent-dk-uat (running" in completed.stdout
