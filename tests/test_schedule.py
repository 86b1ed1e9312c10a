"""Business hours: pure checks with the time passed in (epoch seconds), across time zones."""

import datetime

import pytest

from acd.schedule import Schedule, is_open, parse_date, parse_days, parse_hours, zone


def at(text, tz="UTC"):
    """Epoch seconds of a local wall-clock time in zone ``tz``."""
    return datetime.datetime.fromisoformat(text).replace(tzinfo=zone(tz)).timestamp()


def office(**kw):
    weekly = [()] * 7
    for day in parse_days("mon-fri"):
        weekly[day] = parse_hours("08:00-18:00")
    weekly[5] = parse_hours("09:00-13:00")
    return Schedule("office-hours", kw.get("tz", "Europe/Berlin"), tuple(weekly),
                    frozenset(parse_date(d) for d in kw.get("closed", ["2026-12-24"])))


@pytest.mark.parametrize("moment, expected", [
    ("2026-06-01T08:00", True),    # Monday, the first minute
    ("2026-06-01T07:59", False),
    ("2026-06-01T17:59", True),
    ("2026-06-01T18:00", False),   # the end is not included
    ("2026-06-06T12:30", True),    # Saturday
    ("2026-06-06T13:00", False),
    ("2026-06-07T10:00", False),   # Sunday: no hours
    ("2026-12-24T10:00", False),   # a Thursday, but a closed date
    ("2026-12-23T10:00", True),
])
def test_office_hours_in_local_time(moment, expected):
    assert is_open(office(), at(moment, "Europe/Berlin")) is expected


def test_the_schedules_zone_decides_not_the_callers():
    # 07:30 UTC in June is 09:30 in Berlin (summer time): open; 06:30 UTC is 08:30: open;
    # 05:59 UTC is 07:59 in Berlin: closed although it is past 08:00 in Tokyo
    schedule = office()
    assert is_open(schedule, at("2026-06-01T07:30"))
    assert not is_open(schedule, at("2026-06-01T05:59"))
    assert is_open(schedule, at("2026-06-01T06:00"))
    # in winter Berlin is UTC+1: 07:00 UTC is 08:00 local
    assert not is_open(schedule, at("2026-01-05T06:59"))
    assert is_open(schedule, at("2026-01-05T07:00"))


def test_a_closed_date_is_a_date_in_the_schedules_zone():
    schedule = office(closed=["2026-12-24"])
    # 23:30 UTC on Dec 23 is already 00:30 on Dec 24 in Berlin, but hours are closed anyway;
    # 07:30 UTC on Dec 24 is 08:30 on the holiday in Berlin
    assert not is_open(schedule, at("2026-12-24T07:30"))
    # in New York the same instant is still Dec 24 02:30; a New York schedule with the same
    # closed date is closed at 09:00 New York time, open the day before
    ny = office(tz="America/New_York", closed=["2026-12-24"])
    assert not is_open(ny, at("2026-12-24T09:00", "America/New_York"))
    assert is_open(ny, at("2026-12-23T09:00", "America/New_York"))
    # 03:00 UTC on Dec 24 is still Dec 23 (22:00) in New York: closed by the hours only
    assert not is_open(ny, at("2026-12-24T03:00"))
    assert is_open(ny, at("2026-12-23T17:59", "America/New_York"))


def test_overnight_ranges_run_into_the_next_day():
    weekly = [()] * 7
    weekly[4] = parse_hours("22:00-06:00")   # Friday night into Saturday morning
    schedule = Schedule("night", "UTC", tuple(weekly))
    assert is_open(schedule, at("2026-06-05T23:00"))
    assert is_open(schedule, at("2026-06-06T05:59"))
    assert not is_open(schedule, at("2026-06-06T06:00"))
    assert not is_open(schedule, at("2026-06-05T21:59"))


def test_24_hours_and_several_ranges():
    assert parse_hours("00:00-24:00") == ((0, 1440),)
    assert parse_hours("08:00-12:00, 13:00-18:00") == ((480, 720), (780, 1080))
    assert parse_hours("closed") == ()


def test_days():
    assert parse_days("mon-fri") == [0, 1, 2, 3, 4]
    assert parse_days("sat") == [5]
    assert parse_days("fri-mon") == [4, 5, 6, 0]
    assert parse_days("mon,wed") == [0, 2]


@pytest.mark.parametrize("text", ["monday", "mon-funday", "", "mon-"])
def test_bad_days(text):
    with pytest.raises(ValueError, match="expected days"):
        parse_days(text)


@pytest.mark.parametrize("text", ["8-18", "08:00", "25:00-26:00", "08:60-09:00", "24:30-01:00",
                                  "08:00-08:00", 800])
def test_bad_hours(text):
    with pytest.raises(ValueError):
        parse_hours(text)


@pytest.mark.parametrize("name", ["Mars/Olympus", "", "../etc/passwd", "/etc/localtime", 5])
def test_unknown_zones(name):
    with pytest.raises(ValueError, match="unknown time zone"):
        zone(name)


def test_dates():
    assert parse_date("2026-12-24") == datetime.date(2026, 12, 24)
    assert parse_date(datetime.date(2026, 12, 24)) == datetime.date(2026, 12, 24)
    for bad in ("2026-02-30", "24.12.2026", 20261224):
        with pytest.raises(ValueError, match="expected a date"):
            parse_date(bad)
