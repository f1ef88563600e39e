"""Tasks reject bad input with exit code 2 and one line, before reading any server state."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def run_invoke(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env_file = tmp_path / "test.env"
    # Unroutable on purpose: the task must fail before it would connect anywhere.
    env_file.write_text("SSH_HOST=gpu-server.example.internal\nREGISTRY=registry.example.internal\n")
    return subprocess.run(
        [sys.executable, "-m", "invoke", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "AGENT_DK_ENV_FILE": str(env_file)},
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["deploy", "--env=nope"],
            "ERROR: unknown environment 'nope': valid environments are uat, stg (staging), prod (production)",
        ),
        (["deploy", "--env=uat", "--version=bad tag;rm"], "ERROR: invalid --version 'bad tag;rm'"),
        (["deploy"], "ERROR: missing --env"),
        (["status", "--env=qa"], "ERROR: unknown environment 'qa'"),
        (["build", "--version=feature/x"], "ERROR: invalid --version 'feature/x'"),
        (["deploy", "--env=uat", "--lock-wait=soon"], "ERROR: invalid --lock-wait 'soon'"),
        (["logs", "--env=uat", "--lines=-3"], "ERROR: invalid --lines '-3'"),
        (["audit", "--env=uat", "--last=ten"], "ERROR: invalid --last 'ten'"),
        (["rollback", "--env=uat"], "ERROR: missing --reason"),
        (["rollback", "--env=uat", "--reason=two\nlines"], "ERROR: invalid --reason"),
        (["prechecks", "--env=uat", "--only=dsk"], "ERROR: invalid --only 'dsk'"),
        (["deploy", "--env=uat", "--override=freeze"], "ERROR: --override=freeze needs --reason"),
        (["notify", "--env=uat", "--result=great"], "ERROR: invalid --result 'great'"),
        (["push", "--also-tag=bad tag"], "ERROR: invalid --also-tag 'bad tag'"),
    ],
)
def test_task_rejects_bad_input(tmp_path: Path, args: list[str], expected: str) -> None:
    completed = run_invoke(*args, tmp_path=tmp_path)
    assert completed.returncode == 2
    assert completed.stderr.strip().startswith(expected)
    assert len(completed.stderr.strip().splitlines()) == 1
    assert "Traceback" not in completed.stderr
