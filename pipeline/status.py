"""What an environment runs right now, and what it could roll back to."""

from __future__ import annotations

from pipeline import proxy
from pipeline.commands import probe
from pipeline.containers import list_releases
from pipeline.deploy import find_serving
from pipeline.history import failed_containers
from pipeline.history import read as read_history
from pipeline.readiness import read_version
from pipeline.server import EnvContext


def status_lines(ctx: EnvContext) -> list[str]:
    env = ctx.env
    rows = list_releases(ctx.runner, env.name)
    serving, legacy = find_serving(ctx, rows)
    front = proxy.read_proxy(ctx)
    answering = read_version(ctx.runner, probe.local_url(ctx.target.publish_address, env.port, "/version"))
    lines = [f"environment: {env.name} ({env.strategy}) on {ctx.runner.where}"]
    if front is None:
        lines.append(f"proxy:       none ({env.container} does not exist; `invoke setup --env={env.name}` creates it)")
    elif legacy:
        lines.append(f"proxy:       none; {env.container} serves port {env.port} directly (the old layout)")
    else:
        target = proxy.read_upstream(ctx) or "-"
        lines.append(f"proxy:       {env.container} ({front.status}) on port {env.port} -> {target}")
    if serving is None:
        lines.append("serving:     nothing")
    else:
        lines += [
            f"serving:     {serving.name} version {serving.version or '?'} ({serving.status}, "
            f"health {serving.health or 'none'})",
            f"image:       {serving.image}",
            f"since:       {serving.started_at}",
        ]
    lines.append(f"answering:   port {env.port} reports version {answering or '(no answer)'}")
    failed = failed_containers(read_history(ctx))
    retained = [row for row in rows if row.state != "running" and row.name not in failed]
    lines.append("retained for rollback:" if retained else "retained for rollback: none")
    for row in retained:
        digest = row.image.split("@")[-1][:19] if "@" in row.image else row.image
        lines.append(f"  {row.version or '?':<24} {row.name} {digest} (created {row.created_at})")
    return lines
