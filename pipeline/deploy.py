"""Deploy one version to one environment: stop the old container, start the new one, verify.

The old container is renamed, not removed, until the new one has proven itself on the
environment's port, so a failed start puts the old version back.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass

from pipeline.build import login
from pipeline.commands import docker, probe
from pipeline.config import Environment, Settings, Target
from pipeline.containers import ContainerState, digest_ref, read_container
from pipeline.errors import DeployFailed, RemoteCommandError
from pipeline.remote import Runner

log = logging.getLogger("agent_dk")

PULL_TIMEOUT_SECONDS = 900
PROBE_TIMEOUT_SECONDS = 2.0
POLL_INTERVAL_SECONDS = 0.5
FAILURE_LOG_LINES = 30


@dataclass(frozen=True)
class DeployResult:
    environment: str
    version: str
    image: str
    url: str
    changed: bool
    seconds: float
    message: str


def previous_name(env: Environment) -> str:
    return f"{env.container}-previous"


def pull(settings: Settings, runner: Runner, version: str) -> str:
    """Pull the version's image on the target and return its repository@sha256 reference."""
    image_ref = settings.image_ref(version)
    login(settings, runner)
    try:
        runner.run(docker.pull(image_ref), timeout=PULL_TIMEOUT_SECONDS)
    except RemoteCommandError as error:
        raise DeployFailed(
            f"cannot pull {image_ref} on {runner.where}: {error.stderr.strip() or error}. "
            f"Is the version pushed? Run `invoke build push --version={version}`"
        ) from None
    inspected = runner.run(docker.repo_digests(image_ref), quiet=True)
    pinned = digest_ref(inspected.stdout, settings.image_repository())
    if pinned is None:
        raise DeployFailed(f"{image_ref} has no registry digest on {runner.where}; push it again and retry")
    return pinned


def read_version(runner: Runner, url: str) -> str | None:
    """Return the version that `url` reports, or None if it does not answer with valid JSON."""
    result = runner.run(probe.http_get(url, timeout_seconds=PROBE_TIMEOUT_SECONDS), check=False, quiet=True)
    if not result.ok:
        return None
    try:
        return str(json.loads(result.stdout)["version"])
    except (ValueError, KeyError, TypeError):
        return None


def wait_until_serving(runner: Runner, env: Environment, name: str, version: str, url: str) -> None:
    """Poll until `url` reports `version`; raise DeployFailed on a crash or at the deadline."""
    deadline = time.monotonic() + env.ready_timeout
    last_seen: str | None = None
    while True:
        state = read_container(runner, name)
        if state is None:
            raise DeployFailed(f"container {name} disappeared while starting")
        if state.status in ("exited", "dead") or state.restart_count > 0:
            raise DeployFailed(
                f"container {name} crashed while starting (status {state.status}, exit code {state.exit_code}, "
                f"restarts {state.restart_count})"
            )
        seen = read_version(runner, url)
        if seen == version:
            return
        last_seen = seen or last_seen
        if time.monotonic() >= deadline:
            detail = f"it serves version {last_seen!r}" if last_seen else "it never answered"
            raise DeployFailed(
                f"{url} did not report version {version} within {env.ready_timeout:g} s ({detail}); "
                "raise ready_timeout in deploy.toml if the service needs longer to start"
            )
        time.sleep(POLL_INTERVAL_SECONDS)


def show_failure_logs(runner: Runner, name: str) -> None:
    result = runner.run(docker.logs(name, FAILURE_LOG_LINES), check=False, quiet=True)
    output = (result.stdout + result.stderr).strip()
    log.error("last %d log lines of %s:\n%s", FAILURE_LOG_LINES, name, output or "(no output)")


def start_container(runner: Runner, env: Environment, spec: docker.AppRun) -> None:
    try:
        runner.run(docker.run_app(spec))
    except RemoteCommandError as error:
        if "could not select device driver" in error.stderr:
            raise DeployFailed(
                f"environment {env.name} requests GPUs (gpus = {env.gpus!r}) but the Docker engine on "
                f"{runner.where} has no NVIDIA runtime: install the NVIDIA Container Toolkit there, "
                'or set gpus = "none" in deploy.toml'
            ) from None
        raise


def recover_interrupted(runner: Runner, env: Environment) -> ContainerState | None:
    """Put back a previous container that an interrupted deploy left renamed, and return the current one."""
    current = read_container(runner, env.container)
    previous = read_container(runner, previous_name(env))
    if previous is None:
        return current
    if current is None:
        log.warning("deploy: an earlier deploy was interrupted; restoring %s as %s", previous.name, env.container)
        runner.run(docker.rename(previous.name, env.container))
        return read_container(runner, env.container)
    log.info("deploy: removing %s left by an earlier deploy", previous.name)
    runner.run(docker.remove(previous.name, force=True))
    return current


def restore_previous(runner: Runner, env: Environment, had_previous: bool) -> str:
    runner.run(docker.remove(env.container, force=True), check=False)
    if not had_previous:
        return "no earlier version existed to restore"
    runner.run(docker.rename(previous_name(env), env.container))
    runner.run(docker.start(env.container))
    return f"restored the previous container {env.container}"


def deploy(
    settings: Settings, runner: Runner, target: Target, env: Environment, version: str, *, force: bool = False
) -> DeployResult:
    started = time.monotonic()
    url = probe.local_url(target.publish_address, env.port, "/version")
    public_url = f"http://{target.publish_address}:{env.port}"
    log.info("deploy: %s version %s to %s on %s", env.name, version, env.container, runner.where)

    image = pull(settings, runner, version)
    log.info("deploy: %s is %s", settings.image_ref(version), image)
    current = recover_interrupted(runner, env)

    if current is not None and current.running and current.image == image and not force:
        if read_version(runner, url) == version:
            message = (
                f"{env.name} already serves version {version} from {image} since {current.started_at}; "
                "nothing to do (--force replaces the container)"
            )
            return DeployResult(env.name, version, image, public_url, False, time.monotonic() - started, message)
        log.info("deploy: %s runs %s but does not answer with it; replacing it", env.container, image)

    had_previous = current is not None
    if current is not None:
        log.info("deploy: stopping %s (version %s)", env.container, current.version or "unknown")
        runner.run(docker.stop(env.container, env.stop_timeout), timeout=env.stop_timeout + 30)
        runner.run(docker.rename(env.container, previous_name(env)))

    spec = docker.AppRun(
        name=env.container,
        image=image,
        environment=env.name,
        version=version,
        publish_address=target.publish_address,
        host_port=env.port,
        gpus=env.gpus,
    )
    try:
        start_container(runner, env, spec)
        wait_until_serving(runner, env, env.container, version, url)
    except (DeployFailed, RemoteCommandError) as error:
        if read_container(runner, env.container) is not None:
            show_failure_logs(runner, env.container)
        restored = restore_previous(runner, env, had_previous)
        if had_previous and current is not None and current.version:
            try:
                wait_until_serving(runner, env, env.container, current.version, url)
                restored += f", which serves version {current.version} again"
            except DeployFailed as restore_error:
                restored += f", but it does not serve again: {restore_error}"
        raise DeployFailed(f"deploy of {version} to {env.name} failed: {error}; {restored}") from None

    if had_previous:
        runner.run(docker.remove(previous_name(env)))
    seconds = time.monotonic() - started
    message = f"{env.name} serves version {version} at {public_url} ({seconds:.1f} s)"
    return DeployResult(env.name, version, image, public_url, True, seconds, message)
