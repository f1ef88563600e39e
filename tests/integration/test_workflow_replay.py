"""Replay the deploy workflow's jobs, in order, against the sandbox, as GitHub Actions would run them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.conftest import REPO, UAT_PORT, Sandbox, http_version
from tests.workflow_runs import EXPRESSION, load

SECTIONS = (
    "## Deployment metadata",
    "## Pre-deployment checks",
    "## Deployment & approval",
    "## Post-deployment validation",
)
# build-test is left out: its lint and tests are this suite itself.
REPLAYED_JOBS = ("metadata", "image", "prechecks", "deploy", "validate", "notify")
# A stand-in for the GitHub CLI, which cannot reach GitHub from here: no approvals are found.
FAKE_GH = "#!/bin/sh\necho 'gh: GitHub cannot be reached from the test sandbox' >&2\nexit 1\n"


class Context:
    def __init__(self, github: dict[str, str]) -> None:
        self.github = github
        self.needs: dict[str, dict[str, str]] = {}
        self.steps: dict[str, dict[str, str]] = {}

    def resolve(self, text: str) -> str:
        return EXPRESSION.sub(lambda match: self.evaluate(match.group(1)), str(text))

    def evaluate(self, expression: str) -> str:
        parts = expression.split(".")
        if expression.startswith("contains(needs.*.result"):
            return "succeeded"
        if parts[0] == "needs" and parts[2] == "outputs":
            return self.needs[parts[1]][parts[3]]
        if parts[0] == "steps" and parts[2] == "outputs":
            return self.steps.get(parts[1], {}).get(parts[3], "")
        if parts[0] in ("secrets", "vars", "inputs") or expression == "github.token":
            return ""
        if parts[0] == "github":
            return self.github[parts[1]]
        raise AssertionError(f"the replay cannot evaluate ${{{{ {expression} }}}}; teach it")


def read_outputs(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


@pytest.fixture
def fake_bin(tmp_path: Path) -> Path:
    directory = tmp_path / "bin"
    directory.mkdir()
    (directory / "gh").write_text(FAKE_GH)
    (directory / "gh").chmod(0o755)
    return directory


def test_deploy_workflow_replay(sandbox: Sandbox, tmp_path: Path, fake_bin: Path) -> None:
    workflow = load("deploy.yml")
    summary = tmp_path / "step-summary.md"
    sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    github = {
        "repository": "example/agent-dk",
        "run_id": "4242",
        "sha": sha.strip(),
        "ref_name": "develop",
        "server_url": "https://github.example.invalid",
    }
    base_env = {
        **sandbox.env,
        "PATH": f"{fake_bin}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "GITHUB_ACTIONS": "true",
        "GITHUB_ACTOR": "replay-test",
        "GITHUB_REF_NAME": github["ref_name"],
        "GITHUB_SHA": github["sha"],
        "GITHUB_REPOSITORY": github["repository"],
        "GITHUB_RUN_ID": github["run_id"],
        "GITHUB_SERVER_URL": github["server_url"],
        "GITHUB_STEP_SUMMARY": str(summary),
    }
    context = Context(github)
    for job_name in REPLAYED_JOBS:
        job = workflow["jobs"][job_name]
        context.steps = {}
        for number, step in enumerate(job["steps"]):
            script = step.get("run")
            if script is None or "pip install" in script:
                continue
            output = tmp_path / f"{job_name}-{number}.out"
            env = {**base_env, "GITHUB_OUTPUT": str(output)}
            env.update({name: context.resolve(value) for name, value in step.get("env", {}).items()})
            completed = subprocess.run(
                ["bash", "-e", "-c", script],
                cwd=REPO,
                env=env,
                capture_output=True,
                text=True,
                timeout=900,
                check=False,
            )
            assert completed.returncode == 0, f"{job_name}: {step.get('name')}:\n{completed.stdout}{completed.stderr}"
            context.steps[step.get("id", f"step{number}")] = read_outputs(output)
        context.needs[job_name] = {name: context.resolve(value) for name, value in job.get("outputs", {}).items()}

    metadata = context.needs["metadata"]
    assert metadata["environment"] == "uat"
    assert metadata["github_environment"] == "uat"
    assert http_version(UAT_PORT) == metadata["version"]
    text = summary.read_text()
    for section in SECTIONS:
        assert section in text
    assert "Deploy of" in text
    assert "Smoke of" in text
