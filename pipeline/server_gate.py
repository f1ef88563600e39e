"""What a change needs from the server before it takes the lock: a responsive engine and free disk.

Both are checked before anything changes, so a deploy to a server whose Docker engine hangs or
whose disk is full fails with one clear message instead of half-way through a deploy.
"""

from __future__ import annotations

from pipeline.checks import CheckResult
from pipeline.commands import docker
from pipeline.errors import CheckFailed, DeployFailed, RemoteCommandError
from pipeline.prechecks import server_results
from pipeline.server import EnvContext

# `docker version` returns in well under a second, but a stopped or hung engine never responds.
ENGINE_TIMEOUT_SECONDS = 15.0


def check_engine(ctx: EnvContext) -> str:
    """Return the engine's version, or raise DeployFailed naming the engine that does not respond."""
    try:
        result = ctx.runner.run(docker.server_version(), timeout=ENGINE_TIMEOUT_SECONDS, quiet=True)
    except RemoteCommandError as error:
        detail = (error.stderr.strip().splitlines() or [str(error)])[-1]
        raise DeployFailed(
            f"the Docker engine on {ctx.runner.where} does not answer ({detail}); nothing was changed. "
            "Start it there (systemctl start docker, or `make sandbox-up` for the sandbox) and run this again"
        ) from None
    return result.stdout.strip()


def check_disk(ctx: EnvContext, version: str) -> CheckResult:
    """Raise CheckFailed when the server has less free disk than the environment's min_free_disk_mb."""
    (result,) = server_results(ctx, ("disk",), ctx.settings.image_ref(version))
    if result.status == "fail":
        raise CheckFailed(
            f"not enough disk on {ctx.runner.where}: {result.message}; nothing was changed "
            f"(min_free_disk_mb = {ctx.env.min_free_disk_mb} for {ctx.env.name} in deploy.toml)"
        )
    return result


def check_server(ctx: EnvContext, version: str) -> None:
    check_engine(ctx)
    check_disk(ctx, version)
