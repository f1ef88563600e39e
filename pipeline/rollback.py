"""Rollback: put an earlier release back through the same path as a deploy, then validate it."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from pipeline import history
from pipeline.commands import docker, probe
from pipeline.containers import ContainerState, list_releases, read_container
from pipeline.deploy import DeployResult, find_serving
from pipeline.errors import DeployFailed, RemoteCommandError
from pipeline.history import ReleaseRecord
from pipeline.readiness import external_version_probe, read_version
from pipeline.server import EnvContext, actor

log = logging.getLogger("agent_dk")

HEALTH_RETRIES = 5
FIRST_BACKOFF_SECONDS = 0.5


class RollbackUnavailable(DeployFailed):
    """The requested or default rollback target cannot be deployed."""


@dataclass(frozen=True)
class RollbackPlan:
    serving: ContainerState | None
    target: ReleaseRecord
    available: list[str]

    @property
    def no_op(self) -> bool:
        return self.serving is not None and self.serving.image == self.target.image

    def summary(self, reason: str) -> list[str]:
        current = f"{self.serving.version} ({self.serving.image})" if self.serving else "nothing"
        return [
            f"rollback of {self.target_environment}:",
            f"  from:   {current}",
            f"  to:     {self.target.version} ({self.target.image}), deployed {self.target.at} by {self.target.actor}",
            f"  reason: {reason}",
            f"  by:     {actor()}",
        ]

    target_environment: str = ""


def available_images(ctx: EnvContext) -> set[str]:
    """Return the repository@digest images present on the server."""
    result = ctx.runner.run(docker.list_images(ctx.settings.image_repository()), check=False, quiet=True)
    return {line.strip() for line in result.stdout.splitlines() if "@sha256:" in line}


def describe_available(records: list[ReleaseRecord], images: set[str]) -> list[str]:
    seen: set[str] = set()
    available = []
    for record in reversed(history.deploys(records)):
        if record.image in images and record.image not in seen:
            seen.add(record.image)
            available.append(f"{record.version} (deployed {record.at})")
    return available


def prepare(ctx: EnvContext, to: str | None) -> RollbackPlan:
    """Choose the target and prove that its image can run here, before anything changes."""
    records = history.read(ctx)
    serving, _ = find_serving(ctx, list_releases(ctx.runner, ctx.env.name))
    images = available_images(ctx)
    available = describe_available(records, images)
    listing = ", ".join(available) or "none"
    if to:
        target = history.find_version(records, to)
        if target is None:
            raise RollbackUnavailable(
                f"version {to!r} was never deployed to {ctx.env.name}; releases on the server: {listing}"
            )
    else:
        target = history.default_target(records, serving.image if serving else None)
        if target is None:
            raise RollbackUnavailable(
                f"{ctx.env.name} has no earlier release to roll back to; releases on the server: {listing}"
            )
    plan = RollbackPlan(serving=serving, target=target, available=available, target_environment=ctx.env.name)
    if plan.no_op or target.image in images:
        return plan
    try:
        ctx.runner.run(docker.pull(target.image), timeout=900)
    except RemoteCommandError as error:
        raise RollbackUnavailable(
            f"the image of {target.version} ({target.image}) is not on the server and cannot be pulled "
            f"({error.stderr.strip().splitlines()[-1] if error.stderr.strip() else error}); "
            f"releases on the server: {listing}"
        ) from None
    return plan


def validate(ctx: EnvContext, result: DeployResult) -> list[str]:
    """Check health with retries and exponential backoff, the container's status and the version."""
    health_probe = probe.environment_get(ctx.env, ctx.target.publish_address, "/health", timeout_seconds=2)
    health_url = health_probe[-1]
    version_probe = external_version_probe(ctx)
    version_url = version_probe[-1]
    lines = []
    delay = FIRST_BACKOFF_SECONDS
    for attempt in range(1, HEALTH_RETRIES + 1):
        answer = ctx.runner.run(health_probe, check=False, quiet=True)
        if answer.ok:
            lines.append(f"health: {health_url} answered 200 on attempt {attempt}")
            break
        if attempt == HEALTH_RETRIES:
            raise DeployFailed(f"health check of {health_url} failed {HEALTH_RETRIES} times after the rollback")
        time.sleep(delay)
        delay *= 2
    state = read_container(ctx.runner, result.container)
    if state is None or not state.running:
        raise DeployFailed(f"container {result.container} is not running after the rollback")
    lines.append(f"container: {state.name} {state.status}, health {state.health}, image {state.image}")
    seen = read_version(ctx.runner, version_probe)
    if seen != result.version:
        raise DeployFailed(f"{version_url} reports {seen!r}, not {result.version!r}, after the rollback")
    lines.append(f"version: {version_url} reports {seen}")
    return lines
