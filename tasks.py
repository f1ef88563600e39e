"""Pipeline tasks. Each parses its flags and calls the pipeline package.

Exit codes: 0 success, 1 a check or deploy failed, 2 invalid input or configuration.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from invoke import Context, task

from pipeline import audit, change, flags, gitinfo, history, metadata, validate
from pipeline import build as build_ops
from pipeline import deploy as deploy_ops
from pipeline import lock as lock_ops
from pipeline import rollback as rollback_ops
from pipeline import setup as setup_ops
from pipeline import smoke as smoke_ops
from pipeline.approval import require_approval
from pipeline.change import ChangeRequest
from pipeline.checks import CheckResult, failed
from pipeline.cli import env_context, parse_overrides, reports_errors, resolve_version, settings, ssh_runner
from pipeline.commands import docker
from pipeline.config import REPO_ROOT
from pipeline.containers import list_releases
from pipeline.deploy import find_serving
from pipeline.errors import CheckFailed, InputError
from pipeline.notify import Event, notify
from pipeline.prechecks import parse_only, run_prechecks
from pipeline.remote import LocalRunner
from pipeline.reporting import new_report, record_outcome
from pipeline.security import parse_report_flag
from pipeline.server import actor
from pipeline.session import run_session
from pipeline.status import release_lines, status_lines

ENV_HELP = "environment: uat, stg (staging) or prod (production)"
VERSION_HELP = "version tag (default: HEAD's short SHA, with -dirty for uncommitted changes)"
OVERRIDE_HELP = "checks to override, comma-separated (freeze, security, backup, ...); needs --reason"
REASON_HELP = "why the override is needed; recorded with the release"
APPROVED_BY_HELP = "who approved a production change (required without a terminal)"
NOTIFY_RESULTS = ("succeeded", "failed", "unchanged", "interrupted")
LOCK_WAIT_HELP = "seconds to wait for another deploy's lock (default 0: fail at once)"

# Unknown tasks and flags then exit 2 with one ERROR line, like every other invalid input.
flags.install()


def parse_number(value: str | None, flag: str, *, default: float, integer: bool = False) -> float:
    """Parse a numeric flag ourselves, so a typo gets one clear line instead of invoke's traceback."""
    if value is None:
        return default
    kind = "a whole number" if integer else "a number"
    try:
        number = int(value) if integer else float(value)
    except ValueError:
        raise InputError(f"invalid {flag} {value!r}: expected {kind}, 0 or more") from None
    if not math.isfinite(number):
        # float() accepts "nan" and "inf", which no wait or duration can be.
        raise InputError(f"invalid {flag} {value!r}: expected {kind}, 0 or more")
    if number < 0:
        raise InputError(f"invalid {flag} {value!r}: expected 0 or more")
    return number


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


@task(
    help={
        "version": VERSION_HELP,
        "also-tag": "push the same image under this tag too, such as latest-uat (repeatable)",
    },
    iterable=["also_tag"],
)
@reports_errors
def push(c: Context, version: str | None = None, also_tag: list[str] | None = None) -> None:
    """Push the built image to the registry, through an SSH tunnel when REGISTRY_VIA_SSH is true."""
    loaded = settings()
    version = resolve_version(version)
    extra = tuple(validate.version_tag(tag, source="--also-tag") for tag in also_tag or [])
    local = LocalRunner(loaded.secrets())
    if loaded.registry_via_ssh:
        ssh = ssh_runner(loaded)
        try:
            refs = build_ops.push_through_tunnel(loaded, local, ssh, version=version, also_tags=extra)
        finally:
            ssh.close()
    else:
        refs = build_ops.push_image(loaded, local, version=version, also_tags=extra)
    print("\n".join(refs))


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
        report = new_report(ctx, "prechecks", version, overrides=overrides)
        with run_session(loaded, report) as session:
            with session.timeline.step("pre-deployment checks"):
                results = run_prechecks(
                    ctx, version=version, only=checks, overrides=overrides, security_reports=reports
                )
            report.prechecks = results
            for result in results:
                print(result.line())
            fail_on(results, "checks")


def fail_on(results: list[CheckResult], what: str) -> None:
    failures = failed(results)
    if failures:
        raise CheckFailed(f"{len(failures)} of {len(results)} {what} failed: {', '.join(r.check for r in failures)}")


@task(
    help={
        "env": ENV_HELP,
        "version": "version that must serve (default: the one the last deploy or rollback put in place)",
    }
)
@reports_errors
def smoke(c: Context, env: str | None = None, version: str | None = None) -> None:
    """Run the post-deployment smoke checks on the server; exit 1 when any fails."""
    loaded = settings()
    loaded.environment(env)
    if version is not None:
        validate.version_tag(version)
    with env_context(loaded, env) as ctx:
        expected = version or smoke_ops.expected_version(ctx)
        report = new_report(ctx, "smoke", expected)
        with run_session(loaded, report) as session:
            with session.timeline.step("smoke checks"):
                results = smoke_ops.run_smoke(ctx, expected)
            report.validation = results
            for result in results:
                print(result.line())
            fail_on(results, "smoke checks")


@task(
    name="notify",
    help={
        "env": ENV_HELP,
        "version": "version the message is about",
        "action": "what happened: deploy, rollback, ... (default deploy)",
        "result": "succeeded, failed or unchanged (default succeeded)",
        "duration": "seconds the run took",
        "detail": "one more line of text",
    },
)
@reports_errors
def notify_(
    c: Context,
    env: str | None = None,
    version: str | None = None,
    action: str = "deploy",
    result: str = "succeeded",
    duration: str | None = None,
    detail: str = "",
) -> None:
    """Send a Slack and a Teams message about a run; a failed delivery is a warning, never an error."""
    loaded = settings()
    # Without --env (the run failed before it knew its environment) the message names it unknown.
    environment_name = loaded.environment(env).name if env else "unknown"
    if result not in NOTIFY_RESULTS:
        raise InputError(f"invalid --result {result!r}: expected one of {', '.join(NOTIFY_RESULTS)}")
    event = Event(
        environment=environment_name,
        version=resolve_version(version),
        action=validate.single_line(action, source="--action"),
        result=result,
        duration_seconds=parse_number(duration, "--duration", default=0),
        actor=actor(),
        run_url=audit.run_url(),
        detail=validate.single_line(detail, source="--detail") if detail else "",
    )
    deliveries = notify(
        event, slack_url=loaded.webhook("SLACK_WEBHOOK_URL"), teams_url=loaded.webhook("TEAMS_WEBHOOK_URL")
    )
    for delivery in deliveries:
        print(f"{delivery.channel}: {delivery.message}")


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
        "lock-wait": LOCK_WAIT_HELP,
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
    lock_wait: str | None = None,
) -> None:
    """Deploy a pushed version: start it beside the old one, switch the proxy, verify, stop the old one."""
    loaded = settings()
    environment = loaded.environment(env)
    version = resolve_version(version)
    overrides = parse_overrides(override, reason)
    wait = parse_number(lock_wait, "--lock-wait", default=0)
    loaded.require_registry()
    approval = None if dry_run else require_approval(environment, approved_by, action="deploy")
    with env_context(loaded, env) as ctx:
        if dry_run:
            print("\n".join(deploy_ops.plan(ctx, version)))
            return
        request = ChangeRequest(
            "deploy", version, reason=reason or "", approval=approval, overrides=overrides, force=force, lock_wait=wait
        )
        report = new_report(ctx, "deploy", version, approval=approval, overrides=overrides)
        with run_session(loaded, report, notify_people=True) as session:
            result = change.execute(ctx, request, timeline=session.timeline, checks=report.prechecks)
            record_outcome(report, result)
        print(result.message)


@task(
    help={
        "env": ENV_HELP,
        "reason": "why the rollback is needed (required, one line)",
        "to": "version to roll back to (default: the release before the current one)",
        "dry-run": "print the plan; change nothing",
        "approved-by": APPROVED_BY_HELP,
        "override": "override the change freeze: --override=freeze (the --reason is recorded)",
        "lock-wait": LOCK_WAIT_HELP,
    }
)
@reports_errors
def rollback(
    c: Context,
    env: str | None = None,
    reason: str | None = None,
    to: str | None = None,
    dry_run: bool = False,
    approved_by: str | None = None,
    override: str | None = None,
    lock_wait: str | None = None,
) -> None:
    """Put an earlier release back, with the same health gate and proxy switch as a deploy."""
    loaded = settings()
    environment = loaded.environment(env)
    if reason is None:
        raise InputError("missing --reason: a rollback needs a one-line reason, which the audit trail records")
    text = validate.single_line(reason, source="--reason")
    if to is not None:
        validate.version_tag(to, source="--to")
    overrides = parse_overrides(override, text) if override else {}
    wait = parse_number(lock_wait, "--lock-wait", default=0)
    loaded.require_registry()
    approval = None if dry_run else require_approval(environment, approved_by, action="rollback")
    with env_context(loaded, env) as ctx:
        plan = rollback_ops.prepare(ctx, to)
        print("\n".join(plan.summary(text)))
        if plan.no_op:
            print(f"{environment.name} already serves {plan.target.version}; nothing to roll back")
            return
        if dry_run:
            print("dry run: nothing was changed")
            return
        request = ChangeRequest(
            "rollback",
            plan.target.version,
            reason=text,
            approval=approval,
            overrides=overrides,
            lock_wait=wait,
            image=plan.target.image,
            position=plan.target.sequence,
        )
        report = new_report(ctx, "rollback", plan.target.version, approval=approval, overrides=overrides)
        report.deployment["reason"] = text
        with run_session(loaded, report, notify_people=True) as session:
            result = change.execute(ctx, request, timeline=session.timeline, checks=report.prechecks)
            record_outcome(report, result)
            with session.timeline.step("validate with retries"):
                checks = rollback_ops.validate(ctx, result)
            report.validation += [CheckResult("rollback", "pass", line) for line in checks]
        print("\n".join(checks))
        print(result.message)


@task(help={"env": ENV_HELP})
@reports_errors
def releases(c: Context, env: str | None = None) -> None:
    """List every deploy and rollback attempt and what can be rolled back to now."""
    with env_context(settings(), env) as ctx:
        print("\n".join(release_lines(ctx)))


@task(name="lock", help={"env": ENV_HELP})
@reports_errors
def lock_(c: Context, env: str | None = None) -> None:
    """Show who holds an environment's deploy lock, and whether it is stale."""
    with env_context(settings(), env) as ctx:
        info = lock_ops.read_lock(ctx)
        if info is None:
            print(f"{ctx.env.name} is not locked")
        else:
            print(f"{ctx.env.name} is locked: {info.describe(ctx.env.lock_stale_after, ctx.env.name)}")


@task(help={"env": ENV_HELP, "reason": "why the lock is removed (required)", "approved-by": APPROVED_BY_HELP})
@reports_errors
def unlock(c: Context, env: str | None = None, reason: str | None = None, approved_by: str | None = None) -> None:
    """Remove an environment's deploy lock, for example one a killed run left behind; audited."""
    loaded = settings()
    environment = loaded.environment(env)
    if reason is None:
        raise InputError("missing --reason: removing a lock needs a one-line reason, which the audit trail records")
    text = validate.single_line(reason, source="--reason")
    approval = require_approval(environment, approved_by, action="unlock")
    with env_context(loaded, env) as ctx:
        removed = lock_ops.force_remove(ctx)
        if removed is None:
            print(f"{ctx.env.name} was not locked; nothing removed")
            return
        audit.record(
            ctx,
            "unlock",
            "succeeded",
            reason=text,
            detail=f"removed lock {removed.describe(ctx.env.lock_stale_after, ctx.env.name)}",
            approved_by=approval.approver if approval else "",
        )
        print(f"removed the lock of {ctx.env.name} ({removed.holder}, since {removed.started_at})")


@task(
    name="audit",
    help={
        "env": ENV_HELP,
        "last": "show only the newest N lines",
        "verify": "check the hash chain; exit 1 and name the first bad line if it is broken",
    },
)
@reports_errors
def audit_(c: Context, env: str | None = None, last: str | None = None, verify: bool = False) -> None:
    """Show an environment's audit trail, or verify that it has not been edited."""
    newest = int(parse_number(last, "--last", default=0, integer=True))
    with env_context(settings(), env) as ctx:
        lines = audit.read_lines(ctx)
        if verify:
            heads = [record.audit_head for record in history.read(ctx)] + [audit.read_stored_head(ctx)]
            outcome = audit.verify_lines(lines, heads)
            if not outcome.ok:
                raise CheckFailed(f"audit trail of {ctx.env.name} is broken: {outcome.message}")
            print(f"audit trail of {ctx.env.name} verified: {outcome.message}")
            return
        shown = lines[-newest:] if newest else lines
        for text in shown:
            try:
                print(audit.format_line(json.loads(text)))
            except ValueError:
                print(f"(unreadable line) {text}")


@task(help={"env": ENV_HELP})
@reports_errors
def status(c: Context, env: str | None = None) -> None:
    """Show what an environment serves, its proxy and the releases kept for rollback."""
    with env_context(settings(), env) as ctx:
        print("\n".join(status_lines(ctx)))


@task(help={"env": ENV_HELP, "follow": "keep streaming new lines", "lines": "lines of history to show"})
@reports_errors
def logs(c: Context, env: str | None = None, follow: bool = False, lines: str | None = None) -> None:
    """Show the logs of the release that serves the environment."""
    count = int(parse_number(lines, "--lines", default=100, integer=True))
    with env_context(settings(), env) as ctx:
        serving, _ = find_serving(ctx, list_releases(ctx.runner, ctx.env.name))
        if serving is None:
            raise InputError(f"{ctx.env.name} serves no release yet: deploy one first")
        argv = docker.logs(serving.name, count, follow=follow)
        if follow:
            ctx.runner.stream(argv)
        else:
            result = ctx.runner.run(argv, quiet=True)
            print(result.stdout + result.stderr, end="")
