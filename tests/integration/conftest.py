"""The shared sandbox and the test images, each made once per test run."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SANDBOX_ENV_FILE = REPO / ".env.sandbox"
TEST_CONFIG = Path(__file__).with_name("deploy.test.toml")
SERVER_STATE = Path("/home/deploy/.agent-dk")
FIGURES_FILE = REPO / "reports" / "reliability-figures.json"
REGISTRY = "127.0.0.1:5000"
REPOSITORY = f"{REGISTRY}/agent-dk"
UAT_PORT = 18080


@dataclass(frozen=True)
class Sandbox:
    env: dict[str, str]

    def invoke(self, *args: str, extra_env: dict[str, str] | None = None, timeout: float = 600):
        return subprocess.run(
            [sys.executable, "-m", "invoke", *args],
            cwd=REPO,
            env={**self.env, **(extra_env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def docker(self, *args: str, stdin: str | None = None, check: bool = True) -> str:
        # The sandbox's engine is this machine's, so tests read its state directly.
        completed = subprocess.run(
            ["docker", *args], input=stdin, capture_output=True, text=True, timeout=600, check=False
        )
        if check and completed.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} failed: {completed.stderr}")
        return completed.stdout

    def snapshot(self) -> list[str]:
        """Return the state of every container: what a change on the server would alter."""
        rows = self.docker("ps", "--all", "--no-trunc", "--format", "{{.ID}} {{.Names}} {{.State}} {{.Image}}")
        result = []
        for row in sorted(rows.splitlines()):
            container_id = row.split()[0]
            details = self.docker(
                "inspect", "--format", "{{.State.StartedAt}} {{.RestartCount}} {{.Config.Image}}", container_id
            )
            result.append(f"{row} {details.strip()}")
        return result

    def state(self) -> dict[str, str]:
        """Return every container and every state file on the server (proxy config, history, audit, lock).

        Files are compared by mode and content hash, so "unchanged" means byte-identical.
        """
        result = {f"container {index}": row for index, row in enumerate(self.snapshot())}
        for path in sorted(SERVER_STATE.rglob("*")):
            if path.is_file():
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                result[str(path)] = f"{path.stat().st_mode:o} {digest}"
            elif path.is_dir():
                result[str(path)] = f"{path.stat().st_mode:o} directory"
        return result

    def serving(self, environment: str) -> str:
        """Return the name of the environment's one running release."""
        names = self.docker(
            "ps", "--filter", f"label=agent-dk.env={environment}", "--filter", "label=agent-dk.role=app",
            "--format", "{{.Names}}",
        ).split()  # fmt: skip
        assert len(names) == 1, f"expected one running release of {environment}, found {names}"
        return names[0]

    def releases(self, environment: str) -> list[str]:
        return sorted(
            self.docker(
                "ps", "--all", "--filter", f"label=agent-dk.env={environment}", "--format", "{{.Names}}"
            ).split()
        )  # fmt: skip

    def container_id(self, name: str) -> str | None:
        output = self.docker("inspect", "--format", "{{.Id}}", name, check=False).strip()
        return output or None


def http_version(port: int) -> str | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/version", timeout=3) as response:
            return json.load(response)["version"]
    except (urllib.error.URLError, OSError):
        return None


@pytest.fixture(scope="session")
def sandbox() -> Sandbox:
    if not SANDBOX_ENV_FILE.is_file():
        pytest.fail(f"{SANDBOX_ENV_FILE} not found: start the sandbox first with `make sandbox-up` (as root)")
    status = subprocess.run(
        ["bash", str(REPO / "scripts" / "sandbox.sh"), "status"], capture_output=True, text=True, check=False
    )
    if status.returncode != 0:
        pytest.fail(f"the sandbox does not answer; run `make sandbox-up`:\n{status.stdout}{status.stderr}")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("SSH_", "REGISTRY"))}
    env["AGENT_DK_ENV_FILE"] = str(SANDBOX_ENV_FILE)
    env["AGENT_DK_CONFIG"] = str(TEST_CONFIG)
    return Sandbox(env=env)


@dataclass(frozen=True)
class ReleaseImages:
    v1: str
    v2: str
    v3: str
    crashing: str
    never_healthy: str
    wrong_version: str
    disposable: str
    broken_api: str
    fake_gpu: str
    slow: str


# Each broken release is the v1 image with one thing changed.
PYTHON = "/opt/venv/bin/python"
BROKEN_DOCKERFILES = {
    "crashing": f'CMD ["{PYTHON}", "-c", "import sys; print(\'fake crash at start\', file=sys.stderr); sys.exit(3)"]',
    "never_healthy": f'HEALTHCHECK --interval=1s CMD ["{PYTHON}", "-c", "raise SystemExit(\'fake health failure\')"]',
    "wrong_version": "ENV APP_VERSION=not-the-deployed-tag",
    # A good release with its own digest, so a test can delete it from the registry.
    "disposable": "ENV APP_VERSION={version}",
    # The API responds, but with a wrong result.
    "broken_api": (
        "USER root\nRUN printf 'def cosine_similarity(left, right):\\n    return 0.5\\n' >> /srv/app/similarity.py"
        "\nUSER 10001:10001\nENV APP_VERSION={version}"
    ),
    # A fake nvidia-smi inside the container, for the GPU smoke check.
    "fake_gpu": (
        "USER root\nRUN printf '#!/bin/sh\\necho \"0, NVIDIA A100 (fake)\"\\n' > /usr/local/bin/nvidia-smi"
        " && chmod 755 /usr/local/bin/nvidia-smi\nUSER 10001:10001\nENV APP_VERSION={version}"
    ),
    # Every request takes 50 ms longer, for the latency smoke check.
    "slow": (
        'USER root\nRUN printf \'\\nimport time as _time\\n\\n@app.middleware("http")\\n'
        "async def _slow(request, call_next):\\n    _time.sleep(0.05)\\n    return await call_next(request)\\n'"
        " >> /srv/app/main.py\nUSER 10001:10001\nENV APP_VERSION={version}"
    ),
}


@pytest.fixture(scope="session")
def images(sandbox: Sandbox) -> ReleaseImages:
    """Build and push three releases through the tasks, and three broken ones."""
    run_id = secrets.token_hex(3)
    versions = ReleaseImages(
        v1=f"it-{run_id}-v1",
        v2=f"it-{run_id}-v2",
        v3=f"it-{run_id}-v3",
        crashing=f"it-{run_id}-crash",
        never_healthy=f"it-{run_id}-unhealthy",
        wrong_version=f"it-{run_id}-wrong",
        disposable=f"it-{run_id}-disposable",
        broken_api=f"it-{run_id}-broken-api",
        fake_gpu=f"it-{run_id}-fake-gpu",
        slow=f"it-{run_id}-slow",
    )
    for version in (versions.v1, versions.v2, versions.v3):
        completed = sandbox.invoke("build", f"--version={version}", "push", f"--version={version}")
        assert completed.returncode == 0, completed.stderr
    for field_name, instruction in BROKEN_DOCKERFILES.items():
        version = getattr(versions, field_name)
        dockerfile = f"FROM {REPOSITORY}:{versions.v1}\n{instruction.format(version=version)}\n"
        sandbox.docker(
            "build", "--quiet", "--label", f"org.opencontainers.image.version={version}",
            "--tag", f"{REPOSITORY}:{version}", "-", stdin=dockerfile,
        )  # fmt: skip
        sandbox.docker("push", "--quiet", f"{REPOSITORY}:{version}")
    return versions


@pytest.fixture(scope="session")
def figures() -> Iterator[dict[str, list[dict[str, object]]]]:
    """Collect what the reliability tests tried and measured; written to reports/ for docs/reliability.md."""
    collected: dict[str, list[dict[str, object]]] = {"faults": [], "bad_inputs": []}
    yield collected
    FIGURES_FILE.parent.mkdir(exist_ok=True)
    FIGURES_FILE.write_text(json.dumps(collected, indent=2) + "\n")
