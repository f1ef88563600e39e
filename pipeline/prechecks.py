"""Pre-deployment checks: freeze and security where the pipeline runs, the rest on the server."""

from __future__ import annotations

import logging
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from pipeline.checks import CheckResult, apply_policy, parse_results
from pipeline.commands import prechecks as script
from pipeline.errors import InputError
from pipeline.freeze import active_freeze, describe
from pipeline.remote import LocalRunner
from pipeline.security import security_results
from pipeline.server import EnvContext

log = logging.getLogger("agent_dk")

ALL_CHECKS = ("backup", "freeze", "security", "disk", "network", "gpu")
# Checks whose warning production treats as a failure.
STRICT_CHECKS = ("backup", "security")
SCRIPT_TIMEOUT_SECONDS = 120


def parse_only(value: str | None) -> tuple[str, ...]:
    if value is None:
        return ALL_CHECKS
    names = tuple(name.strip() for name in value.split(",") if name.strip())
    unknown = [name for name in names if name not in ALL_CHECKS]
    if unknown or not names:
        raise InputError(f"invalid --only {value!r}: expected a comma-separated list of {', '.join(ALL_CHECKS)}")
    return names


def freeze_result(ctx: EnvContext, now: datetime | None = None) -> CheckResult:
    active = active_freeze(list(ctx.settings.freeze_windows), ctx.env.name, now or datetime.now(UTC))
    if active is None:
        windows = len(ctx.settings.freeze_windows)
        return CheckResult(
            "freeze", "pass", f"no active change freeze for {ctx.env.name} ({windows} windows in the calendar)"
        )
    return CheckResult("freeze", "fail", describe(active))


def local_image_size_mb(image_ref: str) -> int:
    """Return the size of the image on this machine in MiB, or 0 when it is not here."""
    completed = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Size}}", image_ref],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    if completed.returncode != 0 or not completed.stdout.strip().isdigit():
        return 0
    return int(completed.stdout.strip()) // (1024 * 1024)


def server_results(ctx: EnvContext, checks: tuple[str, ...], image_ref: str) -> list[CheckResult]:
    registry = ctx.settings.registry.address if ctx.settings.registry else None
    args = script.prechecks_args(
        ctx.env,
        registry=registry,
        state_dir=ctx.root,
        image_size_mb=local_image_size_mb(image_ref),
        checks=checks,
    )
    result = ctx.runner.run(
        [*script.run_script(), *args], stdin=script.script_text(), check=False, timeout=SCRIPT_TIMEOUT_SECONDS
    )
    return parse_results_or_fail(result.stdout, result.stderr, result.exit_code, checks)


def parse_results_or_fail(stdout: str, stderr: str, exit_code: int, checks: tuple[str, ...]) -> list[CheckResult]:
    results = parse_results(stdout)
    if exit_code not in (0, 1) or not results:
        detail = (stderr or stdout).strip().splitlines()[-3:]
        return [
            CheckResult(check, "fail", f"prechecks.sh exited {exit_code} on the server: {' / '.join(detail)}")
            for check in checks
        ]
    return results


def run_prechecks(
    ctx: EnvContext,
    *,
    version: str,
    only: tuple[str, ...] = ALL_CHECKS,
    overrides: dict[str, str] | None = None,
    security_reports: list[tuple[str, Path]] | None = None,
    now: datetime | None = None,
) -> list[CheckResult]:
    """Run the selected checks in a fixed order and apply the production policy and overrides."""
    image_ref = ctx.settings.image_ref(version)
    results: list[CheckResult] = []
    if "freeze" in only:
        results.append(freeze_result(ctx, now))
    if "security" in only:
        results += security_results(ctx.env, image_ref, LocalRunner(), security_reports or [])
    server_checks = tuple(check for check in script.SERVER_CHECKS if check in only)
    if server_checks:
        results += server_results(ctx, server_checks, image_ref)
    return apply_policy(results, production=ctx.env.production, strict_checks=STRICT_CHECKS, overridden=overrides or {})
