"""The deploy's own pre-change snapshot of what serves, under the environment's state directory."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from pipeline.commands import files
from pipeline.containers import ContainerState
from pipeline.errors import DeployFailed, RemoteCommandError
from pipeline.server import EnvContext

log = logging.getLogger("agent_dk")

KEEP_SNAPSHOTS = 20


def snapshot(ctx: EnvContext, serving: ContainerState | None) -> str | None:
    """Record the serving release before a change; return the snapshot directory, or None with nothing serving."""
    if serving is None:
        log.info("backup: nothing serves %s yet, so there is nothing to snapshot", ctx.env.name)
        return None
    directory = f"{ctx.root}/backups/{datetime.now(UTC).strftime('%Y%m%dT%H%M%S.%fZ')}"
    try:
        ctx.runner.run(files.snapshot(directory, serving.name, serving.image, ctx.app_env_file), quiet=True)
    except RemoteCommandError as error:
        # Half a snapshot must not look like a backup to restore from.
        ctx.runner.run(files.remove_tree(directory), check=False, quiet=True)
        raise DeployFailed(f"backup of {serving.name} failed, so nothing was changed: {error}") from None
    ctx.runner.run(files.prune_snapshots(f"{ctx.root}/backups", KEEP_SNAPSHOTS), check=False, quiet=True)
    log.info("backup: %s (version %s) recorded in %s", serving.name, serving.version, directory)
    return directory
