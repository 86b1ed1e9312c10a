"""Business hours and holidays: is a schedule open at a given moment?

Theory of operation: a :class:`Schedule` is pure data -- a time zone, for each weekday (Monday
= 0) the open ranges as minutes after local midnight, and the closed dates. ``is_open(schedule,
now)`` turns the epoch time it is handed (never the wall clock) into local time in the schedule's
zone with :mod:`zoneinfo`, so daylight saving and a caller in another zone change nothing: a
closed date is a date *in the schedule's zone*. A range whose end is before its start runs past
midnight into the next day ("22:00-06:00"); "24:00" ends a range at midnight. The ``parse_*``
functions read the config's spellings and raise ValueError with a message fit for
``FILE: key.path: problem``.
"""

import datetime
import re
import zoneinfo
from dataclasses import dataclass

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TIME = re.compile(r"([01]\d|2[0-4]):([0-5]\d)\Z")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")


@dataclass(frozen=True)
class Schedule:
    """``weekly[d]``: ((start, end), ...) in minutes after local midnight, Monday = 0."""
    name: str
    timezone: str
    weekly: "tuple[tuple[tuple[int, int], ...], ...]" = ((),) * 7
    closed_dates: "frozenset[datetime.date]" = frozenset()


def is_open(schedule, now):
    """Whether ``schedule`` is open at epoch time ``now`` (seconds)."""
    local = datetime.datetime.fromtimestamp(now, zone(schedule.timezone))
    if local.date() in schedule.closed_dates:
        return False
    minute = local.hour * 60 + local.minute
    day = local.weekday()
    for start, end in schedule.weekly[day]:
        if start <= minute < end or (end <= start and minute >= start):
            return True
    yesterday = schedule.weekly[(day - 1) % 7]
    return any(end <= start and minute < end for start, end in yesterday)


def zone(name):
    """The ZoneInfo of an IANA name such as Europe/Berlin; ValueError when unknown."""
    if not isinstance(name, str) or not name or name.startswith(("/", ".")) or ".." in name:
        raise ValueError(f"unknown time zone {name!r} (expected an IANA name such as "
                         "Europe/Berlin)")
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (expected an IANA name such as "
                         "Europe/Berlin)") from None


def parse_days(text):
    """'mon-fri', 'sat', 'mon,wed,fri', 'fri-mon' (wraps) -> [weekday numbers]."""
    days = []
    for part in str(text).lower().split(","):
        first, sep, last = part.strip().partition("-")
        if first not in DAYS or (sep and last not in DAYS):
            raise ValueError(f"expected days such as mon-fri, sat or mon,wed; got {text!r}")
        start, end = DAYS.index(first), DAYS.index(last if sep else first)
        days += [(start + i) % 7 for i in range((end - start) % 7 + 1)]
    return days


def parse_hours(text):
    """'08:00-12:00,13:00-18:00' -> ((480, 720), (780, 1080)); 'closed' -> ()."""
    if not isinstance(text, str):
        raise ValueError(f"expected hours such as \"08:00-18:00\" in quotes, got {text!r}")
    if text.strip().lower() == "closed":
        return ()
    ranges = []
    for part in text.split(","):
        start, sep, end = part.strip().partition("-")
        if not sep:
            raise ValueError(f"expected hours such as \"08:00-18:00\" or "
                             f"\"08:00-12:00,13:00-18:00\", got {text!r}")
        first, last = _minutes(start, text), _minutes(end, text)
        if first == last or first == 24 * 60:
            raise ValueError(f"empty or impossible range {part.strip()!r} in {text!r}")
        ranges.append((first, last))
    return tuple(ranges)


def _minutes(clock, text):
    match = _TIME.match(clock.strip())
    if not match or (match.group(1) == "24" and match.group(2) != "00"):
        raise ValueError(f"expected times HH:MM from 00:00 to 24:00, got {clock.strip()!r} "
                         f"in {text!r}")
    return int(match.group(1)) * 60 + int(match.group(2))


def parse_date(value):
    """'2026-12-24' (or a YAML date) -> datetime.date."""
    if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
        return value
    if isinstance(value, str) and _DATE.match(value.strip()):
        try:
            return datetime.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"expected a date YYYY-MM-DD such as \"2026-12-24\", got {value!r}")
