from __future__ import annotations

import pytest

from pipeline.errors import RemoteCommandError
from pipeline.remote import LocalRunner
from pipeline.secret import Secret


def test_runner_returns_output() -> None:
    result = LocalRunner().run(["sh", "-c", "echo out; echo err >&2"])
    assert result.ok
    assert result.stdout == "out\n"
    assert result.stderr == "err\n"


def test_runner_passes_stdin() -> None:
    assert LocalRunner().run(["cat"], stdin="from stdin").stdout == "from stdin"


def test_runner_raises_with_stderr_tail() -> None:
    with pytest.raises(RemoteCommandError) as error:
        LocalRunner().run(["sh", "-c", "echo first >&2; echo second >&2; exit 3"])
    assert "exit code 3" in str(error.value)
    assert "second" in str(error.value)
    assert error.value.command_exit_code == 3


def test_runner_returns_failure_without_check() -> None:
    assert LocalRunner().run(["false"], check=False).exit_code == 1


def test_runner_times_out() -> None:
    with pytest.raises(RemoteCommandError, match="timed out after 0.2 s"):
        LocalRunner().run(["sleep", "5"], timeout=0.2)


def test_runner_masks_secrets_in_errors() -> None:
    with pytest.raises(RemoteCommandError) as error:
        LocalRunner([Secret("hunter2-token")]).run(["sh", "-c", "echo hunter2-token >&2; exit 1"])
    assert "hunter2-token" not in str(error.value)


def test_runner_names_missing_program() -> None:
    with pytest.raises(RemoteCommandError, match="no-such-program not found"):
        LocalRunner().run(["no-such-program"])
