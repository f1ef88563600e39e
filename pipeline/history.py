"""The environment's release history on the target: releases.jsonl, one JSON object per line."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from pipeline.commands import files
from pipeline.server import EnvContext, actor

log = logging.getLogger("agent_dk")

# Statuses a release line records.
SERVING = "serving"
FAILED = "failed"


@dataclass(frozen=True)
class ReleaseRecord:
    version: str
    image: str
    container: str
    status: str
    at: str
    actor: str
    detail: str = ""
    approved_by: str = ""
    approval_method: str = ""


def new_record(
    version: str,
    image: str,
    container: str,
    status: str,
    detail: str = "",
    *,
    approved_by: str = "",
    approval_method: str = "",
) -> ReleaseRecord:
    return ReleaseRecord(
        version=version,
        image=image,
        container=container,
        status=status,
        at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        actor=actor(),
        detail=detail,
        approved_by=approved_by,
        approval_method=approval_method,
    )


def append(ctx: EnvContext, record: ReleaseRecord) -> None:
    line = json.dumps(asdict(record), sort_keys=True) + "\n"
    ctx.runner.run(files.append_file(ctx.releases_file), stdin=line, quiet=True)


def read(ctx: EnvContext) -> list[ReleaseRecord]:
    result = ctx.runner.run(files.read_file(ctx.releases_file), check=False, quiet=True)
    if not result.ok:
        return []
    records = []
    for number, line in enumerate(result.stdout.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(ReleaseRecord(**json.loads(line)))
        except (ValueError, TypeError):
            log.warning("releases: skipping unreadable line %d of %s", number, ctx.releases_file)
    return records


def failed_containers(records: list[ReleaseRecord]) -> set[str]:
    return {record.container for record in records if record.status == FAILED}
