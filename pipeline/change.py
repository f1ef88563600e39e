"""One change to an environment (a deploy or a rollback) with everything around it.

In order: check that the server's engine responds and has free disk, take the lock, check the change
freeze again, audit the approval and the start, back up what serves, deploy, then audit the
outcome and record it in the release history. The lock is released in every case, Ctrl-C
included.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import FrameType

from pipeline import audit, backup, history, lock, server_gate
from pipeline.approval import Approval
from pipeline.checks import CheckResult
from pipeline.commands import files
from pipeline.containers import ContainerState, list_releases
from pipeline.deploy import DeployResult, ReleaseFailed, deploy, find_serving
from pipeline.errors import CheckFailed, PipelineError
from pipeline.prechecks import freeze_result
from pipeline.report import Timeline
from pipeline.server import EnvContext

log = logging.getLogger("agent_dk")


@dataclass(frozen=True)
class ChangeRequest:
    action: str
    version: str
    reason: str = ""
    approval: Approval | None = None
    overrides: dict[str, str] = field(default_factory=dict)
    force: bool = False
    lock_wait: float = 0
    # A rollback deploys a recorded image by digest and returns to its place in deploy order.
    image: str | None = None
    position: int = -1


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM like Ctrl-C while a change runs, so `finally` blocks release the lock."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def freeze_gate(
    ctx: EnvContext, request: ChangeRequest, now: datetime | None = None, checks: list[CheckResult] | None = None
) -> str:
    """Raise CheckFailed inside an active change freeze unless overridden; return the override note.

    The check's result is appended to `checks` when given, for the run's report.
    """
    result = freeze_result(ctx, now or datetime.now(UTC))
    if checks is not None:
        checks.append(result)
    if result.status != "fail":
        return ""
    if "freeze" not in request.overrides:
        raise CheckFailed(f"{result.message}; to {request.action} anyway: --override=freeze --reason=TEXT")
    note = f"change freeze overridden ({request.overrides['freeze']}): {result.message}"
    log.warning("%s: %s", request.action, note)
    audit.record(
        ctx, "freeze-override", "granted", to_version=request.version, reason=request.overrides["freeze"], detail=note
    )
    return note


def execute(
    ctx: EnvContext,
    request: ChangeRequest,
    timeline: Timeline | None = None,
    checks: list[CheckResult] | None = None,
) -> DeployResult:
    ctx.runner.run(files.make_directory(ctx.root, "0700"), quiet=True)
    server_gate.check_server(ctx, request.version)
    with (
        terminate_as_interrupt(),
        lock.hold(ctx, action=request.action, reason=request.reason, wait_seconds=request.lock_wait),
    ):
        # Checked again right before the change: an approval may have waited for hours.
        note = freeze_gate(ctx, request, checks=checks)
        if request.approval is not None:
            audit.record(
                ctx,
                "approval",
                "granted",
                to_version=request.version,
                approved_by=request.approval.approver,
                approval_method=request.approval.method,
            )
        serving, _ = find_serving(ctx, list_releases(ctx.runner, ctx.env.name))
        from_version = (serving.version or "") if serving else ""
        audit.record(
            ctx, request.action, "started", from_version=from_version, to_version=request.version, reason=request.reason
        )
        snapshots: list[str] = []

        def back_up(current: ContainerState | None) -> None:
            directory = backup.snapshot(ctx, current)
            if directory:
                snapshots.append(directory)

        try:
            result = deploy(
                ctx, request.version, force=request.force, image=request.image, timeline=timeline, before_change=back_up
            )
        except ReleaseFailed as error:
            entry = audit.record(
                ctx,
                request.action,
                "failed",
                from_version=error.from_version,
                to_version=request.version,
                to_digest=error.image,
                reason=request.reason,
                detail=f"{error}; the new release was stopped automatically",
            )
            record(ctx, request, history.FAILED, error.image, error.container, error.from_version, error.from_image,
                   str(error), note, entry["hash"])  # fmt: skip
            raise
        except PipelineError as error:
            audit.record(
                ctx, request.action, "failed", from_version=from_version, to_version=request.version, detail=str(error)
            )
            raise
        if not result.changed:
            audit.record(ctx, request.action, "unchanged", to_version=request.version, to_digest=result.image)
            return result
        entry = audit.record(
            ctx,
            request.action,
            "succeeded",
            from_version=result.from_version,
            from_digest=result.from_image,
            to_version=result.version,
            to_digest=result.image,
            reason=request.reason,
            approved_by=request.approval.approver if request.approval else "",
            backup=snapshots[0] if snapshots else "",
        )
        record(ctx, request, history.SUCCEEDED, result.image, result.container, result.from_version,
               result.from_image, "", note, entry["hash"])  # fmt: skip
        return result


def record(
    ctx: EnvContext,
    request: ChangeRequest,
    result: str,
    image: str,
    container: str,
    from_version: str,
    from_image: str,
    detail: str,
    note: str,
    audit_head: str,
) -> None:
    records = history.read(ctx)
    sequence = (
        history.next_sequence(records) if request.action == history.DEPLOY and result == history.SUCCEEDED else -1
    )
    history.append(
        ctx,
        history.make_record(
            request.action,
            result,
            request.version,
            image,
            container,
            from_version=from_version,
            from_image=from_image,
            sequence=sequence,
            position=request.position if request.action == history.ROLLBACK else -1,
            reason=request.reason,
            detail="; ".join(part for part in (detail, note) if part),
            approved_by=request.approval.approver if request.approval else "",
            approval_method=request.approval.method if request.approval else "",
            audit_head=audit_head,
        ),
    )
