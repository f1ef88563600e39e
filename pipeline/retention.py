"""Keep the newest stopped releases of one environment for instant rollback; remove older ones."""

from __future__ import annotations

import logging

from pipeline import history
from pipeline.commands import docker
from pipeline.containers import ReleaseRow, list_releases
from pipeline.server import EnvContext

log = logging.getLogger("agent_dk")


def stale_releases(
    rows: list[ReleaseRow], keep: int, serving: str | None, failed: set[str] | None = None
) -> list[ReleaseRow]:
    """Return the stopped releases past the newest `keep`, and failed ones past the newest; rows come newest first.

    Failed releases do not count toward `keep`, so they never push a good release out; the newest
    one stays for inspection.
    """
    failed = failed or set()
    stopped = [row for row in rows if row.state != "running" and row.name != serving]
    good = [row for row in stopped if row.name not in failed]
    broken = [row for row in stopped if row.name in failed]
    return good[keep:] + broken[1:]


def prune(ctx: EnvContext, serving: str | None) -> list[str]:
    """Remove this environment's stale releases and their images; return the removed names.

    Only containers labelled with this environment are listed, so another environment's
    releases on the same host are never touched. An image still used by any container stays.
    """
    rows = list_releases(ctx.runner, ctx.env.name)
    failed = history.failed_containers(history.read(ctx))
    removed = []
    for row in stale_releases(rows, ctx.env.retain, serving, failed):
        ctx.runner.run(docker.remove(row.name))
        removed.append(row.name)
        still_used = any(other.image == row.image for other in rows if other.name not in removed)
        if not still_used:
            ctx.runner.run(docker.remove_image(row.image), check=False, quiet=True)
    if removed:
        log.info("retention: removed %s (keeping %d stopped releases)", ", ".join(removed), ctx.env.retain)
    return removed
