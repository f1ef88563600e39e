"""Pipeline tasks. Each parses its flags and calls the pipeline package.

Exit codes: 0 success, 1 a check or deploy failed, 2 invalid input or configuration.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from invoke import Context, task

from pipeline import build as build_ops
from pipeline import deploy as deploy_ops
from pipeline import gitinfo, metadata
from pipeline import setup as setup_ops
from pipeline.approval import require_approval
from pipeline.checks import failed
from pipeline.cli import env_context, parse_overrides, reports_errors, resolve_version, settings
from pipeline.commands import docker
from pipeline.config import REPO_ROOT
from pipeline.containers import list_releases
from pipeline.deploy import find_serving
from pipeline.errors import InputError, PipelineError
from pipeline.prechecks import freeze_result, parse_only, run_prechecks
from pipeline.remote import LocalRunner
from pipeline.security import parse_report_flag
from pipeline.status import status_lines

ENV_HELP = "environment: uat, stg (staging) or prod (production)"
VERSION_HELP = "version tag (default: HEAD's short SHA, with -dirty for uncommitted changes)"
OVERRIDE_HELP = "checks to override, comma-separated (freeze, security, backup, ...); needs --reason"
REASON_HELP = "why the override is needed; recorded with the release"
APPROVED_BY_HELP = "who approved a production change (required without a terminal)"


class ChecksFailed(PipelineError):
    """One or more pre-deployment checks failed."""


@task(name="metadata", help={"env": ENV_HELP + " (default: from the git branch)", "version": VERSION_HELP})
@reports_errors
def metadata_(c: Context, env: str | None = None, version: str | None = None) -> None:
    """Print what a run deploys (environment, container, port, version, image, time) as JSON."""
    resolved = metadata.resolve(settings(), REPO_ROOT, env_name=env, version=version)
    print(json.dumps(resolved.as_dict(), indent=2))
    output = os.environ.get("GITHUB_OUTPUT")
    if output:
        with Path(output).open("a") as stream:
            stream.write(metadata.github_output_lines(resolved))


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
        "env": ENV_HELP,
        "version": VERSION_HELP,
        "only": "comma-separated checks: backup, freeze, security, disk, network, gpu (default: all)",
        "override": OVERRIDE_HELP,
        "reason": REASON_HELP,
        "security-report": "SCANNER:PATH of a report a scanner wrote earlier (pip-audit, trivy or grype)",
    },
    iterable=["security_report"],
)
@reports_errors
def prechecks(
    c: Context,
    env: str | None = None,
    version: str | None = None,
    only: str | None = None,
    override: str | None = None,
    reason: str | None = None,
    security_report: list[str] | None = None,
) -> None:
    """Run the pre-deployment checks; exit 1 when any fails."""
    loaded = settings()
    loaded.environment(env)
    checks = parse_only(only)
    overrides = parse_overrides(override, reason)
    reports = [parse_report_flag(value) for value in security_report or []]
    version = resolve_version(version)
    loaded.require_registry()
    with env_context(loaded, env) as ctx:
        results = run_prechecks(ctx, version=version, only=checks, overrides=overrides, security_reports=reports)
    for result in results:
        print(result.line())
    failures = failed(results)
    if failures:
        raise ChecksFailed(f"{len(failures)} of {len(results)} checks failed: {', '.join(r.check for r in failures)}")


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
        "approved-by": APPROVED_BY_HELP,
        "override": "override the change freeze: --override=freeze --reason=TEXT",
        "reason": REASON_HELP,
    }
)
@reports_errors
def deploy(
    c: Context,
    env: str | None = None,
    version: str | None = None,
    force: bool = False,
    dry_run: bool = False,
    approved_by: str | None = None,
    override: str | None = None,
    reason: str | None = None,
) -> None:
    """Deploy a pushed version: start it beside the old one, switch the proxy, verify, stop the old one."""
    loaded = settings()
    environment = loaded.environment(env)
    version = resolve_version(version)
    overrides = parse_overrides(override, reason)
    loaded.require_registry()
    approval = None if dry_run else require_approval(environment, approved_by, action="deploy")
    with env_context(loaded, env) as ctx:
        if dry_run:
            print("\n".join(deploy_ops.plan(ctx, version)))
            return
        # Checked again right before the change: an approval may have waited for hours.
        notes = check_freeze(ctx, overrides)
        print(deploy_ops.deploy(ctx, version, force=force, approval=approval, notes=notes).message)


def check_freeze(ctx, overrides: dict[str, str]) -> str:  # type: ignore[no-untyped-def]
    """Raise ChecksFailed inside an active change freeze unless it is overridden; return the audit note."""
    result = freeze_result(ctx)
    if result.status != "fail":
        return ""
    if "freeze" in overrides:
        note = f"change freeze overridden ({overrides['freeze']}): {result.message}"
        print(f"WARNING: {note}")
        return note
    raise ChecksFailed(f"{result.message}; to deploy anyway: --override=freeze --reason=TEXT")


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
