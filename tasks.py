"""Pipeline tasks. Each parses its flags and calls the pipeline package.

Exit codes: 0 success, 1 a check or deploy failed, 2 invalid input or configuration.
"""

from __future__ import annotations

from invoke import Context, task

from pipeline import build as build_ops
from pipeline import deploy as deploy_ops
from pipeline import gitinfo
from pipeline import setup as setup_ops
from pipeline.cli import env_context, reports_errors, resolve_version, settings
from pipeline.commands import docker
from pipeline.config import REPO_ROOT
from pipeline.containers import list_releases
from pipeline.deploy import find_serving
from pipeline.errors import InputError
from pipeline.remote import LocalRunner
from pipeline.status import status_lines

ENV_HELP = "environment: uat, stg (staging) or prod (production)"
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


@task(help={"env": ENV_HELP})
@reports_errors
def setup(c: Context, env: str | None = None) -> None:
    """Prepare the server for an environment (state directory, network, proxy); safe to repeat."""
    with env_context(settings(), env) as ctx:
        print("\n".join(setup_ops.setup(ctx)))


@task(
    help={
        "env": ENV_HELP,
        "version": VERSION_HELP,
        "force": "start a fresh container even when the same image already serves",
        "dry-run": "print the plan and the exact commands; change nothing",
    }
)
@reports_errors
def deploy(
    c: Context, env: str | None = None, version: str | None = None, force: bool = False, dry_run: bool = False
) -> None:
    """Deploy a pushed version: start it beside the old one, switch the proxy, verify, stop the old one."""
    loaded = settings()
    loaded.environment(env)
    version = resolve_version(version)
    loaded.require_registry()
    with env_context(loaded, env) as ctx:
        if dry_run:
            print("\n".join(deploy_ops.plan(ctx, version)))
            return
        print(deploy_ops.deploy(ctx, version, force=force).message)


@task(help={"env": ENV_HELP})
@reports_errors
def status(c: Context, env: str | None = None) -> None:
    """Show what an environment serves, its proxy and the releases kept for rollback."""
    with env_context(settings(), env) as ctx:
        print("\n".join(status_lines(ctx)))


@task(help={"env": ENV_HELP, "follow": "keep streaming new lines", "lines": "lines of history to show"})
@reports_errors
def logs(c: Context, env: str | None = None, follow: bool = False, lines: int = 100) -> None:
    """Show the logs of the release that serves the environment."""
    if lines < 0:
        raise InputError(f"invalid --lines {lines}: expected 0 or more")
    with env_context(settings(), env) as ctx:
        serving, _ = find_serving(ctx, list_releases(ctx.runner, ctx.env.name))
        if serving is None:
            raise InputError(f"{ctx.env.name} serves no release yet: deploy one first")
        argv = docker.logs(serving.name, lines, follow=follow)
        if follow:
            ctx.runner.stream(argv)
        else:
            result = ctx.runner.run(argv, quiet=True)
            print(result.stdout + result.stderr, end="")
