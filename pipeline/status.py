"""Status of an environment: the serving release, its proxy and the releases it can roll back to."""

from __future__ import annotations

from pipeline import history, proxy
from pipeline.containers import list_releases
from pipeline.deploy import find_serving
from pipeline.readiness import external_version_probe, read_version
from pipeline.rollback import available_images
from pipeline.server import EnvContext


def status_lines(ctx: EnvContext) -> list[str]:
    env = ctx.env
    rows = list_releases(ctx.runner, env.name)
    serving, legacy = find_serving(ctx, rows)
    front = proxy.read_proxy(ctx)
    answering = read_version(ctx.runner, external_version_probe(ctx))
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
    failed = history.failed_containers(history.read(ctx))
    retained = [row for row in rows if row.state != "running" and row.name not in failed]
    lines.append("retained for rollback:" if retained else "retained for rollback: none")
    for row in retained:
        digest = row.image.split("@")[-1][:19] if "@" in row.image else row.image
        lines.append(f"  {row.version or '?':<24} {row.name} {digest} (created {row.created_at})")
    return lines


def release_lines(ctx: EnvContext) -> list[str]:
    """List every deploy and rollback attempt, newest first, with what can be rolled back to now."""
    records = history.read(ctx)
    if not records:
        return [f"{ctx.env.name} has no release history yet"]
    serving, _ = find_serving(ctx, list_releases(ctx.runner, ctx.env.name))
    serving_image = serving.image if serving else None
    images = available_images(ctx)
    replaced = history.rolled_back_from(records)
    header = f"{'version':<26} {'digest':<19} {'at':<20} {'by':<28} {'status':<32} rollback target"
    lines = [header]
    serving_shown = False
    for record in reversed(records):
        digest = record.image.split("@")[-1][:19] if "@" in record.image else record.image[:19]
        status = release_status(record, serving_image, serving_shown, replaced, images)
        if status.startswith("serving"):
            serving_shown = True
        can_return = (
            "yes"
            if record.action == history.DEPLOY
            and record.succeeded
            and record.image in images
            and record.image != serving_image
            else "-"
        )
        lines.append(
            f"{record.version:<26} {digest:<19} {record.at:<20} {record.actor[:28]:<28} {status:<32} {can_return}"
        )
    return lines


def release_status(
    record: history.ReleaseRecord, serving_image: str | None, serving_shown: bool, replaced: set[str], images: set[str]
) -> str:
    """Name what one history line means now; records come newest first, so only one shows as serving."""
    if record.result == history.FAILED:
        return f"{record.action} failed"
    if record.image == serving_image and not serving_shown:
        return "serving" if record.action == history.DEPLOY else f"serving (rollback from {record.from_version or '?'})"
    if record.action == history.ROLLBACK:
        return f"rollback from {record.from_version or '?'}"
    if record.image == serving_image:
        return "deployed again later"
    if record.image in replaced:
        return "replaced by a rollback"
    return "image on the server" if record.image in images else "image removed"
