"""Glue between the invoke tasks and the pipeline: logging, error handling, shared lookups."""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

from invoke.exceptions import Exit

from pipeline import gitinfo, validate
from pipeline.config import REPO_ROOT, Settings, load_settings
from pipeline.errors import InputError, PipelineError
from pipeline.remote import SSHRunner
from pipeline.server import EnvContext

P = ParamSpec("P")
R = TypeVar("R")

log = logging.getLogger("agent_dk")


def setup_logging() -> None:
    if log.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.DEBUG if os.environ.get("AGENT_DK_DEBUG") else logging.INFO)
    log.propagate = False


def reports_errors(task_body: Callable[P, R]) -> Callable[P, R]:
    """Turn pipeline errors into one ERROR line and the error's exit code, without a traceback."""

    @functools.wraps(task_body)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        setup_logging()
        try:
            return task_body(*args, **kwargs)
        except PipelineError as error:
            print(f"ERROR: {error}", file=sys.stderr)
            raise Exit(code=error.exit_code) from None
        except KeyboardInterrupt:
            print("ERROR: interrupted", file=sys.stderr)
            raise Exit(code=130) from None

    return wrapper


def settings() -> Settings:
    loaded = load_settings()
    log.debug("settings: %s", loaded.env_file or "process environment only")
    return loaded


def resolve_version(version: str | None) -> str:
    if version:
        return validate.version_tag(version)
    return gitinfo.default_version(REPO_ROOT)


def ssh_runner(loaded: Settings) -> SSHRunner:
    return SSHRunner(loaded.target(), loaded.secrets())


@dataclass
class SSHContext(EnvContext):
    runner: SSHRunner


@contextmanager
def env_context(loaded: Settings, env_name: str | None) -> Iterator[SSHContext]:
    """Validate the environment and the target, then yield a context whose connection closes after."""
    environment = loaded.environment(env_name)
    target = loaded.target()
    runner = SSHRunner(target, loaded.secrets())
    try:
        yield SSHContext(settings=loaded, env=environment, target=target, runner=runner)
    finally:
        runner.close()


OVERRIDABLE_CHECKS = ("freeze", "security", "backup", "disk", "network", "gpu")


def parse_overrides(override: str | None, reason: str | None) -> dict[str, str]:
    """Parse --override=CHECK[,CHECK] --reason=TEXT into {check: reason}; both or neither."""
    if not override:
        if reason:
            validate.single_line(reason, source="--reason")
        return {}
    checks = [name.strip() for name in override.split(",") if name.strip()]
    unknown = [name for name in checks if name not in OVERRIDABLE_CHECKS]
    if unknown or not checks:
        raise InputError(
            f"invalid --override {override!r}: expected a comma-separated list of {', '.join(OVERRIDABLE_CHECKS)}"
        )
    if reason is None:
        raise InputError(f"--override={override} needs --reason=TEXT saying why; the override is audited")
    text = validate.single_line(reason, source="--reason")
    return dict.fromkeys(checks, text)
