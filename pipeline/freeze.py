"""Change-freeze calendar: [[freeze]] windows from deploy.toml that block deploys and rollbacks.

A window is dated (start and end, ISO 8601) or weekly (a weekday and wall-clock time in an IANA
time zone, such as Fri 15:00 to Mon 08:00 Europe/Berlin). Parsing validates every key and raises
InputError naming the window, the key and the value. Checking a time is pure and reads only the
time zone database.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pipeline.errors import InputError
from pipeline.validate import choices

if TYPE_CHECKING:
    from pipeline.environments import Environment

WINDOW_KEYS = {"name", "reason", "environments", "start", "end", "weekly", "timezone"}
WEEKLY_KEYS = {"from", "to"}
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
WEEKDAY_NUMBERS = {day: number for number, day in enumerate(WEEKDAYS)} | {
    day[:3]: number for number, day in enumerate(WEEKDAYS)
}
WALL_TIME_PATTERN = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")
DATETIME_EXAMPLE = "2026-12-20T00:00:00+01:00"
WEEKLY_EXAMPLE = '{ from = "Fri 15:00", to = "Mon 08:00" }'
TEXT_RULE = "a non-empty single-line string of printable characters"


@dataclass(frozen=True)
class WeeklyTime:
    """A weekday and a wall-clock time, as written in weekly.from or weekly.to."""

    weekday: int  # 0 is Monday, as datetime.weekday() counts
    time: time

    def __str__(self) -> str:
        return f"{WEEKDAYS[self.weekday][:3].title()} {self.time:%H:%M}"


@dataclass(frozen=True)
class FreezeWindow:
    """One [[freeze]] table. A dated window sets start and end, and a weekly window sets weekly_from and weekly_to.

    start and end are aware datetimes in UTC. timezone is the zone that messages render times in:
    the named zone when the table sets timezone, otherwise the UTC offset written on end.
    """

    name: str
    reason: str
    environments: frozenset[str] | None  # canonical environment names, or None for every environment
    timezone: tzinfo
    start: datetime | None = None
    end: datetime | None = None
    weekly_from: WeeklyTime | None = None
    weekly_to: WeeklyTime | None = None

    def applies_to(self, environment: str) -> bool:
        return self.environments is None or environment in self.environments

    def active_until(self, now: datetime) -> datetime | None:
        """Return the UTC end of the occurrence that contains now, or None when now is outside the window.

        The start is inclusive and the end exclusive.
        """
        now = now.astimezone(UTC)
        if self.start is not None and self.end is not None:
            return self.end if self.start <= now < self.end else None
        if self.weekly_from is None or self.weekly_to is None:
            raise ValueError(f"freeze window {self.name!r} is neither dated nor weekly")
        return _weekly_active_until(self.weekly_from, self.weekly_to, self.timezone, now)


@dataclass(frozen=True)
class ActiveFreeze:
    """A freeze window that contains the checked time for one environment, and the end of that occurrence."""

    window: FreezeWindow
    ends_at: datetime  # aware, UTC
    environment: str

    @property
    def local_ends_at(self) -> datetime:
        """The end in the window's own time zone."""
        return self.ends_at.astimezone(self.window.timezone)

    def format_end(self) -> str:
        """Render the end in the window's zone and in UTC.

        An example is "2026-12-07 08:00 Europe/Berlin (2026-12-07T07:00:00Z)". Seconds show only when not zero.
        """
        local = self.local_ends_at
        local_format = "%Y-%m-%d %H:%M:%S" if local.second or local.microsecond else "%Y-%m-%d %H:%M"
        return f"{local.strftime(local_format)} {_zone_label(local)} ({self.ends_at:%Y-%m-%dT%H:%M:%SZ})"


def environment_names(environments: Mapping[str, Environment]) -> dict[str, str]:
    """Map every environment name and alias to its canonical name, in the form parse_calendar expects."""
    names: dict[str, str] = {}
    for environment in environments.values():
        for label in (environment.name, *environment.aliases):
            names[label] = environment.name
    return names


def parse_calendar(
    tables: list[dict[str, Any]], environments: Mapping[str, str], *, source: str = "deploy.toml"
) -> list[FreezeWindow]:
    """Validate the [[freeze]] tables of a parsed TOML file into freeze windows, in calendar order.

    environments maps every name an operator may write in a window's environments list, canonical
    names and aliases alike, to the canonical name (environment_names builds it from deploy.toml).
    Windows store canonical names. source names the file in error messages.
    """
    if not isinstance(tables, list):
        raise InputError(f"invalid freeze in {source}: expected [[freeze]] tables, got {type(tables).__name__}")
    windows: list[FreezeWindow] = []
    positions: dict[str, int] = {}
    for position, table in enumerate(tables, start=1):
        window = _window_from(table, position, environments, source)
        if window.name in positions:
            raise InputError(
                f"duplicate freeze window name {window.name!r} in {source}: "
                f"windows {positions[window.name]} and {position} both use it, so rename one"
            )
        positions[window.name] = position
        windows.append(window)
    return windows


def active_freeze(windows: list[FreezeWindow], environment: str, now: datetime) -> ActiveFreeze | None:
    """Return the window that freezes the environment at now, or None when changes are allowed.

    environment is a canonical name, as parse_calendar stores them, and now must be an aware
    datetime. When several windows are active, the one that ends last wins, because a change can
    go ahead only after every window has ended.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"now must be an aware datetime, got {now.isoformat()}")
    latest: ActiveFreeze | None = None
    for window in windows:
        if not window.applies_to(environment):
            continue
        ends_at = window.active_until(now)
        if ends_at is not None and (latest is None or ends_at > latest.ends_at):
            latest = ActiveFreeze(window=window, ends_at=ends_at, environment=environment)
    return latest


def describe(active: ActiveFreeze) -> str:
    """Render an active freeze as one line for an error message, with the end and the window's reason."""
    return (
        f"change freeze {active.window.name!r} is active for {active.environment} "
        f"until {active.format_end()}: {active.window.reason}"
    )


def _window_from(table: object, position: int, environments: Mapping[str, str], source: str) -> FreezeWindow:
    if not isinstance(table, Mapping):
        raise InputError(f"invalid freeze window {position} in {source}: expected a [[freeze]] table, got {table!r}")
    name = _text(table, "name", f"freeze window {position} in {source}")
    where = f"freeze window {name!r} in {source}"
    unknown = sorted(set(table) - WINDOW_KEYS)
    if unknown:
        raise InputError(f"unknown key {unknown[0]!r} in {where}: {choices(unknown[0], sorted(WINDOW_KEYS), 'keys')}")
    reason = _text(table, "reason", where)
    scope = _environments(table.get("environments"), environments, where)
    zone = _zone(table.get("timezone"), where)

    dated = "start" in table or "end" in table
    weekly = "weekly" in table
    if dated and weekly:
        raise InputError(f"invalid {where}: it sets both start/end and weekly, but a window is either dated or weekly")
    if weekly:
        return _weekly_window(table["weekly"], name, reason, scope, zone, where)
    if dated:
        return _dated_window(table, name, reason, scope, zone, where)
    raise InputError(
        f"invalid {where}: set start and end for a dated window, or weekly = {WEEKLY_EXAMPLE} for a weekly one"
    )


def _text(table: Mapping[str, Any], key: str, where: str) -> str:
    if key not in table:
        raise InputError(f"missing {key} in {where}: expected {TEXT_RULE}")
    value = table[key]
    if not isinstance(value, str) or not value.strip() or not value.isprintable():
        raise InputError(f"invalid {key} {value!r} in {where}: expected {TEXT_RULE}")
    return value


def _environments(value: object, known: Mapping[str, str], where: str) -> frozenset[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value:
        raise InputError(
            f'invalid environments {value!r} in {where}: expected a list of environment names such as ["prod"], '
            "or no environments key to freeze every environment"
        )
    canonical = set()
    for entry in value:
        if not isinstance(entry, str) or entry not in known:
            raise InputError(
                f"unknown environment {entry!r} in environments of {where}: "
                f"valid environments are {_environment_choices(known)}"
            )
        canonical.add(known[entry])
    return frozenset(canonical)


def _environment_choices(known: Mapping[str, str]) -> str:
    """List canonical names with their aliases in brackets, as `uat, stg (staging), prod (production)`."""
    aliases: dict[str, list[str]] = {}
    for label, name in known.items():
        aliases.setdefault(name, [])
        if label != name:
            aliases[name].append(label)
    return ", ".join(name + (f" ({', '.join(labels)})" if labels else "") for name, labels in aliases.items())


def _zone(value: object, where: str) -> ZoneInfo | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InputError(
            f"invalid timezone {value!r} in {where}: expected an IANA time zone name such as Europe/Berlin"
        )
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        # ValueError covers keys that are not zone names at all: absolute paths, "..", data files.
        raise InputError(
            f"unknown timezone {value!r} in {where}: expected an IANA time zone name such as Europe/Berlin"
        ) from None


def _dated_window(
    table: Mapping[str, Any],
    name: str,
    reason: str,
    scope: frozenset[str] | None,
    zone: ZoneInfo | None,
    where: str,
) -> FreezeWindow:
    for key in ("start", "end"):
        if key not in table:
            raise InputError(
                f"missing {key} in {where}: a dated window needs start and end, such as {DATETIME_EXAMPLE}"
            )
    # Compare in UTC, because Python compares two datetimes that share a tzinfo by wall-clock time.
    start = _instant(table["start"], "start", zone, where).astimezone(UTC)
    end = _instant(table["end"], "end", zone, where)
    display_zone = zone or end.tzinfo or UTC
    end = end.astimezone(UTC)
    if end <= start:
        raise InputError(
            f"impossible {where}: end {_written(table['end'])} is not after start {_written(table['start'])}"
        )
    return FreezeWindow(
        name=name,
        reason=reason,
        environments=scope,
        timezone=display_zone,
        start=start,
        end=end,
    )


def _instant(value: object, key: str, zone: ZoneInfo | None, where: str) -> datetime:
    """Parse an ISO 8601 string or a TOML date-time into an aware datetime.

    A value without a UTC offset is wall-clock time in zone. A date without a time is rejected,
    because an end date could mean the start or the end of that day.
    """
    invalid = InputError(
        f"invalid {key} {_written(value)} in {where}: expected an ISO 8601 date and time such as {DATETIME_EXAMPLE}"
    )
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        if _is_date_only(value):
            raise invalid
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise invalid from None
    else:
        raise invalid

    if parsed.utcoffset() is not None:
        return parsed
    if zone is None:
        raise InputError(
            f"missing timezone in {where}: {key} {_written(value)} has no UTC offset, "
            "so set timezone to an IANA name such as Europe/Berlin or add an offset such as +01:00"
        )
    return parsed.replace(tzinfo=zone)  # fold=0, resolved as _utc_at describes


def _is_date_only(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _written(value: object) -> str:
    """Quote a start or end value as the calendar wrote it, for messages."""
    return repr(value.isoformat() if isinstance(value, datetime) else value)


def _weekly_window(
    value: object,
    name: str,
    reason: str,
    scope: frozenset[str] | None,
    zone: ZoneInfo | None,
    where: str,
) -> FreezeWindow:
    if not isinstance(value, Mapping):
        raise InputError(f"invalid weekly {value!r} in {where}: expected a table such as {WEEKLY_EXAMPLE}")
    unknown = sorted(set(value) - WEEKLY_KEYS)
    if unknown:
        raise InputError(
            f"unknown key {unknown[0]!r} in weekly of {where}: {choices(unknown[0], ['from', 'to'], 'keys')}"
        )
    for key in ("from", "to"):
        if key not in value:
            raise InputError(f"missing weekly.{key} in {where}: expected a table such as {WEEKLY_EXAMPLE}")
    if zone is None:
        raise InputError(
            f"missing timezone in {where}: a weekly window needs an IANA time zone name such as Europe/Berlin"
        )
    weekly_from = _weekly_time(value["from"], "weekly.from", where)
    weekly_to = _weekly_time(value["to"], "weekly.to", where)
    if weekly_from == weekly_to:
        raise InputError(
            f"impossible {where}: weekly.from {value['from']!r} equals weekly.to {value['to']!r}, "
            "so the window has zero length"
        )
    return FreezeWindow(
        name=name, reason=reason, environments=scope, timezone=zone, weekly_from=weekly_from, weekly_to=weekly_to
    )


def _weekly_time(value: object, key: str, where: str) -> WeeklyTime:
    parts = value.split() if isinstance(value, str) else []
    if len(parts) != 2:
        raise InputError(
            f'invalid {key} {value!r} in {where}: expected a weekday and a 24-hour time such as "Fri 15:00"'
        )
    day, clock = parts
    weekday = WEEKDAY_NUMBERS.get(day.lower())
    if weekday is None:
        raise InputError(
            f"invalid weekday {day!r} in {key} {value!r} of {where}: "
            "expected Mon, Tue, Wed, Thu, Fri, Sat or Sun, or the full name such as Friday"
        )
    match = WALL_TIME_PATTERN.fullmatch(clock)
    if match is None:
        raise InputError(f"invalid time {clock!r} in {key} {value!r} of {where}: expected HH:MM from 00:00 to 23:59")
    return WeeklyTime(weekday=weekday, time=time(int(match[1]), int(match[2])))


def _weekly_active_until(start: WeeklyTime, end: WeeklyTime, zone: tzinfo, now: datetime) -> datetime | None:
    # Walk back over the local dates that an occurrence containing now can start on. An occurrence
    # lasts under 7 days of wall-clock time, plus at most a daylight-saving shift, so 8 days back is enough.
    days_to_end = (end.weekday - start.weekday) % 7
    if days_to_end == 0 and end.time < start.time:
        days_to_end = 7
    today = now.astimezone(zone).date()
    for days_back in range(9):
        start_day = today - timedelta(days=days_back)
        if start_day.weekday() != start.weekday:
            continue
        starts_at = _utc_at(start_day, start.time, zone)
        ends_at = _utc_at(start_day + timedelta(days=days_to_end), end.time, zone)
        if starts_at <= now < ends_at:
            return ends_at
    return None


def _utc_at(day: date, wall_time: time, zone: tzinfo) -> datetime:
    # Wall-clock times resolve with fold=0 and are then normalised through UTC. A time that a
    # spring-forward gap skips moves forward by the gap (Sun 02:30 Europe/Berlin becomes 03:30 CEST),
    # and a time that a fall-back repeats means its first occurrence (02:30 CEST, the earlier instant).
    return datetime.combine(day, wall_time, tzinfo=zone).astimezone(UTC)


def _zone_label(moment: datetime) -> str:
    """Name the zone of moment: the IANA key for a named zone, otherwise the offset such as UTC+01:00."""
    zone = moment.tzinfo
    if isinstance(zone, ZoneInfo):
        return zone.key
    return moment.tzname() or moment.strftime("%z")
