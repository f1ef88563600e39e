from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from pipeline.checks import CheckResult
from pipeline.report import NO_CHECKS, Report, Timeline, render_markdown, terminal_summary, write_report
from pipeline.secret import MASK, Secret

T0 = datetime(2026, 12, 4, 21, 18, 27, tzinfo=UTC)
HEADINGS = [
    "## Deployment metadata",
    "## Pre-deployment checks",
    "## Deployment & approval",
    "## Post-deployment validation",
    "## Timeline",
]


def clock(*seconds: float) -> Callable[[], datetime]:
    """Return a fake clock that returns T0 plus each offset in seconds, one per call."""
    return iter([T0 + timedelta(seconds=offset) for offset in seconds]).__next__


def sample_report(timeline: Timeline | None = None) -> Report:
    if timeline is None:
        timeline = Timeline(now=clock(0, 2.5, 2.5, 10.25))
        with timeline.step("pull image"):
            pass
        with pytest.raises(RuntimeError), timeline.step("switch proxy"):
            raise RuntimeError("nginx -t failed")
    return Report(
        title="Deploy of v1.2 to prod",
        kind="deploy",
        metadata={"environment": "prod", "version": "v1.2", "dirty": False},
        prechecks=[
            CheckResult("disk", "pass", "79897 MiB free"),
            CheckResult("backup", "warn", "no backup location configured"),
            CheckResult("gpu", "skip", "prod requests no GPUs"),
        ],
        deployment={"strategy": "blue-green", "approval": {"approver": "alice", "method": "github-environment"}},
        validation=[CheckResult("version", "fail", "reports v1.1")],
        timeline=timeline,
        result="failed",
    )


def mermaid_lines(markdown: str) -> list[str]:
    block = markdown.split("```mermaid\n", 1)[1].split("\n```", 1)[0]
    return [line.strip() for line in block.splitlines()]


def test_headings_appear_in_order() -> None:
    markdown = render_markdown(sample_report(), [])
    positions = [markdown.find(heading) for heading in HEADINGS]
    assert -1 not in positions
    assert positions == sorted(positions)


def test_headings_appear_once() -> None:
    markdown = render_markdown(sample_report(), [])
    for heading in HEADINGS:
        assert markdown.count(f"\n{heading}\n") == 1, heading


def test_checks_render_status_symbols() -> None:
    markdown = render_markdown(sample_report(), [])
    assert "| disk | ✅ pass | 79897 MiB free |" in markdown
    assert "| backup | ⚠️ warn | no backup location configured |" in markdown
    assert "| gpu | ⏭️ skip | prod requests no GPUs |" in markdown
    assert "| version | ❌ fail | reports v1.1 |" in markdown


def test_nested_fields_use_dotted_names() -> None:
    markdown = render_markdown(sample_report(), [])
    assert "| approval.approver | alice |" in markdown
    assert "| approval.method | github-environment |" in markdown
    assert "| dirty | false |" in markdown


def test_gantt_block_is_well_formed() -> None:
    markdown = render_markdown(sample_report(), [])
    assert "\n```mermaid\n" in markdown
    lines = mermaid_lines(markdown)
    assert lines[0] == "gantt"
    assert "dateFormat YYYY-MM-DD HH:mm:ss.SSS" in lines
    assert any(line.startswith("axisFormat %H:%M:%S") for line in lines)
    tasks = [line for line in lines if " :" in line]
    assert len(tasks) == 2
    assert ":crit, step2," in tasks[1]
    assert tasks == [
        "1. pull image :done, step1, 2026-12-04 21:18:27.000, 2026-12-04 21:18:29.500",
        "2. switch proxy :crit, step2, 2026-12-04 21:18:29.500, 2026-12-04 21:18:37.250",
    ]


def test_gantt_short_run_shows_milliseconds() -> None:
    timeline = Timeline()
    timeline.add("restart", T0, T0 + timedelta(seconds=3))
    lines = mermaid_lines(render_markdown(sample_report(timeline), []))
    assert "axisFormat %H:%M:%S.%L" in lines


def test_gantt_long_run_shows_seconds() -> None:
    timeline = Timeline()
    timeline.add("build", T0, T0 + timedelta(minutes=3))
    lines = mermaid_lines(render_markdown(sample_report(timeline), []))
    assert "axisFormat %H:%M:%S" in lines


def test_gantt_names_strip_breaking_characters() -> None:
    timeline = Timeline()
    timeline.add("wait: health #2; then\nswitch", T0, T0 + timedelta(seconds=1))
    task = mermaid_lines(render_markdown(sample_report(timeline), []))[-1]
    assert task.startswith("1. wait health 2 then switch :done, step1, ")


def test_gantt_names_never_start_with_keyword() -> None:
    timeline = Timeline()
    timeline.add("title page", T0, T0 + timedelta(seconds=1))
    timeline.add("2026-12-04 backup", T0, T0 + timedelta(seconds=1))
    tasks = mermaid_lines(render_markdown(sample_report(timeline), []))[-2:]
    assert tasks[0].startswith("1. title page :")
    assert tasks[1].startswith("2. 2026-12-04 backup :")


def test_step_durations_use_clock() -> None:
    timeline = sample_report().timeline
    assert [step.seconds for step in timeline.steps] == [2.5, 7.75]
    assert timeline.total_seconds() == 10.25


def test_timeline_table_shows_durations() -> None:
    markdown = render_markdown(sample_report(), [])
    assert "| 1 | pull image | ✅ done | 2026-12-04 21:18:27.000 | 2026-12-04 21:18:29.500 | 2.500 |" in markdown
    assert "| 2 | switch proxy | ❌ failed | 2026-12-04 21:18:29.500 | 2026-12-04 21:18:37.250 | 7.750 |" in markdown
    assert "The run took 10.250 s" in markdown
    assert "the slowest step was switch proxy (7.750 s)" in markdown


def test_failing_step_is_recorded_and_raises() -> None:
    timeline = Timeline(now=clock(0, 4))
    with pytest.raises(ValueError, match="bad digest"), timeline.step("verify digest"):
        raise ValueError("bad digest")
    (step,) = timeline.steps
    assert step.status == "failed"
    assert step.name == "verify digest"
    assert step.seconds == 4


def test_nested_steps_keep_start_order() -> None:
    timeline = Timeline(now=clock(0, 1, 3, 5))
    with timeline.step("deploy"), timeline.step("pull image"):
        pass
    assert [step.name for step in timeline.steps] == ["deploy", "pull image"]
    assert [step.seconds for step in timeline.steps] == [5, 2]


def test_add_converts_to_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    step = Timeline().add("migrate", T0.astimezone(plus_two), T0.astimezone(plus_two) + timedelta(seconds=3))
    assert step.start == T0
    assert step.start.tzinfo is UTC


@pytest.mark.parametrize(
    ("start", "end", "status", "message"),
    [
        (T0.replace(tzinfo=None), T0, "done", "has no time zone"),
        (T0, T0 - timedelta(seconds=1), "done", "before its start"),
        (T0, T0, "skipped", "invalid step status 'skipped'"),
    ],
)
def test_add_rejects_invalid_step(start: datetime, end: datetime, status: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Timeline().add("migrate", start, end, status)


def test_table_escapes_pipes_and_newlines() -> None:
    report = sample_report()
    report.prechecks = [CheckResult("net|work", "fail", "port 80 | 443 busy\nsecond line\r\nthird")]
    markdown = render_markdown(report, [])
    assert "| net\\|work | ❌ fail | port 80 \\| 443 busy<br>second line<br>third |" in markdown


def test_table_escapes_backslash_before_pipe() -> None:
    report = sample_report()
    report.metadata = {"environment": "prod", "path": "C:\\|temp"}
    markdown = render_markdown(report, [])
    assert "| path | C:\\\\\\|temp |" in markdown


def test_table_rows_keep_column_count() -> None:
    report = sample_report()
    report.validation = [CheckResult("a|b", "warn", "x | y\nz")]
    markdown = render_markdown(report, [])
    row = next(line for line in markdown.splitlines() if line.startswith("| a\\|b"))
    unescaped_pipes = row.replace("\\|", "").count("|")
    assert unescaped_pipes == 4


def test_secret_never_appears_in_output() -> None:
    secret = Secret("s3cr3t-token-value")
    timeline = Timeline()
    timeline.add("login with s3cr3t-token-value", T0, T0 + timedelta(seconds=1))
    report = sample_report(timeline)
    report.title = "Deploy s3cr3t-token-value"
    report.metadata["token"] = "s3cr3t-token-value"
    report.deployment["approval"] = {"approver": "s3cr3t-token-value"}
    report.prechecks.append(CheckResult("registry", "fail", "login failed for s3cr3t-token-value"))
    markdown = render_markdown(report, [secret])
    assert "s3cr3t-token-value" not in markdown
    assert "s3cr3t" not in markdown
    assert f"| token | {MASK} |" in markdown
    assert f"1. login with {MASK} :done" in markdown


def test_secret_with_special_characters_is_masked() -> None:
    secret = Secret("pa|ss:wo#rd")
    timeline = Timeline()
    timeline.add("use pa|ss:wo#rd", T0, T0 + timedelta(seconds=1))
    report = sample_report(timeline)
    report.validation = [CheckResult("login", "fail", "rejected pa|ss:wo#rd")]
    markdown = render_markdown(report, [secret])
    assert "pa|ss" not in markdown
    assert "pa\\|ss" not in markdown
    assert "ss wo" not in markdown
    assert "wo#rd" not in markdown


def test_empty_checks_render_no_checks_line() -> None:
    report = sample_report()
    report.prechecks = []
    report.validation = []
    markdown = render_markdown(report, [])
    assert markdown.count(NO_CHECKS) == 2
    assert "| check | status | message |" not in markdown


def test_empty_timeline_has_no_chart() -> None:
    markdown = render_markdown(sample_report(Timeline()), [])
    assert "No steps recorded." in markdown
    assert "```mermaid" not in markdown


def test_write_report_names_file(tmp_path: Path) -> None:
    directory = tmp_path / "reports" / "nested"
    path = write_report(sample_report(), [], directory=directory, environ={}, now=clock(0))
    assert path == directory / "deploy-prod-20261204T211827Z.md"
    assert path.read_text(encoding="utf-8") == render_markdown(sample_report(), [])


def test_write_report_keeps_earlier_report(tmp_path: Path) -> None:
    first = write_report(sample_report(), [], directory=tmp_path, environ={}, now=clock(0))
    second = write_report(sample_report(), [], directory=tmp_path, environ={}, now=clock(0))
    assert first.name == "deploy-prod-20261204T211827Z.md"
    assert second.name == "deploy-prod-20261204T211827Z-2.md"
    assert first.read_text(encoding="utf-8") == second.read_text(encoding="utf-8")


def test_write_report_appends_step_summary(tmp_path: Path) -> None:
    summary = tmp_path / "step_summary.md"
    summary.write_text("# Earlier step\n", encoding="utf-8")
    environ = {"GITHUB_STEP_SUMMARY": str(summary)}
    write_report(sample_report(), [], directory=tmp_path / "reports", environ=environ, now=clock(0))
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("# Earlier step\n")
    assert text.endswith(render_markdown(sample_report(), []))


def test_write_report_without_step_summary(tmp_path: Path) -> None:
    summary = tmp_path / "step_summary.md"
    write_report(sample_report(), [], directory=tmp_path / "reports", environ={}, now=clock(0))
    assert not summary.exists()
    assert [path.name for path in tmp_path.iterdir()] == ["reports"]


def test_write_report_masks_secrets(tmp_path: Path) -> None:
    report = sample_report()
    report.metadata["token"] = "s3cr3t-token-value"
    summary = tmp_path / "step_summary.md"
    environ = {"GITHUB_STEP_SUMMARY": str(summary)}
    path = write_report(report, [Secret("s3cr3t-token-value")], directory=tmp_path, environ=environ, now=clock(0))
    assert "s3cr3t" not in path.read_text(encoding="utf-8")
    assert "s3cr3t" not in summary.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("kind", "metadata", "message"),
    [
        ("deploy", {}, "invalid report metadata environment ''"),
        ("deploy", {"environment": "../prod"}, "invalid report metadata environment '../prod'"),
        ("deploy now", {"environment": "prod"}, "invalid report kind 'deploy now'"),
    ],
)
def test_write_report_rejects_unsafe_names(
    tmp_path: Path, kind: str, metadata: dict[str, object], message: str
) -> None:
    report = Report(title="Check of prod", kind=kind, metadata=metadata)
    with pytest.raises(ValueError, match=message):
        write_report(report, [], directory=tmp_path, environ={}, now=clock(0))
    assert list(tmp_path.iterdir()) == []


def test_terminal_summary_counts() -> None:
    lines = terminal_summary(sample_report())
    assert lines == [
        "Deploy of v1.2 to prod: failed",
        "pre-deployment checks: 1 pass, 1 warn, 0 fail, 1 skip",
        "post-deployment validation: 0 pass, 0 warn, 1 fail, 0 skip",
        "timeline: 2 steps in 10.2 s, slowest switch proxy (7.8 s)",
    ]


def test_terminal_summary_without_steps() -> None:
    lines = terminal_summary(sample_report(Timeline()))
    assert lines[-1] == "timeline: no steps recorded"


def test_terminal_summary_masks_secrets() -> None:
    report = sample_report()
    report.title = "Deploy with s3cr3t-token-value"
    lines = terminal_summary(report, [Secret("s3cr3t-token-value")])
    assert lines[0] == f"Deploy with {MASK}: failed"
