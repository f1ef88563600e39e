"""The governance report of a deploy, rollback or check run: a timeline of steps, rendered as Markdown.

Nothing here runs a step or decides an outcome. The tasks record what happened in a `Report`,
`render_markdown` turns it into a document an auditor can read, and `write_report` saves it as a
file and, in GitHub Actions, in the job's step summary. Every string passes through `mask_text`
before it reaches the output.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from pipeline.checks import STATUSES, CheckResult
from pipeline.secret import Secret, mask_text

STEP_STATUSES = ("done", "failed")
CHECK_SYMBOLS = {"pass": "✅", "fail": "❌", "warn": "⚠️", "skip": "⏭️"}
STEP_SYMBOLS = {"done": "✅", "failed": "❌"}
NO_CHECKS = "No checks ran in this step."

# Mermaid's gantt parser reads task times with dayjs in strict mode, so _format_time must output exactly this format.
MERMAID_DATE_FORMAT = "YYYY-MM-DD HH:mm:ss.SSS"
# A run shorter than this gets sub-second axis ticks, which need milliseconds in the label.
SHORT_RUN_SECONDS = 10.0
# The gantt lexer ends a task name at ":", ";" or a line break, and "#" starts a comment.
MERMAID_NAME_BREAKERS = re.compile(r"[:;#\r\n\v\f\x85\u2028\u2029]+")

# Report files are named {kind}-{environment}-{stamp}.md, so both parts must be safe in a file name.
FILE_NAME_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
FILE_STAMP_FORMAT = "%Y%m%dT%H%M%SZ"
STEP_SUMMARY_VARIABLE = "GITHUB_STEP_SUMMARY"


def utc_now() -> datetime:
    return datetime.now(UTC)


def _as_utc(moment: datetime, *, source: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(
            f"{source} {moment.isoformat()} has no time zone: pass an aware datetime such as datetime.now(UTC)"
        )
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class Step:
    """One timed step of a run, with UTC start and end times."""

    name: str
    start: datetime
    end: datetime
    status: str

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


class Timeline:
    """The steps of one run, in the order they started (step) or were added (add), timed with an injectable clock."""

    def __init__(self, now: Callable[[], datetime] = utc_now) -> None:
        self._now = now
        self._steps: list[Step] = []

    @property
    def steps(self) -> tuple[Step, ...]:
        return tuple(self._steps)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Time the block as one step, which is recorded as failed when the block raises.

        The exception propagates. The step is inserted where it started, so a step around nested
        steps comes before them.
        """
        position = len(self._steps)
        start = self._now()
        status = "failed"
        try:
            yield
            status = "done"
        finally:
            self._steps.insert(position, self._validated_step(name, start, self._now(), status))

    def add(self, name: str, start: datetime, end: datetime, status: str = "done") -> Step:
        """Record a step that was timed elsewhere, for example on the target, and return it."""
        step = self._validated_step(name, start, end, status)
        self._steps.append(step)
        return step

    def total_seconds(self) -> float:
        """Return the wall-clock time from the first start to the last end, which counts gaps between steps."""
        if not self._steps:
            return 0.0
        first = min(step.start for step in self._steps)
        last = max(step.end for step in self._steps)
        return (last - first).total_seconds()

    def slowest(self) -> Step | None:
        return max(self._steps, key=lambda step: step.seconds, default=None)

    @staticmethod
    def _validated_step(name: str, start: datetime, end: datetime, status: str) -> Step:
        if status not in STEP_STATUSES:
            raise ValueError(f"invalid step status {status!r} for step {name!r}: valid statuses are {STEP_STATUSES}")
        start = _as_utc(start, source=f"start of step {name!r}")
        end = _as_utc(end, source=f"end of step {name!r}")
        if end < start:
            raise ValueError(f"step {name!r} ends at {end.isoformat()}, before its start at {start.isoformat()}")
        return Step(name, start, end, status)


@dataclass
class Report:
    """The record of one deploy, rollback or check run, which the task fills in while the run goes on.

    `kind` ("deploy", "rollback" or "check") and `metadata["environment"]` name the report file.
    """

    title: str
    kind: str
    metadata: dict[str, object] = field(default_factory=dict)
    prechecks: list[CheckResult] = field(default_factory=list)
    deployment: dict[str, object] = field(default_factory=dict)
    validation: list[CheckResult] = field(default_factory=list)
    timeline: Timeline = field(default_factory=Timeline)
    result: str = "unknown"


# Markdown


def render_markdown(report: Report, secrets: Sequence[Secret]) -> str:
    """Render the report as Markdown: metadata, checks, deployment, validation and a timeline with a gantt chart."""
    lines = [
        f"# {_inline(report.title, secrets)}",
        "",
        f"Result: **{_inline(report.result, secrets)}**",
        "",
        "## Deployment metadata",
        "",
        *_field_table(report.metadata, secrets, empty="No metadata recorded."),
        "",
        "## Pre-deployment checks",
        "",
        *_check_table(report.prechecks, secrets),
        "",
        "## Deployment & approval",
        "",
        *_field_table(report.deployment, secrets, empty="No deployment details recorded."),
        "",
        "## Post-deployment validation",
        "",
        *_check_table(report.validation, secrets),
        "",
        "## Timeline",
        "",
        *_timeline_section(report.timeline, secrets),
    ]
    # Each value was masked before escaping could split a secret. This pass also catches a secret
    # that only appears once values are joined or characters are stripped.
    return mask_text("\n".join(lines) + "\n", secrets)


def _inline(text: str, secrets: Sequence[Secret]) -> str:
    """Mask `text` and put it on one line, for a heading or a paragraph."""
    return " ".join(mask_text(text, secrets).splitlines())


def _cell(text: str, secrets: Sequence[Secret]) -> str:
    """Mask `text` and escape it for a Markdown table cell, where "|" ends the cell and a line break ends the row."""
    masked = mask_text(text, secrets)
    # Backslashes go first, so that a "\" before a "|" cannot cancel the pipe's escape.
    escaped = masked.replace("\\", "\\\\").replace("|", "\\|")
    return "<br>".join(escaped.splitlines())


def _value_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(_value_text(item) for item in value) or "none"
    return str(value)


def _flatten(fields: Mapping[str, object], prefix: str = "") -> Iterator[tuple[str, str]]:
    """Yield (name, text) pairs, naming nested mappings' fields with dots, as in approval.approver."""
    for name, value in fields.items():
        full_name = f"{prefix}{name}"
        if isinstance(value, Mapping) and value:
            yield from _flatten(value, prefix=f"{full_name}.")
        elif isinstance(value, Mapping):
            yield full_name, "none"
        else:
            yield full_name, _value_text(value)


def _field_table(fields: Mapping[str, object], secrets: Sequence[Secret], *, empty: str) -> list[str]:
    if not fields:
        return [empty]
    rows = ["| field | value |", "| --- | --- |"]
    for name, text in _flatten(fields):
        rows.append(f"| {_cell(name, secrets)} | {_cell(text, secrets)} |")
    return rows


def _status_text(status: str, symbols: Mapping[str, str]) -> str:
    symbol = symbols.get(status)
    return f"{symbol} {status}" if symbol else status


def _check_table(results: Sequence[CheckResult], secrets: Sequence[Secret]) -> list[str]:
    if not results:
        return [NO_CHECKS]
    rows = ["| check | status | message |", "| --- | --- | --- |"]
    for result in results:
        status = _cell(_status_text(result.status, CHECK_SYMBOLS), secrets)
        rows.append(f"| {_cell(result.check, secrets)} | {status} | {_cell(result.message, secrets)} |")
    return rows


def _format_time(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S}.{moment.microsecond // 1000:03d}"


def _timeline_section(timeline: Timeline, secrets: Sequence[Secret]) -> list[str]:
    slowest = timeline.slowest()
    if slowest is None:
        return ["No steps recorded."]
    lines = [
        f"Times are UTC. The run took {timeline.total_seconds():.3f} s from the first step's start to the last "
        f"step's end, and the slowest step was {_inline(slowest.name, secrets)} ({slowest.seconds:.3f} s).",
        "",
        "| # | step | status | start | end | duration (s) |",
        "| ---: | --- | --- | --- | --- | ---: |",
    ]
    for number, step in enumerate(timeline.steps, start=1):
        status = _status_text(step.status, STEP_SYMBOLS)
        lines.append(
            f"| {number} | {_cell(step.name, secrets)} | {status} | {_format_time(step.start)} "
            f"| {_format_time(step.end)} | {step.seconds:.3f} |"
        )
    lines += ["", *gantt_chart(timeline, secrets)]
    return lines


# Mermaid


def _mermaid_name(number: int, name: str, secrets: Sequence[Secret]) -> str:
    """Return a task name that Mermaid's gantt lexer reads as task text, numbered like the timeline table.

    The number in front matters: the lexer tries keywords (title, section, click, dateFormat...) and
    dates before task text, so a name such as "title page" would otherwise break the chart.
    """
    cleaned = MERMAID_NAME_BREAKERS.sub(" ", mask_text(name, secrets))
    return f"{number}. {' '.join(cleaned.split())}".rstrip()


def gantt_chart(timeline: Timeline, secrets: Sequence[Secret]) -> list[str]:
    """Render the steps as a fenced Mermaid gantt chart, one task per step, failed steps marked crit.

    Each task gives explicit start and end times in MERMAID_DATE_FORMAT, to the millisecond.
    Mermaid (ganttDb.js and ganttRenderer.js) parses them with dayjs in the viewer's local time
    zone and labels the axis with d3's local timeFormat, so the axis shows the UTC times as written.
    """
    # NOTE: this syntax was checked by reading Mermaid's gantt.jison and ganttDb.js, not by rendering it in a test.
    # NOTE: a time inside the viewer's daylight-saving gap does not exist in local time, so the browser moves it,
    # usually by an hour.
    short_run = timeline.total_seconds() < SHORT_RUN_SECONDS
    axis_format = "%H:%M:%S.%L" if short_run else "%H:%M:%S"
    lines = [
        "```mermaid",
        "gantt",
        f"    dateFormat {MERMAID_DATE_FORMAT}",
        f"    axisFormat {axis_format}",
        # A report is read after the run, so a line at the reader's today would fall outside the chart.
        "    todayMarker off",
    ]
    for number, step in enumerate(timeline.steps, start=1):
        tag = "crit" if step.status == "failed" else "done"
        lines.append(
            f"    {_mermaid_name(number, step.name, secrets)} :{tag}, step{number}, "
            f"{_format_time(step.start)}, {_format_time(step.end)}"
        )
    lines.append("```")
    return lines


# Terminal


def _status_counts(results: Iterable[CheckResult]) -> str:
    statuses = [result.status for result in results]
    counts = [f"{statuses.count(status)} {status}" for status in ("pass", "warn", "fail", "skip")]
    others = sum(1 for status in statuses if status not in STATUSES)
    if others:
        counts.append(f"{others} with another status")
    return ", ".join(counts)


def terminal_summary(report: Report, secrets: Sequence[Secret] = ()) -> list[str]:
    """Summarize the report in a few lines for the log: title and result, check counts, total and slowest step.

    Pass the run's secrets, because step names and the title are printed as recorded.
    """
    lines = [
        f"{report.title}: {report.result}",
        f"pre-deployment checks: {_status_counts(report.prechecks)}",
        f"post-deployment validation: {_status_counts(report.validation)}",
    ]
    slowest = report.timeline.slowest()
    if slowest is None:
        lines.append("timeline: no steps recorded")
    else:
        count = len(report.timeline.steps)
        lines.append(
            f"timeline: {count} step{'' if count == 1 else 's'} in {report.timeline.total_seconds():.1f} s, "
            f"slowest {slowest.name} ({slowest.seconds:.1f} s)"
        )
    return [_inline(line, secrets) for line in lines]


# Files


def report_file_stem(report: Report, moment: datetime) -> str:
    """Return "{kind}-{environment}-{UTC stamp}", the report's file name without suffix.

    The stamp has the form 20261204T211827Z. Raises ValueError when the kind or the environment
    is missing or is not a plain name.
    """
    environment = str(report.metadata.get("environment") or "")
    for label, part in (("kind", report.kind), ("metadata environment", environment)):
        if not FILE_NAME_PART.fullmatch(part):
            raise ValueError(
                f"invalid report {label} {part!r} for a file name: use letters, digits, '_', '.' and '-', "
                "starting with a letter or digit"
            )
    stamp = _as_utc(moment, source="report time").strftime(FILE_STAMP_FORMAT)
    return f"{report.kind}-{environment}-{stamp}"


def _create_new_file(directory: Path, stem: str, text: str) -> Path:
    """Write `text` to `stem`.md, or to `stem`-2.md, -3 and so on when a report of the same second exists."""
    attempt = 1
    while True:
        path = directory / (f"{stem}.md" if attempt == 1 else f"{stem}-{attempt}.md")
        try:
            with path.open("x", encoding="utf-8") as file:
                file.write(text)
        except FileExistsError:
            attempt += 1
            continue
        return path


def write_report(
    report: Report,
    secrets: Sequence[Secret],
    *,
    directory: Path,
    environ: Mapping[str, str],
    now: Callable[[], datetime] = utc_now,
) -> Path:
    """Write the Markdown report to `directory` and return its path, creating the directory.

    The file is named by report_file_stem, never overwrites an earlier report, and is UTF-8.
    When GITHUB_STEP_SUMMARY is set in `environ`, the same Markdown is appended to that file.
    """
    markdown = render_markdown(report, secrets)
    stem = report_file_stem(report, now())
    directory.mkdir(parents=True, exist_ok=True)
    path = _create_new_file(directory, stem, markdown)
    summary = environ.get(STEP_SUMMARY_VARIABLE)
    if summary:
        # The blank line keeps the heading apart from whatever an earlier step appended.
        with Path(summary).open("a", encoding="utf-8") as file:
            file.write("\n" + markdown)
    return path
