"""The pipeline's exceptions. Each carries the exit code its task ends with."""

from __future__ import annotations


class PipelineError(Exception):
    """A failure the task reports as one line and exit code 1."""

    exit_code = 1


class InputError(PipelineError):
    """Invalid flags, settings or secrets, found before anything connects (exit code 2)."""

    exit_code = 2


class ConnectionFailed(PipelineError):
    """The target could not be reached or rejected the login."""


class HostKeyError(ConnectionFailed):
    """The target's host key is unknown or differs from the pinned one."""


class RemoteCommandError(PipelineError):
    """A command exited non-zero or timed out."""

    def __init__(self, message: str, *, exit_code: int | None = None, stderr: str = "") -> None:
        super().__init__(message)
        self.command_exit_code = exit_code
        self.stderr = stderr


class DeployFailed(PipelineError):
    """A deploy did not reach a verified, serving new version."""


class CheckFailed(PipelineError):
    """A pre-deployment check failed, or a change freeze is active."""
