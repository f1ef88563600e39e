"""Rollback, release history, the deploy lock and the audit trail, on the sandbox."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from bench.load import Load
from tests.integration.conftest import REPO, UAT_PORT, ReleaseImages, Sandbox, http_version

STATE = Path("/home/deploy/.agent-dk/uat")


def deploy(sandbox: Sandbox, version: str, *extra: str):
    return sandbox.invoke("deploy", "--env=uat", f"--version={version}", *extra)


def make(sandbox: Sandbox, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", *args], cwd=REPO, env=sandbox.env, capture_output=True, text=True, check=False
    )


@pytest.fixture
def three_releases(sandbox: Sandbox, images: ReleaseImages) -> ReleaseImages:
    for version in (images.v1, images.v2, images.v3):
        completed = deploy(sandbox, version)
        assert completed.returncode == 0, completed.stderr
    return images


def test_rollback_walks_back_under_load(sandbox: Sandbox, three_releases: ReleaseImages) -> None:
    images = three_releases
    with Load(UAT_PORT) as load:
        completed = make(sandbox, "rollback", "ENV=uat", 'REASON=test "quoted" reason')
    summary = load.summary()
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert summary.failed == 0, summary.errors
    assert http_version(UAT_PORT) == images.v2
    assert 'reason: test "quoted" reason' in completed.stdout

    releases = sandbox.invoke("releases", "--env=uat")
    assert releases.returncode == 0, releases.stderr
    rows = releases.stdout.splitlines()
    assert rows[1].startswith(images.v2)
    assert f"serving (rollback from {images.v3})" in rows[1]
    assert rows[2].startswith(images.v3)
    assert "replaced by a rollback" in rows[2]
    assert sum("serving" in row for row in rows[1:]) == 1

    second = sandbox.invoke("rollback", "--env=uat", "--reason=walk back again")
    assert second.returncode == 0, second.stderr
    assert http_version(UAT_PORT) == images.v1


def test_later_deploy_starts_new_head(sandbox: Sandbox, three_releases: ReleaseImages) -> None:
    images = three_releases
    assert sandbox.invoke("rollback", "--env=uat", "--reason=bad v3").returncode == 0
    assert deploy(sandbox, images.disposable).returncode == 0
    completed = sandbox.invoke("rollback", "--env=uat", "--reason=bad disposable")
    assert completed.returncode == 0, completed.stderr
    # v3 was rolled back from, so the release before the new head is v2.
    assert http_version(UAT_PORT) == images.v2


def test_rollback_to_current_is_noop(sandbox: Sandbox, three_releases: ReleaseImages) -> None:
    before = sandbox.snapshot()
    completed = sandbox.invoke("rollback", "--env=uat", f"--to={three_releases.v3}", "--reason=no-op")
    assert completed.returncode == 0, completed.stderr
    assert "nothing to roll back" in completed.stdout
    assert sandbox.snapshot() == before


def test_rollback_dry_run_changes_nothing(sandbox: Sandbox, three_releases: ReleaseImages) -> None:
    before = sandbox.snapshot()
    completed = sandbox.invoke("rollback", "--env=uat", "--reason=rehearsal", "--dry-run")
    assert completed.returncode == 0, completed.stderr
    assert f"to:     {three_releases.v2}" in completed.stdout
    assert sandbox.snapshot() == before


def delete_from_registry(image: str) -> None:
    repository, digest = image.split("@")
    name = repository.split("/", 1)[1]
    request = urllib.request.Request(f"http://127.0.0.1:5000/v2/{name}/manifests/{digest}", method="DELETE")
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback registry)
        assert response.status == 202


def test_rollback_to_removed_image_fails_before_change(sandbox: Sandbox, images: ReleaseImages) -> None:
    assert deploy(sandbox, images.disposable).returncode == 0
    image = sandbox.docker("inspect", "--format", "{{.Config.Image}}", sandbox.serving("uat")).strip()
    for version in (images.v1, images.v2):
        assert deploy(sandbox, version).returncode == 0
    sandbox.docker("rm", "--force", f"agent-dk-uat-{images.disposable}")
    # The server and the build machine share one engine here: remove every name of the image.
    image_id = sandbox.docker("image", "inspect", "--format", "{{.Id}}", image).strip()
    sandbox.docker("image", "rm", "--force", image_id)
    delete_from_registry(image)
    before = sandbox.snapshot()
    completed = sandbox.invoke("rollback", "--env=uat", f"--to={images.disposable}", "--reason=needs the old one")
    assert completed.returncode == 1
    assert f"the image of {images.disposable}" in completed.stderr
    assert "cannot be pulled" in completed.stderr
    assert images.v1 in completed.stderr
    assert sandbox.snapshot() == before
    assert http_version(UAT_PORT) == images.v2


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], "missing --reason"),
        (["--reason="], "it is empty"),
        (["--reason=line one\nline two"], "contains a newline"),
        (["--reason=bell\x07"], "control character"),
        (["--reason=ok", "--to=bad tag"], "invalid --to 'bad tag'"),
    ],
)
def test_rollback_rejects_bad_input(
    sandbox: Sandbox, three_releases: ReleaseImages, args: list[str], expected: str
) -> None:
    before = sandbox.snapshot()
    completed = sandbox.invoke("rollback", "--env=uat", *args)
    assert completed.returncode == 2
    assert expected in completed.stderr
    assert sandbox.snapshot() == before


def test_prod_rollback_needs_approval(sandbox: Sandbox, images: ReleaseImages) -> None:
    before = sandbox.snapshot()
    completed = sandbox.invoke("rollback", "--env=prod", "--reason=try without approval")
    assert completed.returncode == 2
    assert "requires approval" in completed.stderr
    assert sandbox.snapshot() == before


def test_concurrent_deploys_one_proceeds(sandbox: Sandbox, images: ReleaseImages) -> None:
    assert deploy(sandbox, images.v1).returncode == 0
    commands = [
        [sys.executable, "-m", "invoke", "deploy", "--env=uat", f"--version={version}"]
        for version in (images.v2, images.v3)
    ]
    processes = [
        subprocess.Popen(command, cwd=REPO, env=sandbox.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for command in commands
    ]
    outcomes = [(process.wait(timeout=120), process.stderr.read()) for process in processes]
    codes = sorted(code for code, _ in outcomes)
    assert codes == [0, 1], outcomes
    loser = next(stderr for code, stderr in outcomes if code == 1)
    assert "uat is locked: held by" in loser
    assert "(deploy)" in loser


def test_stale_lock_is_reported_and_removed(sandbox: Sandbox, images: ReleaseImages) -> None:
    assert deploy(sandbox, images.v1).returncode == 0
    lock = STATE / "lock"
    lock.mkdir(mode=0o700)
    info = {
        "holder": "ci-runner-7", "host": "runner-7", "pid": 4242, "action": "deploy", "reason": "",
        "run_url": "", "started_at": "2026-01-01T00:00:00Z", "token": "deadbeef",
    }  # fmt: skip
    (lock / "info.json").write_text(json.dumps(info))
    subprocess.run(["chown", "-R", "deploy:deploy", str(lock)], check=True)

    shown = sandbox.invoke("lock", "--env=uat")
    assert "held by ci-runner-7" in shown.stdout
    assert "STALE" in shown.stdout
    blocked = deploy(sandbox, images.v2)
    assert blocked.returncode == 1
    assert "held by ci-runner-7" in blocked.stderr

    removed = sandbox.invoke("unlock", "--env=uat", "--reason=runner 7 was killed")
    assert removed.returncode == 0, removed.stderr
    assert not lock.exists()
    trail = sandbox.invoke("audit", "--env=uat", "--last=1")
    assert "unlock  succeeded" in trail.stdout
    assert "reason=runner 7 was killed" in trail.stdout
    assert deploy(sandbox, images.v2).returncode == 0


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupted_deploy_releases_lock(sandbox: Sandbox, images: ReleaseImages, signum: int) -> None:
    assert deploy(sandbox, images.v1).returncode == 0
    process = subprocess.Popen(
        [sys.executable, "-m", "invoke", "deploy", "--env=uat", f"--version={images.never_healthy}"],
        cwd=REPO,
        env=sandbox.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not (STATE / "lock").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(2)
    process.send_signal(signum)
    process.wait(timeout=60)
    assert process.returncode != 0
    assert not (STATE / "lock").exists()
    assert http_version(UAT_PORT) == images.v1
    assert deploy(sandbox, images.v2).returncode == 0


def test_audit_detects_edited_line(sandbox: Sandbox, images: ReleaseImages) -> None:
    assert deploy(sandbox, images.v1).returncode == 0
    assert deploy(sandbox, images.v2).returncode == 0
    assert sandbox.invoke("audit", "--env=uat", "--verify").returncode == 0
    path = STATE / "audit.jsonl"
    original = path.read_bytes()
    lines = original.splitlines(keepends=True)
    target = len(lines) - 2
    edited = lines[target].replace(b'"result":"', b'"result":"X', 1)
    assert edited != lines[target]
    try:
        path.write_bytes(b"".join([*lines[:target], edited, *lines[target + 1 :]]))
        completed = sandbox.invoke("audit", "--env=uat", "--verify")
        assert completed.returncode == 1
        assert f"line {target + 1} was edited" in completed.stderr
    finally:
        path.write_bytes(original)


@pytest.mark.parametrize("last_change", ["deploy", "unchanged deploy"])
def test_audit_detects_cut_tail(sandbox: Sandbox, images: ReleaseImages, last_change: str) -> None:
    assert deploy(sandbox, images.v1).returncode == 0
    assert deploy(sandbox, images.v2).returncode == 0
    if last_change == "unchanged deploy":
        # Its audit lines come after the newest release record, so only audit.head vouches for them.
        assert "nothing to do" in deploy(sandbox, images.v2).stdout
    path = STATE / "audit.jsonl"
    original = path.read_bytes()
    try:
        path.write_bytes(b"".join(original.splitlines(keepends=True)[:-1]))
        completed = sandbox.invoke("audit", "--env=uat", "--verify")
        assert completed.returncode == 1
        assert "lines were cut off the end" in completed.stderr
    finally:
        path.write_bytes(original)
