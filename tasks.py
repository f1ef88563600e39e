"""Pipeline tasks. Each parses its flags and calls the pipeline package.

Exit codes: 0 success, 1 a check or deploy failed, 2 invalid input or configuration.
"""

from __future__ import annotations

from invoke import Context, task

from pipeline import build as build_ops
from pipeline import deploy as deploy_ops
from pipeline import gitinfo
from pipeline.cli import reports_errors, resolve_version, settings, ssh_runner
from pipeline.config import REPO_ROOT
from pipeline.remote import LocalRunner
from pipeline.status import read_status

VERSION_HELP = "version tag (default: HEAD's short SHA, with -dirty for uncommitted changes)"


@task(help={"version": VERSION_HELP})
@reports_errors
def build(c: Context, version: str | None = None) -> None:
    """Build the service image on this machine."""
    loaded = settings()
    version = resolve_version(version)
    image_ref = build_ops.build_image(
        loaded,
        LocalRunner(loaded.secrets()),
        version=version,
        git_sha=gitinfo.head_sha(REPO_ROOT),
        build_time=gitinfo.build_time(REPO_ROOT),
    )
    print(image_ref)


@task(help={"version": VERSION_HELP})
@reports_errors
def push(c: Context, version: str | None = None) -> None:
    """Push the built image to the registry."""
    loaded = settings()
    version = resolve_version(version)
    print(build_ops.push_image(loaded, LocalRunner(loaded.secrets()), version=version))


@task(
    help={
        "env": "environment: uat, stg (staging) or prod (production)",
        "version": VERSION_HELP,
        "force": "replace the container even when the same image already serves",
    }
)
@reports_errors
def deploy(c: Context, env: str | None = None, version: str | None = None, force: bool = False) -> None:
    """Deploy a pushed version to an environment and verify it on the environment's port."""
    loaded = settings()
    environment = loaded.environment(env)
    version = resolve_version(version)
    loaded.require_registry()
    runner = ssh_runner(loaded)
    try:
        result = deploy_ops.deploy(loaded, runner, runner.target, environment, version, force=force)
    finally:
        runner.close()
    print(result.message)


@task(help={"env": "environment: uat, stg (staging) or prod (production)"})
@reports_errors
def status(c: Context, env: str | None = None) -> None:
    """Show the container, image and version an environment runs."""
    loaded = settings()
    environment = loaded.environment(env)
    runner = ssh_runner(loaded)
    try:
        current = read_status(runner, runner.target, environment)
    finally:
        runner.close()
    print("\n".join(current.lines()))
