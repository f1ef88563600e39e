"""Post-deployment validation: scripts/smoke_test.sh on the server, against what serves."""

from __future__ import annotations

from pipeline import history, proxy
from pipeline.checks import CheckResult, parse_results
from pipeline.commands import prechecks as scripts
from pipeline.commands import smoke
from pipeline.containers import list_releases
from pipeline.deploy import find_serving
from pipeline.errors import CheckFailed
from pipeline.server import EnvContext

SMOKE_CHECKS = ("health", "version", "api", "gpu", "latency", "tls", "container")
SCRIPT_TIMEOUT_SECONDS = 300


def expected_version(ctx: EnvContext) -> str:
    """Return the version the last successful deploy or rollback put in place."""
    for record in reversed(history.read(ctx)):
        if record.succeeded:
            return record.version
    raise CheckFailed(f"{ctx.env.name} has no successful deploy in its history: pass --version")


def proxy_target(ctx: EnvContext) -> tuple[str, str] | None:
    """Return the name and image of the release the proxy points at, whatever its state."""
    rows = list_releases(ctx.runner, ctx.env.name)
    serving, _ = find_serving(ctx, rows)
    if serving is not None:
        return serving.name, serving.image
    alias = proxy.read_upstream(ctx)
    for row in rows:
        if alias and row.alias == alias:
            return row.name, row.image
    return None


def run_smoke(ctx: EnvContext, version: str | None = None) -> list[CheckResult]:
    expected = version or expected_version(ctx)
    target = proxy_target(ctx)
    if target is None:
        return [CheckResult("container", "fail", f"the proxy of {ctx.env.name} points at no release")]
    container, image = target
    args = smoke.smoke_args(ctx.env, version=expected, container=container, image=image)
    result = ctx.runner.run(
        [*scripts.run_script(), *args], stdin=smoke.script_text(), check=False, timeout=SCRIPT_TIMEOUT_SECONDS
    )
    results = parse_results(result.stdout)
    if result.exit_code not in (0, 1) or not results:
        detail = " / ".join((result.stderr or result.stdout).strip().splitlines()[-3:])
        return [CheckResult("smoke", "fail", f"smoke_test.sh exited {result.exit_code} on the server: {detail}")]
    return results
