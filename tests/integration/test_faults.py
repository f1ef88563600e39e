"""Faults during a deploy: the port keeps serving, and a rerun afterwards succeeds.

Each test keeps a steady load on the environment's port for the whole scenario, fault and
rerun included, and records its figures for docs/reliability.md.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bench.load import Load
from pipeline.commands import files
from pipeline.config import load_settings
from pipeline.errors import RemoteCommandError
from pipeline.remote import SSHRunner
from tests.integration.configs import write_config
from tests.integration.conftest import (
    REGISTRY,
    REPO,
    REPOSITORY,
    TEST_CONFIG,
    UAT_PORT,
    ReleaseImages,
    Sandbox,
    http_version,
)  # fmt: skip

STATE = Path("/home/deploy/.agent-dk/uat")
SANDBOX_DIR = REPO / ".sandbox"
KILL_TRIALS = 8


def deploy(sandbox: Sandbox, version: str, *extra: str, extra_env: dict[str, str] | None = None):
    return sandbox.invoke("deploy", "--env=uat", f"--version={version}", *extra, extra_env=extra_env)


def start_deploy(sandbox: Sandbox, version: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "invoke", "deploy", "--env=uat", f"--version={version}"],
        cwd=REPO,
        env=sandbox.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_until(condition, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.1)


@contextmanager
def watched(figures: dict, scenario: str, *, may_drop: bool = False) -> Iterator[Load]:
    """Keep a load on the port during the block; assert nothing failed unless the scenario may drop."""
    with Load(UAT_PORT) as load:
        yield load
    summary = load.summary()
    figures["faults"].append({"scenario": scenario, "requests": summary.sent, "failed": summary.failed})
    assert summary.sent > 20, f"{scenario}: the load sent only {summary.sent} requests"
    if not may_drop:
        assert summary.failed == 0, f"{scenario}: {summary.failed} of {summary.sent} requests failed: {summary.errors}"


def remove_stale_lock(sandbox: Sandbox, why: str) -> None:
    """The documented way out after a killed run: read the lock, then remove it with a reason."""
    if not (STATE / "lock").exists():
        return
    shown = sandbox.invoke("lock", "--env=uat")
    assert shown.returncode == 0, shown.stderr
    info_written = (STATE / "lock" / "info.json").exists()
    # A run killed between making the lock and writing its holder leaves an anonymous lock.
    assert ("no longer runs" in shown.stdout) or not info_written, shown.stdout
    removed = sandbox.invoke("unlock", "--env=uat", f"--reason={why}")
    assert removed.returncode == 0, removed.stderr


def test_killed_deploys_keep_port_serving(sandbox: Sandbox, images: ReleaseImages, figures: dict) -> None:
    seed = int(os.environ.get("AGENT_DK_FAULT_SEED") or time.time())
    rng = random.Random(seed)
    assert deploy(sandbox, images.v1).returncode == 0
    started = time.monotonic()
    assert deploy(sandbox, images.v2).returncode == 0
    duration = time.monotonic() - started
    current, moments = images.v2, []
    with watched(figures, f"deploy killed with SIGKILL at {KILL_TRIALS} random moments (seed {seed})") as load:
        for trial in range(KILL_TRIALS):
            version = images.v1 if current == images.v2 else images.v2
            process = start_deploy(sandbox, version)
            moment = rng.uniform(0.3, duration)
            try:
                process.wait(timeout=moment)
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGKILL)
                process.wait()
            moments.append(round(moment, 2))
            where = f"seed {seed}, trial {trial}, killed at {moment:.2f} s of {duration:.1f} s"
            remove_stale_lock(sandbox, f"fault test: {where}")
            rerun = deploy(sandbox, version)
            assert rerun.returncode == 0, f"{where}: {rerun.stderr}"
            assert http_version(UAT_PORT) == version, where
            assert sandbox.serving("uat"), where
            current = version
    assert set(load.summary().versions) <= {images.v1, images.v2}
    verified = sandbox.invoke("audit", "--env=uat", "--verify")
    assert verified.returncode == 0, f"seed {seed}, moments {moments}: {verified.stdout}{verified.stderr}"


def kill_ssh_sessions() -> None:
    # The per-connection sshd processes of the deploy user; the listening daemon stays.
    subprocess.run(["pkill", "-KILL", "-f", "^sshd: deploy"], check=False)


def running(sandbox: Sandbox, name: str) -> bool:
    return sandbox.docker("ps", "--quiet", "--filter", f"name=^{name}$", "--filter", "status=running").strip() != ""


def test_ssh_drop_during_deploy_keeps_old_serving(sandbox: Sandbox, images: ReleaseImages, figures: dict) -> None:
    assert deploy(sandbox, images.v1).returncode == 0
    old = sandbox.serving("uat")
    new = f"agent-dk-uat-{images.never_healthy}"
    with watched(figures, "SSH connection dropped while the new release starts"):
        process = start_deploy(sandbox, images.never_healthy)
        wait_until(lambda: running(sandbox, new), f"{new} to start")
        kill_ssh_sessions()
        _, stderr = process.communicate(timeout=120)
        assert process.returncode == 1, stderr
        assert "SSH connection to deploy@127.0.0.1:2222 failed" in stderr
        assert f"{old} still serves" in stderr
        assert not running(sandbox, new), "the new release was not stopped over a new connection"
        assert not (STATE / "lock").exists(), "the lock was not released over a new connection"
        assert sandbox.serving("uat") == old
        assert deploy(sandbox, images.v2).returncode == 0
    assert http_version(UAT_PORT) == images.v2


def registry_pid() -> int:
    return int((SANDBOX_DIR / "registry.pid").read_text())


@contextmanager
def registry_down() -> Iterator[None]:
    os.kill(registry_pid(), signal.SIGTERM)
    wait_until(lambda: subprocess.run(["curl", "-fsS", f"http://{REGISTRY}/v2/"], capture_output=True).returncode != 0,
               "the registry to stop")  # fmt: skip
    try:
        yield
    finally:
        started = subprocess.run(["bash", "scripts/sandbox.sh", "up"], cwd=REPO, capture_output=True, text=True)
        assert started.returncode == 0, started.stderr


def test_registry_down_on_push_and_pull(sandbox: Sandbox, images: ReleaseImages, figures: dict) -> None:
    assert deploy(sandbox, images.v1).returncode == 0
    unpulled = f"{images.v3}-offline"
    dockerfile = f"FROM {REPOSITORY}:{images.v3}\nENV APP_VERSION={unpulled}\n"
    sandbox.docker("build", "--quiet", "--tag", f"{REPOSITORY}:{unpulled}", "-", stdin=dockerfile)
    assert sandbox.invoke("push", f"--version={unpulled}").returncode == 0
    # The server shares this engine, so remove the tag to make the deploy pull it.
    sandbox.docker("rmi", f"{REPOSITORY}:{unpulled}")
    sandbox.docker("tag", f"{REPOSITORY}:{images.v2}", f"{REPOSITORY}:{images.v2}-late")
    with watched(figures, "registry down while pushing and while the server pulls"):
        with registry_down():
            pushed = sandbox.invoke("push", f"--version={images.v2}-late")
            assert pushed.returncode == 1
            assert REGISTRY in pushed.stderr
            assert "Traceback" not in pushed.stderr
            pulled = deploy(sandbox, unpulled)
            assert pulled.returncode == 1
            assert f"Check that the registry {REGISTRY} answers from the server" in pulled.stderr
            assert not sandbox.releases("uat").count(f"agent-dk-uat-{unpulled}")
            assert http_version(UAT_PORT) == images.v1
        assert sandbox.invoke("push", f"--version={images.v2}-late").returncode == 0
        assert deploy(sandbox, unpulled).returncode == 0
    assert http_version(UAT_PORT) == unpulled


def engine_answers() -> bool:
    return subprocess.run(["docker", "version"], capture_output=True, timeout=30).returncode == 0


def test_stopped_engine_fails_then_recovers(sandbox: Sandbox, images: ReleaseImages, figures: dict) -> None:
    assert deploy(sandbox, images.v1).returncode == 0
    before = sandbox.state()
    # This scenario alone may drop requests: the containers stop with the engine.
    with watched(figures, "Docker engine stopped during a deploy, then started again", may_drop=True):
        engine = int((SANDBOX_DIR / "dockerd.pid").read_text())
        os.kill(engine, signal.SIGTERM)
        wait_until(lambda: not engine_answers(), "the engine to stop answering")
        try:
            failed = deploy(sandbox, images.v2)
            assert failed.returncode == 1
            assert "the Docker engine on deploy@127.0.0.1:2222 does not answer" in failed.stderr
            assert "Cannot connect to the Docker daemon" in failed.stderr
        finally:
            wait_until(lambda: not Path(f"/proc/{engine}").exists(), "dockerd to exit")
            started = subprocess.run(["bash", "scripts/sandbox.sh", "up"], cwd=REPO, capture_output=True, text=True)
            assert started.returncode == 0, started.stderr
        wait_until(lambda: http_version(UAT_PORT) == images.v1, "the old version to serve again", timeout=90)
        # The containers' start times change with the engine's restart; every state file must not.
        assert state_files(sandbox.state()) == state_files(before)
        assert deploy(sandbox, images.v2).returncode == 0
    assert http_version(UAT_PORT) == images.v2


def test_hung_engine_fails_within_timeout(sandbox: Sandbox, images: ReleaseImages, figures: dict) -> None:
    assert deploy(sandbox, images.v1).returncode == 0
    before = sandbox.state()
    engine = int((SANDBOX_DIR / "dockerd.pid").read_text())
    # The containers keep running, but Docker's DNS, which the proxy queries for the release's
    # address every few seconds, is part of the engine. So a request that needs a fresh lookup waits.
    with watched(figures, "Docker engine hung (SIGSTOP) during a deploy", may_drop=True):
        os.kill(engine, signal.SIGSTOP)
        try:
            started = time.monotonic()
            failed = deploy(sandbox, images.v2)
            seconds = time.monotonic() - started
        finally:
            os.kill(engine, signal.SIGCONT)
        assert failed.returncode == 1
        assert "the Docker engine on deploy@127.0.0.1:2222 does not answer" in failed.stderr
        assert "timed out after 15 s" in failed.stderr
        assert seconds < 60
        assert sandbox.state() == before
        assert deploy(sandbox, images.v2).returncode == 0
    assert http_version(UAT_PORT) == images.v2


def state_files(state: dict[str, str]) -> dict[str, str]:
    return {key: value for key, value in state.items() if not key.startswith("container ")}


def test_removed_proxy_is_recreated(sandbox: Sandbox, images: ReleaseImages) -> None:
    assert deploy(sandbox, images.v1).returncode == 0
    release = sandbox.container_id(sandbox.serving("uat"))
    sandbox.docker("rm", "--force", "agent-dk-uat")
    assert http_version(UAT_PORT) is None
    repaired = deploy(sandbox, images.v1)
    assert repaired.returncode == 0, repaired.stderr
    assert "created proxy agent-dk-uat" in repaired.stderr
    assert "nothing to do" in repaired.stdout
    assert http_version(UAT_PORT) == images.v1
    assert sandbox.container_id(sandbox.serving("uat")) == release


def test_broken_proxy_config_is_replaced(sandbox: Sandbox, images: ReleaseImages, figures: dict) -> None:
    assert deploy(sandbox, images.v1).returncode == 0
    config = STATE / "proxy" / "agent-dk.conf"
    config.write_text("server { listen 8080; this is not nginx\n")
    with watched(figures, "proxy config broken by hand, then a deploy"):
        completed = deploy(sandbox, images.v2)
    assert completed.returncode == 0, completed.stderr
    assert "the port serves version" in completed.stderr
    assert http_version(UAT_PORT) == images.v2
    assert "# agent-dk upstream: r-" in config.read_text()


def test_low_disk_refuses_before_any_change(
    sandbox: Sandbox, images: ReleaseImages, figures: dict, tmp_path: Path
) -> None:
    assert deploy(sandbox, images.v1).returncode == 0
    greedy = write_config(tmp_path, {"uat": {"min_free_disk_mb": 900_000_000}})
    before = sandbox.state()
    with watched(figures, "disk below the threshold"):
        refused = deploy(sandbox, images.v2, extra_env={"AGENT_DK_CONFIG": str(greedy)})
        assert refused.returncode == 1
        assert "not enough disk on deploy@127.0.0.1:2222" in refused.stderr
        assert "min_free_disk_mb = 900000000" in refused.stderr
        assert sandbox.state() == before
        assert deploy(sandbox, images.v2).returncode == 0


def test_dead_holder_lock_is_named(sandbox: Sandbox, images: ReleaseImages, figures: dict) -> None:
    assert deploy(sandbox, images.v1).returncode == 0
    with watched(figures, "lock left by a killed deploy"):
        process = start_deploy(sandbox, images.never_healthy)
        wait_until(lambda: (STATE / "lock" / "info.json").exists(), "the deploy to take the lock")
        process.send_signal(signal.SIGKILL)
        process.wait()
        blocked = deploy(sandbox, images.v2)
        assert blocked.returncode == 1
        assert f"pid {process.pid} on this machine) no longer runs" in blocked.stderr
        assert "invoke unlock --env=uat --reason=TEXT" in blocked.stderr
        remove_stale_lock(sandbox, "fault test: holder killed")
        assert deploy(sandbox, images.v2).returncode == 0
    assert http_version(UAT_PORT) == images.v2


def test_remote_script_middle_failure_reported(sandbox: Sandbox, tmp_path: Path) -> None:
    settings = load_settings(TEST_CONFIG, environ={"AGENT_DK_ENV_FILE": sandbox.env["AGENT_DK_ENV_FILE"]})
    runner = SSHRunner(settings.target())
    directory = STATE / "backups" / f"fault-test-{tmp_path.name}"
    # The backup script: mkdir succeeds, `docker container inspect` fails, the steps after it must not run.
    script = files.snapshot(str(directory), "agent-dk-no-such-container", "image-ref", str(STATE / "app.env"))
    try:
        with pytest.raises(RemoteCommandError) as failed:
            runner.run(script)
    finally:
        runner.close()
    assert failed.value.command_exit_code == 1
    assert "No such container: agent-dk-no-such-container" in failed.value.stderr
    assert "No such container: agent-dk-no-such-container" in str(failed.value)
    assert "command failed on deploy@127.0.0.1:2222 with exit code 1" in str(failed.value)
    assert directory.is_dir()
    assert not (directory / "image").exists()
    shutil.rmtree(directory)
