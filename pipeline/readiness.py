"""Health gates: poll with a deadline until a release or the environment's port proves a version."""

from __future__ import annotations

import json
import logging
import time

from pipeline.commands import docker, probe
from pipeline.containers import read_container
from pipeline.errors import DeployFailed
from pipeline.remote import Runner
from pipeline.server import EnvContext

log = logging.getLogger("agent_dk")

PROBE_TIMEOUT_SECONDS = 2.0
POLL_INTERVAL_SECONDS = 0.25
EXTERNAL_DEADLINE_SECONDS = 15.0
FAILURE_LOG_LINES = 30


def read_version(runner: Runner, argv: list[str]) -> str | None:
    """Run a probe command for /version and return the version it reports, or None on an error or invalid JSON."""
    result = runner.run(argv, check=False, quiet=True)
    if not result.ok:
        return None
    try:
        return str(json.loads(result.stdout)["version"])
    except (ValueError, KeyError, TypeError):
        return None


def wait_ready(ctx: EnvContext, name: str, version: str) -> None:
    """Wait until Docker reports `name` healthy and it reports `version` itself.

    Fails at once when the container exits or restarts, or when it is healthy but reports
    another version, and at the environment's ready_timeout otherwise.
    """
    deadline = time.monotonic() + ctx.env.ready_timeout
    while True:
        state = read_container(ctx.runner, name)
        if state is None:
            raise DeployFailed(f"container {name} disappeared while starting")
        if state.status in ("exited", "dead") or state.restart_count > 0:
            raise DeployFailed(
                f"{name} crashed while starting (status {state.status}, exit code {state.exit_code}, "
                f"restarts {state.restart_count})"
            )
        if state.health == "healthy":
            address = state.networks.get(ctx.env.network, "")
            url = f"http://{address}:{docker.APP_PORT}/version"
            seen = (
                read_version(ctx.runner, probe.http_get(url, timeout_seconds=PROBE_TIMEOUT_SECONDS))
                if address
                else None
            )
            if seen == version:
                return
            if seen is not None:
                raise DeployFailed(f"{name} is healthy but reports version {seen!r} instead of {version!r}")
        if time.monotonic() >= deadline:
            raise DeployFailed(
                f"{name} did not become ready within {ctx.env.ready_timeout:g} s "
                f"(Docker health: {state.health or 'none'}); raise ready_timeout in deploy.toml "
                "if the service needs longer to start"
            )
        time.sleep(POLL_INTERVAL_SECONDS)


def external_version_probe(ctx: EnvContext) -> list[str]:
    return probe.environment_get(ctx.env, ctx.target.publish_address, "/version", timeout_seconds=PROBE_TIMEOUT_SECONDS)


def wait_for_external(ctx: EnvContext, version: str) -> None:
    """Wait until the environment's external port reports `version`."""
    argv = external_version_probe(ctx)
    url = argv[-1]
    deadline = time.monotonic() + EXTERNAL_DEADLINE_SECONDS
    seen = None
    while time.monotonic() < deadline:
        seen = read_version(ctx.runner, argv)
        if seen == version:
            return
        time.sleep(POLL_INTERVAL_SECONDS)
    raise DeployFailed(
        f"{url} reports version {seen!r} instead of {version!r} {EXTERNAL_DEADLINE_SECONDS:g} s after the switch"
    )


def show_failure(runner: Runner, name: str) -> None:
    """Log the last lines of a failed release's output and its Docker health log."""
    output = runner.run(docker.logs(name, FAILURE_LOG_LINES), check=False, quiet=True)
    text = (output.stdout + output.stderr).strip()
    log.error("last %d log lines of %s:\n%s", FAILURE_LOG_LINES, name, text or "(no output)")
    state = read_container(runner, name)
    if state is not None and state.health_log:
        log.error("health log of %s:\n%s", name, "\n".join(line or "(empty)" for line in state.health_log[-5:]))
