"""When a schedule is due: a daily `HH:MM` or a cron expression, in an IANA time zone.

Cron evaluation is cronsim's, with Debian cron's rules for DST on fixed-time expressions: a time
that does not exist that day (02:30 when clocks jump from 02:00 to 03:00) fires once at the next
valid time (03:00), and a time that happens twice (clocks going back) fires once, the first time.
Expressions with `*` in the minute or hour field fire by elapsed time through both.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from uuid import UUID, uuid5
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

DAILY = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
MAX_MISSED = 100_000
"""Most due times looked at when catching up after an outage (a per-second cron down for a day)."""


class BadSchedule(ValueError):
    """A schedule expression or time zone that cannot be used; the message says which and why."""


def to_cron(spec: str) -> str:
    """The cron expression of `spec`: `HH:MM` (daily) or a 5-field (or 6-field, seconds first) cron."""
    text = spec.strip()
    daily = DAILY.match(text)
    if daily:
        return f"{int(daily.group(2))} {int(daily.group(1))} * * *"
    if len(text.split()) not in (5, 6):
        raise BadSchedule(f"{spec!r} is neither HH:MM nor a cron expression of 5 fields (or 6, seconds first)")
    try:
        next(CronSim(text, datetime.now(UTC)))
    except (CronSimError, StopIteration) as exc:
        raise BadSchedule(f"{spec!r} is not a valid cron expression: {exc or 'it never fires'}") from None
    return text


def zone(name: str) -> ZoneInfo:
    """The IANA time zone `name`, or BadSchedule."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadSchedule(f"{name!r} is not an IANA time zone (e.g. UTC, Europe/Madrid)") from None


def next_after(cron: str, timezone: str, after: datetime) -> datetime:
    """The first due time strictly after `after`, in UTC."""
    local = after.astimezone(zone(timezone))
    return next(CronSim(cron, local)).astimezone(UTC)


def dues_until(cron: str, timezone: str, first: datetime, now: datetime) -> tuple[list[datetime], datetime]:
    """The due times from `first` (itself due) up to `now`, at most the last `MAX_MISSED` of them, and
    the first due time after `now`."""
    dues: list[datetime] = []
    due = first
    while due <= now:
        dues.append(due)
        if len(dues) > MAX_MISSED:
            del dues[0]
        due = next_after(cron, timezone, due)
    return dues, due


def fired_job_id(schedule_id: UUID, due: datetime) -> UUID:
    """The job id of a schedule's run at `due`: the same for every replica that tries to fire it."""
    return uuid5(schedule_id, due.astimezone(UTC).isoformat())
