"""One deploy lock per environment on the server: a directory made atomically with mkdir.

The holder's process runs on the machine that runs the pipeline, not on the server, so the
server cannot see whether it still lives. When the holder ran on this same machine its pid is
checked; otherwise a lock older than the environment's lock_stale_after is reported as stale.
Either way `invoke unlock` removes it: a lock is never taken over silently.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from pipeline.audit import run_url
from pipeline.commands import files
from pipeline.errors import PipelineError
from pipeline.server import EnvContext, actor

log = logging.getLogger("agent_dk")

WAIT_INTERVAL_SECONDS = 1.0


class LockHeld(PipelineError):
    """Another deploy or rollback holds the environment's lock."""


@dataclass(frozen=True)
class LockInfo:
    holder: str
    host: str
    pid: int
    action: str
    reason: str
    run_url: str
    started_at: str
    token: str

    def age_seconds(self, now: datetime | None = None) -> float:
        started = datetime.strptime(self.started_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        return ((now or datetime.now(UTC)) - started).total_seconds()

    def holder_gone(self) -> bool:
        """Return True when the holder ran on this machine and its process no longer exists."""
        if self.host != socket.gethostname() or self.pid <= 0:
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False

    def describe(self, stale_after: float, environment: str) -> str:
        age = self.age_seconds()
        text = (
            f"held by {self.holder} ({self.action}"
            + (f": {self.reason}" if self.reason else "")
            + f") from {self.host} pid {self.pid} since {self.started_at} ({age:.0f} s ago)"
        )
        if self.run_url:
            text += f", run {self.run_url}"
        if self.holder_gone():
            text += (
                f"; STALE: its process (pid {self.pid} on this machine) no longer runs, so it was killed before "
                f"it could release the lock. Run `invoke status --env={environment}` to see what serves, then "
                f"remove the lock with `invoke unlock --env={environment} --reason=TEXT`"
            )
        elif age > stale_after:
            text += (
                f"; STALE: older than the maximum deploy duration of {stale_after:g} s, so its holder has "
                "probably died. Check that no deploy still runs, then remove it with "
                f"`invoke unlock --env={environment} --reason=TEXT`"
            )
        return text


def lock_dir(ctx: EnvContext) -> str:
    return f"{ctx.root}/lock"


def read_lock(ctx: EnvContext) -> LockInfo | None:
    result = ctx.runner.run(files.read_file(f"{lock_dir(ctx)}/info.json"), check=False, quiet=True)
    if not result.ok:
        exists = ctx.runner.run(files.is_directory(lock_dir(ctx)), check=False, quiet=True)
        if exists.ok:
            # The directory exists but its info is not written yet: a lock being taken right now.
            return LockInfo("unknown", "unknown", 0, "starting", "", "", _now(), "")
        return None
    try:
        return LockInfo(**json.loads(result.stdout))
    except (ValueError, TypeError):
        return LockInfo("unreadable lock info", "unknown", 0, "unknown", "", "", _now(), "")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def try_acquire(ctx: EnvContext, info: LockInfo) -> bool:
    text = json.dumps(asdict(info), sort_keys=True)
    result = ctx.runner.run(files.make_lock(lock_dir(ctx)), stdin=text, check=False, quiet=True)
    return result.ok


@contextmanager
def hold(ctx: EnvContext, *, action: str, reason: str = "", wait_seconds: float = 0) -> Iterator[LockInfo]:
    """Take the environment's lock for the duration of the block, and release it in every case."""
    info = LockInfo(
        holder=actor(),
        host=socket.gethostname(),
        pid=os.getpid(),
        action=action,
        reason=reason,
        run_url=run_url(),
        started_at=_now(),
        token=secrets.token_hex(8),
    )
    deadline = time.monotonic() + wait_seconds
    while not try_acquire(ctx, info):
        current = read_lock(ctx)
        described = current.describe(ctx.env.lock_stale_after, ctx.env.name) if current else "held by an unknown holder"
        if time.monotonic() >= deadline:
            waited = f" after waiting {wait_seconds:g} s" if wait_seconds else ""
            raise LockHeld(f"{ctx.env.name} is locked{waited}: {described}. Wait for it, or pass --lock-wait=SECONDS")
        log.info("lock: %s is %s; waiting", ctx.env.name, described)
        time.sleep(WAIT_INTERVAL_SECONDS)
    log.info("lock: taken for %s of %s", action, ctx.env.name)
    try:
        yield info
    finally:
        release(ctx, info)


def release(ctx: EnvContext, info: LockInfo) -> None:
    """Remove the lock if it is still ours; a lock someone removed and retook stays."""
    result = ctx.runner.run(files.remove_lock(lock_dir(ctx), info.token), check=False, quiet=True)
    if result.ok:
        log.info("lock: released")
    else:
        log.warning("lock: %s was not ours any more, so it was left in place", lock_dir(ctx))


def force_remove(ctx: EnvContext) -> LockInfo | None:
    """Remove the lock regardless of its holder and return the holder's information."""
    current = read_lock(ctx)
    if current is not None:
        ctx.runner.run(files.remove_tree(lock_dir(ctx)))
    return current
