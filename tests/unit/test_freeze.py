from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from typing import Any

import pytest

from pipeline.environments import Environment
from pipeline.errors import InputError
from pipeline.freeze import ActiveFreeze, active_freeze, describe, environment_names, parse_calendar

# Every name a calendar may use, canonical names and aliases, mapped to the canonical name.
ENVIRONMENTS = {"uat": "uat", "stg": "stg", "staging": "stg", "prod": "prod", "production": "prod"}

YEAR_END = {
    "name": "year-end",
    "reason": "Year-end change freeze",
    "environments": ["prod", "stg"],
    "start": "2026-12-20T00:00:00+01:00",
    "end": "2027-01-04T08:00:00+01:00",
}
WEEKEND = {
    "name": "weekend",
    "reason": "No production changes over the weekend",
    "environments": ["prod"],
    "weekly": {"from": "Fri 15:00", "to": "Mon 08:00"},
    "timezone": "Europe/Berlin",
}


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def window(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """Copy a window table with keys changed, and with keys set to None removed."""
    table = {**base, **changes}
    return {key: value for key, value in table.items() if value is not None}


def check(tables: list[dict[str, Any]], now: datetime, environment: str = "prod") -> ActiveFreeze | None:
    return active_freeze(parse_calendar(tables, ENVIRONMENTS), environment, now)


def rejection(tables: Any, *, source: str = "deploy.toml") -> str:
    with pytest.raises(InputError) as error:
        parse_calendar(tables, ENVIRONMENTS, source=source)
    return str(error.value)


@pytest.mark.parametrize(
    ("now", "active"),
    [
        ("2026-12-19T22:59:59", False),
        ("2026-12-19T23:00:00", True),
        ("2026-12-25T12:00:00", True),
        ("2027-01-04T06:59:59", True),
        ("2027-01-04T07:00:00", False),
        ("2027-01-10T12:00:00", False),
    ],
)
def test_dated_window_boundaries(now: str, active: bool) -> None:
    assert (check([YEAR_END], utc(now)) is not None) is active


def test_dated_window_ends_in_utc() -> None:
    freeze = check([YEAR_END], utc("2026-12-25T12:00:00"))
    assert freeze is not None
    assert freeze.ends_at == utc("2027-01-04T07:00:00")
    assert freeze.ends_at.tzinfo is UTC


def test_now_in_other_offset() -> None:
    now = datetime.fromisoformat("2026-12-19T18:00:00-05:00")
    assert check([YEAR_END], now) is not None


@pytest.mark.parametrize(
    ("now", "active"),
    [("2026-12-19T22:59:59", False), ("2026-12-19T23:00:00", True), ("2027-01-04T07:00:00", False)],
)
def test_offsetless_dated_uses_timezone(now: str, active: bool) -> None:
    table = window(YEAR_END, start="2026-12-20T00:00:00", end="2027-01-04T08:00:00", timezone="Europe/Berlin")
    assert (check([table], utc(now)) is not None) is active


def test_offset_wins_over_timezone() -> None:
    table = window(YEAR_END, start="2026-12-20T00:00:00+00:00", timezone="America/New_York")
    assert check([table], utc("2026-12-19T23:59:59")) is None
    assert check([table], utc("2026-12-20T00:00:00")) is not None


def test_offsetless_dated_needs_timezone() -> None:
    message = rejection([window(YEAR_END, start="2026-12-20T00:00:00")])
    assert "missing timezone in freeze window 'year-end' in deploy.toml" in message
    assert "start '2026-12-20T00:00:00' has no UTC offset" in message


def test_toml_calendar_parses() -> None:
    calendar = tomllib.loads(
        """
        [[freeze]]
        name = "year-end"
        reason = "Year-end change freeze"
        environments = ["production", "staging"]
        start = 2026-12-20T00:00:00+01:00
        end = 2027-01-04T08:00:00
        timezone = "Europe/Berlin"

        [[freeze]]
        name = "weekend"
        reason = "No production changes over the weekend"
        environments = ["prod"]
        weekly = { from = "Friday 15:00", to = "mon 08:00" }
        timezone = "Europe/Berlin"
        """
    )
    windows = parse_calendar(calendar["freeze"], ENVIRONMENTS)
    assert [window.name for window in windows] == ["year-end", "weekend"]
    assert windows[0].environments == frozenset({"prod", "stg"})
    assert windows[0].start == utc("2026-12-19T23:00:00")
    assert windows[0].end == utc("2027-01-04T07:00:00")
    assert str(windows[1].weekly_from) == "Fri 15:00"
    assert str(windows[1].weekly_to) == "Mon 08:00"


def test_empty_calendar_allows_changes() -> None:
    assert parse_calendar([], ENVIRONMENTS) == []
    assert active_freeze([], "prod", utc("2026-12-25T12:00:00")) is None


# December 2026 is on CET (UTC+01:00): Fri 15:00 is 14:00Z and Mon 08:00 is 07:00Z.
@pytest.mark.parametrize(
    ("now", "active"),
    [
        ("2026-12-03T12:00:00", False),  # Thursday
        ("2026-12-04T13:59:59", False),  # Friday 14:59:59 local
        ("2026-12-04T14:00:00", True),  # Friday 15:00 local
        ("2026-12-05T12:00:00", True),  # Saturday
        ("2026-12-06T11:00:00", True),  # Sunday noon local
        ("2026-12-07T06:59:59", True),  # Monday 07:59:59 local
        ("2026-12-07T07:00:00", False),  # Monday 08:00 local
        ("2026-12-09T12:00:00", False),  # Wednesday
    ],
)
def test_weekly_window_wraps_week(now: str, active: bool) -> None:
    assert (check([WEEKEND], utc(now)) is not None) is active


def test_weekly_window_ends_monday() -> None:
    freeze = check([WEEKEND], utc("2026-12-06T11:00:00"))
    assert freeze is not None
    assert freeze.ends_at == utc("2026-12-07T07:00:00")


@pytest.mark.parametrize(
    ("now", "active"),
    [
        ("2026-12-01T11:30:00", False),  # Tuesday 12:30 local
        ("2026-12-02T10:59:59", False),  # Wednesday 11:59:59 local
        ("2026-12-02T11:00:00", True),  # Wednesday 12:00 local
        ("2026-12-02T11:59:59", True),  # Wednesday 12:59:59 local
        ("2026-12-02T12:00:00", False),  # Wednesday 13:00 local
        ("2026-12-03T11:30:00", False),  # Thursday 12:30 local
    ],
)
def test_same_day_weekly_window(now: str, active: bool) -> None:
    table = window(WEEKEND, weekly={"from": "Wed 12:00", "to": "Wed 13:00"})
    assert (check([table], utc(now)) is not None) is active


@pytest.mark.parametrize(
    ("now", "active"),
    [
        ("2026-12-02T11:30:00", False),  # Wednesday 12:30 local, the one free hour
        ("2026-12-02T12:00:00", True),  # Wednesday 13:00 local
        ("2026-12-06T11:00:00", True),  # Sunday
        ("2026-12-09T10:59:59", True),  # next Wednesday 11:59:59 local
    ],
)
def test_weekly_window_almost_whole_week(now: str, active: bool) -> None:
    table = window(WEEKEND, weekly={"from": "Wed 13:00", "to": "Wed 12:00"})
    assert (check([table], utc(now)) is not None) is active


# Europe/Berlin moves to CEST on the last Sunday of March (2026-03-29) and back to CET on the
# last Sunday of October (2026-10-25), so Fri 15:00 local is 14:00Z on CET and 13:00Z on CEST.
@pytest.mark.parametrize(
    ("start", "minute_before"),
    [
        ("2026-03-27T14:00:00", "2026-03-27T13:59:00"),
        ("2026-04-03T13:00:00", "2026-04-03T12:59:00"),
        ("2026-10-23T13:00:00", "2026-10-23T12:59:00"),
        ("2026-10-30T14:00:00", "2026-10-30T13:59:00"),
    ],
)
def test_weekly_start_follows_dst(start: str, minute_before: str) -> None:
    assert check([WEEKEND], utc(start)) is not None
    assert check([WEEKEND], utc(minute_before)) is None


@pytest.mark.parametrize(
    ("now", "ends_at"),
    [
        ("2026-03-28T12:00:00", "2026-03-30T06:00:00"),  # Mon 08:00 CEST
        ("2026-10-24T12:00:00", "2026-10-26T07:00:00"),  # Mon 08:00 CET
    ],
)
def test_weekly_end_follows_dst(now: str, ends_at: str) -> None:
    freeze = check([WEEKEND], utc(now))
    assert freeze is not None
    assert freeze.ends_at == utc(ends_at)


def test_gap_time_moves_forward() -> None:
    # 02:30 does not exist in Europe/Berlin on 2026-03-29, so the window opens at 03:30 CEST (01:30Z).
    table = window(WEEKEND, weekly={"from": "Sun 02:30", "to": "Sun 04:00"})
    assert check([table], utc("2026-03-29T01:29:59")) is None
    freeze = check([table], utc("2026-03-29T01:30:00"))
    assert freeze is not None
    assert freeze.ends_at == utc("2026-03-29T02:00:00")


def test_repeated_time_uses_first() -> None:
    # 02:30 happens twice in Europe/Berlin on 2026-10-25: the first one is 02:30 CEST (00:30Z).
    table = window(WEEKEND, weekly={"from": "Sun 02:30", "to": "Sun 03:30"})
    assert check([table], utc("2026-10-25T00:29:59")) is None
    freeze = check([table], utc("2026-10-25T00:30:00"))
    assert freeze is not None
    assert freeze.ends_at == utc("2026-10-25T02:30:00")


def test_prod_window_skips_uat() -> None:
    now = utc("2026-12-06T11:00:00")
    assert check([WEEKEND], now, "uat") is None
    assert check([WEEKEND], now, "prod") is not None


def test_alias_stored_as_canonical() -> None:
    windows = parse_calendar([window(WEEKEND, environments=["production"])], ENVIRONMENTS)
    assert windows[0].environments == frozenset({"prod"})


@pytest.mark.parametrize("environment", ["uat", "stg", "prod"])
def test_unscoped_window_applies_everywhere(environment: str) -> None:
    table = window(WEEKEND, environments=None)
    assert check([table], utc("2026-12-06T11:00:00"), environment) is not None


@pytest.mark.parametrize("reverse", [False, True])
def test_overlapping_windows_return_later_end(reverse: bool) -> None:
    # Sunday 2026-12-20 12:00 local is inside both the weekend and the year-end window.
    tables = [WEEKEND, YEAR_END][::-1] if reverse else [WEEKEND, YEAR_END]
    freeze = check(tables, utc("2026-12-20T11:00:00"))
    assert freeze is not None
    assert freeze.window.name == "year-end"
    assert freeze.ends_at == utc("2027-01-04T07:00:00")


def test_describe_weekly_freeze() -> None:
    freeze = check([WEEKEND], utc("2026-12-06T11:00:00"))
    assert freeze is not None
    assert describe(freeze) == (
        "change freeze 'weekend' is active for prod until 2026-12-07 08:00 Europe/Berlin (2026-12-07T07:00:00Z): "
        "No production changes over the weekend"
    )


def test_describe_offset_dated_freeze() -> None:
    freeze = check([YEAR_END], utc("2026-12-25T12:00:00"), "stg")
    assert freeze is not None
    assert describe(freeze) == (
        "change freeze 'year-end' is active for stg until 2027-01-04 08:00 UTC+01:00 (2027-01-04T07:00:00Z): "
        "Year-end change freeze"
    )


def test_local_end_keeps_seconds() -> None:
    table = window(YEAR_END, end="2027-01-04T08:00:30+01:00")
    freeze = check([table], utc("2026-12-25T12:00:00"))
    assert freeze is not None
    assert freeze.format_end() == "2027-01-04 08:00:30 UTC+01:00 (2027-01-04T07:00:30Z)"


def test_local_ends_at_uses_zone() -> None:
    freeze = check([WEEKEND], utc("2026-12-06T11:00:00"))
    assert freeze is not None
    assert freeze.local_ends_at.isoformat() == "2026-12-07T08:00:00+01:00"


def test_naive_now_rejected() -> None:
    windows = parse_calendar([WEEKEND], ENVIRONMENTS)
    with pytest.raises(ValueError, match="aware datetime"):
        active_freeze(windows, "prod", datetime(2026, 12, 6, 12))


def test_environment_names_include_aliases() -> None:
    environments = {
        "uat": Environment("uat", (), "uat", "develop", 18080, "agent-dk-uat"),
        "prod": Environment("prod", ("production",), "production", "main", 38080, "agent-dk-prod"),
    }
    assert environment_names(environments) == {"uat": "uat", "prod": "prod", "production": "prod"}


def test_window_is_frozen() -> None:
    windows = parse_calendar([WEEKEND], ENVIRONMENTS)
    with pytest.raises(AttributeError):
        windows[0].name = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("tables", "expected"),
    [
        pytest.param(
            [window(YEAR_END, end="2026-12-19T00:00:00+01:00")],
            "impossible freeze window 'year-end' in deploy.toml: "
            "end '2026-12-19T00:00:00+01:00' is not after start '2026-12-20T00:00:00+01:00'",
            id="end before start",
        ),
        pytest.param(
            [window(YEAR_END, end="2026-12-19T23:00:00Z")],
            "end '2026-12-19T23:00:00Z' is not after start '2026-12-20T00:00:00+01:00'",
            id="end equals start",
        ),
        pytest.param(
            [window(WEEKEND, weekly={"from": "Friday 15:00", "to": "fri 15:00"})],
            "impossible freeze window 'weekend' in deploy.toml: weekly.from 'Friday 15:00' equals weekly.to "
            "'fri 15:00', so the window has zero length",
            id="zero-length weekly",
        ),
        pytest.param(
            [window(WEEKEND, weekly={"from": "Fry 15:00", "to": "Mon 08:00"})],
            "invalid weekday 'Fry' in weekly.from 'Fry 15:00' of freeze window 'weekend'",
            id="bad day",
        ),
        pytest.param(
            [window(WEEKEND, weekly={"from": "Fri 15:00", "to": "Mon 25:00"})],
            "invalid time '25:00' in weekly.to 'Mon 25:00' of freeze window 'weekend' in deploy.toml: "
            "expected HH:MM from 00:00 to 23:59",
            id="bad time",
        ),
        pytest.param(
            [window(WEEKEND, weekly={"from": "15:00", "to": "Mon 08:00"})],
            "invalid weekly.from '15:00' in freeze window 'weekend'",
            id="time without day",
        ),
        pytest.param(
            [window(WEEKEND, weekly="Fri 15:00 - Mon 08:00")],
            "invalid weekly 'Fri 15:00 - Mon 08:00' in freeze window 'weekend'",
            id="weekly not a table",
        ),
        pytest.param(
            [window(WEEKEND, weekly={"from": "Fri 15:00", "until": "Mon 08:00"})],
            "unknown key 'until' in weekly of freeze window 'weekend' in deploy.toml: valid keys are from, to",
            id="unknown weekly key",
        ),
        pytest.param(
            [window(WEEKEND, weekly={"from": "Fri 15:00"})],
            "missing weekly.to in freeze window 'weekend'",
            id="weekly without end",
        ),
        pytest.param(
            [window(WEEKEND, timezone=None)],
            "missing timezone in freeze window 'weekend' in deploy.toml: a weekly window needs",
            id="weekly without timezone",
        ),
        pytest.param(
            [window(WEEKEND, timezone="Mars/Olympus")],
            "unknown timezone 'Mars/Olympus' in freeze window 'weekend' in deploy.toml: "
            "expected an IANA time zone name such as Europe/Berlin",
            id="unknown zone",
        ),
        pytest.param(
            [window(WEEKEND, timezone="/etc/localtime")],
            "unknown timezone '/etc/localtime' in freeze window 'weekend'",
            id="zone as path",
        ),
        pytest.param(
            [window(WEEKEND, timezone=1)],
            "invalid timezone 1 in freeze window 'weekend'",
            id="zone not a string",
        ),
        pytest.param(
            [window(YEAR_END, weekly={"from": "Fri 15:00", "to": "Mon 08:00"})],
            "invalid freeze window 'year-end' in deploy.toml: it sets both start/end and weekly",
            id="dated and weekly",
        ),
        pytest.param(
            [window(YEAR_END, start=None, end=None)],
            "invalid freeze window 'year-end' in deploy.toml: set start and end for a dated window, or weekly",
            id="neither dated nor weekly",
        ),
        pytest.param(
            [window(YEAR_END, end=None)],
            "missing end in freeze window 'year-end' in deploy.toml",
            id="start without end",
        ),
        pytest.param(
            [window(YEAR_END, start="next friday")],
            "invalid start 'next friday' in freeze window 'year-end' in deploy.toml: "
            "expected an ISO 8601 date and time such as 2026-12-20T00:00:00+01:00",
            id="start not ISO 8601",
        ),
        pytest.param(
            [window(YEAR_END, end="2027-01-04")],
            "invalid end '2027-01-04' in freeze window 'year-end'",
            id="date without time",
        ),
        pytest.param(
            [window(YEAR_END, end=20270104)],
            "invalid end 20270104 in freeze window 'year-end'",
            id="end not a string",
        ),
        pytest.param(
            [window(YEAR_END, end="2027-01-04T08:00:00")],
            "missing timezone in freeze window 'year-end' in deploy.toml: end '2027-01-04T08:00:00' has no UTC offset",
            id="offsetless without timezone",
        ),
        pytest.param(
            [window(YEAR_END, reason=None)],
            "missing reason in freeze window 'year-end' in deploy.toml",
            id="missing reason",
        ),
        pytest.param(
            [window(YEAR_END, reason="  ")],
            "invalid reason '  ' in freeze window 'year-end'",
            id="blank reason",
        ),
        pytest.param(
            [window(YEAR_END, reason="Year-end\nchange freeze")],
            "invalid reason 'Year-end\\nchange freeze' in freeze window 'year-end' in deploy.toml: "
            "expected a non-empty single-line string",
            id="multi-line reason",
        ),
        pytest.param(
            [window(YEAR_END, name=None)],
            "missing name in freeze window 1 in deploy.toml",
            id="missing name",
        ),
        pytest.param(
            [WEEKEND, window(YEAR_END, name="")],
            "invalid name '' in freeze window 2 in deploy.toml",
            id="empty name by position",
        ),
        pytest.param(
            [YEAR_END, window(WEEKEND, name="year-end")],
            "duplicate freeze window name 'year-end' in deploy.toml: windows 1 and 2 both use it",
            id="duplicate name",
        ),
        pytest.param(
            [window(YEAR_END, enviroments=["prod"])],
            "unknown key 'enviroments' in freeze window 'year-end' in deploy.toml: "
            "did you mean 'environments'? Valid keys are end, environments, name, reason, start, timezone, weekly",
            id="unknown key",
        ),
        pytest.param(
            [window(YEAR_END, environments=["prod", "qa"])],
            "unknown environment 'qa' in environments of freeze window 'year-end' in deploy.toml: "
            "valid environments are uat, stg (staging), prod (production)",
            id="unknown environment",
        ),
        pytest.param(
            [window(YEAR_END, environments="prod")],
            "invalid environments 'prod' in freeze window 'year-end' in deploy.toml: expected a list",
            id="environments not a list",
        ),
        pytest.param(
            [window(YEAR_END, environments=[])],
            "invalid environments [] in freeze window 'year-end'",
            id="empty environments",
        ),
        pytest.param(
            ["year-end"],
            "invalid freeze window 1 in deploy.toml: expected a [[freeze]] table, got 'year-end'",
            id="window not a table",
        ),
        pytest.param(
            {"freeze": YEAR_END},
            "invalid freeze in deploy.toml: expected [[freeze]] tables, got dict",
            id="calendar not a list",
        ),
    ],
)
def test_calendar_rejects_bad_window(tables: Any, expected: str) -> None:
    message = rejection(tables)
    assert expected in message
    assert "\n" not in message


def test_rejection_names_source_file() -> None:
    message = rejection([window(WEEKEND, timezone="Mars/Olympus")], source="ops/freeze.toml")
    assert "in freeze window 'weekend' in ops/freeze.toml" in message
