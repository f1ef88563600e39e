"""Secrets stay secret: not in output, logs, reports, audit, or any process's command line.

The runs use the sandbox's login registry (htpasswd on 127.0.0.1:5001), so `docker login`
runs for real on both sides: on this machine for the push and on the server for the pull.
"""

from __future__ import annotations

import pwd
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import REPO, REPOSITORY, SANDBOX_ENV_FILE, SERVER_STATE, ReleaseImages, Sandbox
from tests.integration.receivers import Receiver

AUTH_REGISTRY = "127.0.0.1:5001"
AUTH_USER = "agent-dk"
SANDBOX_DIR = REPO / ".sandbox"


class CommandLineWatch:
    """Read every process's /proc/PID/cmdline in a loop and record any that contains a secret."""

    def __init__(self, secrets: list[str]) -> None:
        self.secrets = [secret.encode() for secret in secrets]
        # (index of the secret, the command line with every secret masked)
        self.leaks: list[tuple[int, str]] = []
        # Owners (uids) of the `docker login --password-stdin` processes seen.
        self.login_users: set[int] = set()
        self.passes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> CommandLineWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.is_set():
            for path in Path("/proc").glob("[0-9]*/cmdline"):
                try:
                    command = path.read_bytes()
                    if b"--password-stdin" in command:
                        self.login_users.add(path.parent.stat().st_uid)
                except OSError:
                    continue  # the process ended while being read
                for index, secret in enumerate(self.secrets):
                    if secret in command:
                        self.leaks.append((index, self._masked(command)))
            self.passes += 1

    def _masked(self, command: bytes) -> str:
        for secret in self.secrets:
            command = command.replace(secret, b"***")
        return command.replace(b"\0", b" ").decode(errors="replace")


def key_body_lines(key_file: Path) -> list[str]:
    lines = [line.strip() for line in key_file.read_text().splitlines()]
    return [line for line in lines if len(line) >= 16 and "-----" not in line]


@pytest.fixture
def receivers() -> Iterator[tuple[Receiver, Receiver]]:
    slack, teams = Receiver([]), Receiver([])
    for receiver in (slack, teams):
        receiver.thread.start()
    yield slack, teams
    for receiver in (slack, teams):
        receiver.server.shutdown()


def secret_env(tmp_path: Path, slack: Receiver, teams: Receiver, password: str) -> dict[str, str]:
    """Pass every secret the way CI does: in the process environment, the SSH key by content."""
    env_file = tmp_path / "ci.env"
    kept = [
        line
        for line in SANDBOX_ENV_FILE.read_text().splitlines()
        if not line.startswith(("SSH_KEY_FILE=", "REGISTRY="))
    ]
    env_file.write_text("\n".join(kept) + "\n")
    return {
        "AGENT_DK_ENV_FILE": str(env_file),
        "SSH_KEY": (SANDBOX_DIR / "id_ed25519").read_text(),
        "REGISTRY": AUTH_REGISTRY,
        "REGISTRY_USERNAME": AUTH_USER,
        "REGISTRY_PASSWORD": password,
        "SLACK_WEBHOOK_URL": slack.url.replace("fake-webhook-token", "fake-slack-token-7d1e"),
        "TEAMS_WEBHOOK_URL": teams.url.replace("fake-webhook-token", "fake-teams-token-5c2a"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "step-summary.md"),
        "GITHUB_OUTPUT": str(tmp_path / "github-output"),
        # This machine's side of the login writes its credentials here, not into root's home.
        "DOCKER_CONFIG": str(tmp_path / "docker-config"),
    }


def test_wrong_registry_password_rejected(sandbox: Sandbox, images: ReleaseImages, tmp_path: Path) -> None:
    slack, teams = Receiver([]), Receiver([])
    env = secret_env(tmp_path, slack, teams, "not-the-password-31f9")
    sandbox.docker("tag", f"{REPOSITORY}:{images.v1}", f"{AUTH_REGISTRY}/agent-dk:{images.v1}")
    completed = sandbox.invoke("push", f"--version={images.v1}", extra_env=env)
    assert completed.returncode == 1
    assert "docker login" in completed.stderr
    assert "401 Unauthorized" in completed.stderr
    assert "check REGISTRY_USERNAME and REGISTRY_PASSWORD" in completed.stderr
    assert "not-the-password-31f9" not in completed.stdout + completed.stderr


def test_secrets_absent_from_output_and_cmdlines(
    sandbox: Sandbox, images: ReleaseImages, receivers: tuple[Receiver, Receiver], tmp_path: Path
) -> None:
    slack, teams = receivers
    password = (SANDBOX_DIR / "registry-auth" / "password").read_text().strip()
    env = secret_env(tmp_path, slack, teams, password)
    secrets = [
        password,
        "fake-slack-token-7d1e",
        "fake-teams-token-5c2a",
        *key_body_lines(SANDBOX_DIR / "id_ed25519"),
    ]
    for version in (images.v1, images.v2):
        sandbox.docker("tag", f"{REPOSITORY}:{version}", f"{AUTH_REGISTRY}/agent-dk:{version}")
    runs = [
        ("push", f"--version={images.v1}"),
        ("push", f"--version={images.v2}"),
        ("deploy", "--env=uat", f"--version={images.v1}"),
        ("deploy", "--env=uat", f"--version={images.v2}"),
        ("rollback", "--env=uat", "--reason=secret scan of a rollback"),
        ("notify", "--env=uat", f"--version={images.v1}", "--action=rollback"),
        ("metadata", "--env=uat", f"--version={images.v1}"),
        ("audit", "--env=uat", "--verify"),
    ]
    output = []
    canary = "canary-secret-on-a-command-line-0b7e"
    with CommandLineWatch([*secrets, canary]) as watch:
        # A process that does put a secret on its command line, to show the watch catches one.
        subprocess.run(["sh", "-c", "sleep 0.5", "sh", canary], check=True)
        for args in runs:
            completed = sandbox.invoke(*args, extra_env=env)
            assert completed.returncode == 0, f"{args}: {completed.stderr}"
            output.append((" ".join(args), completed.stdout + completed.stderr))
    assert (tmp_path / "github-output").is_file()
    assert watch.passes > 10
    # The push logged in as root here, the server's pull as the deploy user: the watch saw both.
    assert watch.login_users == {0, pwd.getpwnam("deploy").pw_uid}
    canary_index = len(secrets)
    assert any(index == canary_index for index, _ in watch.leaks), "the watch missed the canary process"
    assert [leak for leak in watch.leaks if leak[0] != canary_index] == []
    assert len(slack.bodies) >= 3
    assert len(teams.bodies) >= 3

    places = [(name, text) for name, text in output]
    files = [
        *(path for path in (REPO / "reports").rglob("*") if path.is_file()),
        *(path for path in SERVER_STATE.rglob("*") if path.is_file()),
        *SANDBOX_DIR.glob("*.log"),
        *tmp_path.glob("step-summary.md"),
        *tmp_path.glob("github-output"),
    ]
    places += [(str(path), path.read_text(errors="replace")) for path in files]
    for name in ("agent-dk-uat", sandbox.serving("uat")):
        places.append((f"docker logs {name}", sandbox.docker("logs", name)))
    assert len(places) > 20
    for where, text in places:
        for secret in secrets:
            assert secret not in text, f"a secret is in {where}"
