"""Deployment metadata: what a run is about to deploy, resolved once and passed to later jobs."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from pipeline import gitinfo, validate
from pipeline.config import Settings
from pipeline.environments import Environment
from pipeline.errors import InputError


@dataclass(frozen=True)
class Metadata:
    environment: str
    github_environment: str
    branch: str
    container: str
    port: int
    version: str
    image: str
    git_sha: str
    dirty: bool
    approval_required: bool
    timestamp: str

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def current_branch(repo: Path, environ: Mapping[str, str]) -> str:
    """Return the branch being deployed; in GitHub Actions the checkout is detached, so use GITHUB_REF_NAME."""
    if environ.get("GITHUB_REF_NAME"):
        return environ["GITHUB_REF_NAME"]
    return gitinfo.branch(repo)


def environment_for_branch(settings: Settings, branch: str) -> Environment:
    for env in settings.environments.values():
        if env.branch == branch:
            return settings.environment(env.name)
    mapping = ", ".join(f"{env.branch} -> {env.name}" for env in settings.environments.values())
    raise InputError(f"branch {branch!r} deploys to no environment ({mapping}); pass --env to choose one")


def resolve(
    settings: Settings,
    repo: Path,
    *,
    env_name: str | None = None,
    version: str | None = None,
    environ: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> Metadata:
    environ = os.environ if environ is None else environ
    branch = current_branch(repo, environ)
    env = settings.environment(env_name) if env_name else environment_for_branch(settings, branch)
    dirty = gitinfo.is_dirty(repo)
    if dirty and env.production:
        raise InputError(
            f"the work tree has uncommitted changes; {env.name} only takes committed code: commit or stash them"
        )
    tag = validate.version_tag(version) if version else gitinfo.default_version(repo)
    moment = now or datetime.now(UTC)
    return Metadata(
        environment=env.name,
        github_environment=env.github_environment,
        branch=branch,
        container=env.container,
        port=env.port,
        version=tag,
        image=settings.image_ref(tag),
        git_sha=gitinfo.head_sha(repo),
        dirty=dirty,
        approval_required=env.approval,
        timestamp=moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
    )


def github_output_lines(metadata: Metadata) -> str:
    """Render step outputs for $GITHUB_OUTPUT: one name=value line each, booleans as true/false."""
    lines = []
    for name, value in metadata.as_dict().items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        lines.append(f"{name}={text}\n")
    return "".join(lines)
