"""Build and runtime identity of the running service."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class BuildInfo:
    """Identity baked in at image build time, plus the environment set at run time."""

    version: str
    git_sha: str
    environment: str
    build_time: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def read_build_info(environ: dict[str, str] | None = None) -> BuildInfo:
    """Read the identity from the variables the Dockerfile and the deploy set."""
    env = os.environ if environ is None else environ
    return BuildInfo(
        version=env.get("APP_VERSION", "unknown"),
        git_sha=env.get("APP_GIT_SHA", "unknown"),
        environment=env.get("APP_ENV", "unknown"),
        build_time=env.get("APP_BUILD_TIME", "unknown"),
    )
