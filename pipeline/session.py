"""A task run's governance report and notifications, written however the run ends."""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext

from pipeline.audit import run_url
from pipeline.config import REPO_ROOT, Settings
from pipeline.errors import PipelineError
from pipeline.notify import Event, notify
from pipeline.report import Report, Timeline, terminal_summary, write_report
from pipeline.server import actor

log = logging.getLogger("agent_dk")

REPORTS_DIR = REPO_ROOT / "reports"


def step(timeline: Timeline | None, name: str) -> AbstractContextManager[None]:
    """Time a block as a report step when a timeline is given."""
    return timeline.step(name) if timeline is not None else nullcontext()


class RunSession:
    def __init__(self, settings: Settings, report: Report, *, notify_people: bool) -> None:
        self.settings = settings
        self.report = report
        self.notify_people = notify_people
        self.started = time.monotonic()
        self.version = str(report.metadata.get("version", ""))

    @property
    def timeline(self) -> Timeline:
        return self.report.timeline

    def finish(self, result: str, detail: str = "") -> None:
        self.report.result = result
        secrets = self.settings.secrets()
        path = write_report(self.report, secrets, directory=REPORTS_DIR, environ=os.environ)
        for line in terminal_summary(self.report, secrets):
            print(line, file=sys.stderr)
        print(f"report: {path}", file=sys.stderr)
        if not self.notify_people:
            return
        event = Event(
            environment=str(self.report.metadata.get("environment", "")),
            version=self.version,
            action=self.report.kind,
            result=result,
            duration_seconds=time.monotonic() - self.started,
            actor=actor(),
            run_url=run_url(),
            detail=detail,
        )
        notify(
            event,
            slack_url=self.settings.webhook("SLACK_WEBHOOK_URL"),
            teams_url=self.settings.webhook("TEAMS_WEBHOOK_URL"),
        )


@contextmanager
def run_session(settings: Settings, report: Report, *, notify_people: bool = False) -> Iterator[RunSession]:
    """Yield a session whose report is written, and people notified, on success and on failure."""
    session = RunSession(settings, report, notify_people=notify_people)
    try:
        yield session
    except PipelineError as error:
        session.finish("failed", str(error))
        raise
    except KeyboardInterrupt:
        session.finish("interrupted", "the run was interrupted")
        raise
    if report.result in ("unknown", ""):
        session.finish("succeeded")
    else:
        session.finish(report.result)
