"""The environment's release history on the server: releases.jsonl, one JSON object per attempt.

Every deploy and rollback attempt is recorded with its outcome. Successful deploys are numbered
in deploy order (`sequence`). A rollback is not a new release, so it records the sequence of the
release it put back (`position`). That order decides the default rollback target.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime

from pipeline.commands import files
from pipeline.server import EnvContext, actor

log = logging.getLogger("agent_dk")

DEPLOY = "deploy"
ROLLBACK = "rollback"
SUCCEEDED = "succeeded"
FAILED = "failed"


@dataclass(frozen=True)
class ReleaseRecord:
    action: str
    result: str
    version: str
    image: str
    container: str
    at: str
    actor: str
    from_version: str = ""
    from_image: str = ""
    sequence: int = -1
    position: int = -1
    reason: str = ""
    detail: str = ""
    approved_by: str = ""
    approval_method: str = ""
    audit_head: str = ""

    @property
    def succeeded(self) -> bool:
        return self.result == SUCCEEDED


def now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def make_record(action: str, result: str, version: str, image: str, container: str, **extra: object) -> ReleaseRecord:
    return ReleaseRecord(
        action=action,
        result=result,
        version=version,
        image=image,
        container=container,
        at=now_text(),
        actor=actor(),
        **extra,  # type: ignore[arg-type]
    )


def append(ctx: EnvContext, record: ReleaseRecord) -> None:
    line = json.dumps(asdict(record), sort_keys=True) + "\n"
    ctx.runner.run(files.append_file(ctx.releases_file), stdin=line, quiet=True)


def read(ctx: EnvContext) -> list[ReleaseRecord]:
    result = ctx.runner.run(files.read_file(ctx.releases_file), check=False, quiet=True)
    return parse(result.stdout) if result.ok else []


def parse(text: str) -> list[ReleaseRecord]:
    known = {field.name for field in fields(ReleaseRecord)}
    records = []
    unreadable = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            records.append(ReleaseRecord(**{key: value for key, value in data.items() if key in known}))
        except (ValueError, TypeError):
            unreadable.append(number)
    if unreadable:
        log.warning("releases: skipped %d unreadable lines (first: line %d)", len(unreadable), unreadable[0])
    return records


def next_sequence(records: list[ReleaseRecord]) -> int:
    return 1 + max((record.sequence for record in records if record.action == DEPLOY), default=-1)


def current_position(records: list[ReleaseRecord]) -> int:
    """Return the deploy-order position of what serves now: the last successful deploy or rollback."""
    for record in reversed(records):
        if record.succeeded:
            return record.sequence if record.action == DEPLOY else record.position
    return -1


def deploys(records: list[ReleaseRecord]) -> list[ReleaseRecord]:
    """Return the successful deploys in deploy order."""
    return sorted((r for r in records if r.action == DEPLOY and r.succeeded), key=lambda r: r.sequence)


def rolled_back_from(records: list[ReleaseRecord]) -> set[str]:
    """Return the images that a successful rollback replaced and no later deploy brought back."""
    replaced: set[str] = set()
    for record in records:
        if not record.succeeded:
            continue
        if record.action == ROLLBACK:
            replaced.add(record.from_image)
        else:
            replaced.discard(record.image)
    return replaced


def failed_containers(records: list[ReleaseRecord]) -> set[str]:
    """Return containers whose latest attempt failed; a name reused by a later good release is not failed."""
    latest: dict[str, str] = {}
    for record in records:
        latest[record.container] = record.result
    return {name for name, result in latest.items() if result == FAILED}


def default_target(records: list[ReleaseRecord], serving_image: str | None) -> ReleaseRecord | None:
    """Return the newest release older than the current one in deploy order.

    Releases that a rollback replaced are skipped, and so is the image that serves now, so
    repeated rollbacks walk back one release at a time.
    """
    position = current_position(records)
    skipped = rolled_back_from(records) | ({serving_image} if serving_image else set())
    for record in reversed(deploys(records)):
        if record.sequence < position and record.image not in skipped:
            return record
    return None


def find_version(records: list[ReleaseRecord], version: str) -> ReleaseRecord | None:
    """Return the newest successful deploy of `version`."""
    matches = [record for record in deploys(records) if record.version == version]
    return matches[-1] if matches else None
