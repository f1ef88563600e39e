"""The governance report and the notifications of a real deploy on the sandbox."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import REPO, ReleaseImages, Sandbox
from tests.integration.receivers import Receiver

SECTIONS = (
    "## Deployment metadata",
    "## Pre-deployment checks",
    "## Deployment & approval",
    "## Post-deployment validation",
)


@pytest.fixture
def receivers() -> Iterator[tuple[Receiver, Receiver]]:
    slack, teams = Receiver([500, 200]), Receiver([400])
    for receiver in (slack, teams):
        receiver.thread.start()
    yield slack, teams
    for receiver in (slack, teams):
        receiver.server.shutdown()


def newest_report(kind: str) -> Path:
    return max((REPO / "reports").glob(f"{kind}-uat-*.md"), key=lambda path: path.stat().st_mtime)


def test_deploy_report_and_notifications(
    sandbox: Sandbox, images: ReleaseImages, receivers: tuple[Receiver, Receiver], tmp_path: Path
) -> None:
    slack, teams = receivers
    summary = tmp_path / "step-summary.md"
    assert sandbox.invoke("deploy", "--env=uat", f"--version={images.v1}").returncode == 0
    completed = sandbox.invoke(
        "deploy",
        "--env=uat",
        f"--version={images.v2}",
        extra_env={
            "SLACK_WEBHOOK_URL": slack.url,
            "TEAMS_WEBHOOK_URL": teams.url,
            "GITHUB_STEP_SUMMARY": str(summary),
        },
    )
    assert completed.returncode == 0, completed.stderr

    text = newest_report("deploy").read_text()
    positions = [text.index(section) for section in SECTIONS]
    assert positions == sorted(positions)
    assert "```mermaid\ngantt" in text
    assert summary.read_text().strip() == text.strip()

    assert len(slack.bodies) == 2
    assert set(slack.bodies[-1]) == {"text", "blocks"}
    assert images.v2 in str(slack.bodies[-1]["text"])
    assert len(teams.bodies) == 1
    assert teams.bodies[0]["type"] == "message"
    attachment = teams.bodies[0]["attachments"][0]  # type: ignore[index]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert "400" in completed.stderr
    assert "fake-webhook-token" not in completed.stdout + completed.stderr
    assert "fake-webhook-token" not in text


def test_failed_deploy_report_records_failure(sandbox: Sandbox, images: ReleaseImages) -> None:
    assert sandbox.invoke("deploy", "--env=uat", f"--version={images.v1}").returncode == 0
    completed = sandbox.invoke("deploy", "--env=uat", f"--version={images.crashing}")
    assert completed.returncode == 1
    text = newest_report("deploy").read_text()
    assert "Result: **failed**" in text
    assert re.search(r":crit, step\d+", text)


def test_reports_and_audit_hold_no_secrets(sandbox: Sandbox, images: ReleaseImages) -> None:
    assert sandbox.invoke("deploy", "--env=uat", f"--version={images.v1}").returncode == 0
    key_lines = [
        line.strip()
        for line in (REPO / ".sandbox" / "id_ed25519").read_text().splitlines()
        if len(line.strip()) >= 16 and "PRIVATE KEY" not in line
    ]
    assert key_lines
    files = [*(REPO / "reports").glob("*.md"), *(REPO / "reports").glob("*.jsonl")]
    files.append(Path("/home/deploy/.agent-dk/uat/audit.jsonl"))
    for path in files:
        text = path.read_text()
        for line in key_lines:
            assert line not in text, f"a line of the SSH key is in {path}"
        assert "fake-webhook-token" not in text, f"the webhook token is in {path}"
