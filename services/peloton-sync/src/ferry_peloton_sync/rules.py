"""Which classes a sync keeps: the date window and the class rules of `sync_class_library`.

- Window: `original_air_time` (unix seconds, UTC); --year is Jan 1 to Dec 31, --month its days.
- Warm-up and cool-down classes are skipped in every discipline (title "warm up", "warmup",
  "warm-up", "cool down", "cooldown", "cool-down", or a class type of that name).
- Cycling keeps Power Zone classes only: Power Zone's class type id, the words "power zone" or "pz"
  in the title (whole words: "Pizza Ride" is not one), or the details' `is_power_zone_class`. The
  list carries no such flag, so a new cycling class the list does not mark as Power Zone has its
  details fetched to ask (`CHECK_DETAILS`); one they do not mark either is skipped and remembered.
- Every other discipline keeps all its classes.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

POWER_ZONE_CLASS_TYPE = "665395ff3abf4081bf315686227d1a51"
_PZ_TITLE = re.compile(r"\b(power[\s-]*zones?|pz)\b", re.IGNORECASE)
_WARM_COOL = re.compile(r"\b(warm[\s-]*up|cool[\s-]*down)s?\b", re.IGNORECASE)


@dataclass(frozen=True)
class Window:
    """Classes aired in [start, end) (unix seconds); both None means every class."""

    start: int | None
    end: int | None
    label: str

    def contains(self, aired: int) -> bool:
        return (self.start is None or aired >= self.start) and (self.end is None or aired < self.end)

    def older(self, aired: int) -> bool:
        """Aired before the window starts (newest-first paging can stop)."""
        return self.start is not None and aired < self.start

    def newer(self, aired: int) -> bool:
        return self.end is not None and aired >= self.end


def _epoch(day: date) -> int:
    return calendar.timegm(day.timetuple())


def window(year: int | None, month: int | None) -> Window:
    """The seed's windows, and the line it prints for them."""
    if year is None:
        return Window(None, None, "No date filter: syncing all available classes")
    if month is None:
        first, after = date(year, 1, 1), date(year + 1, 1, 1)
        name = f"{year}"
    else:
        first = date(year, month, 1)
        after = date(year + (month == 12), month % 12 + 1, 1)
        name = f"{calendar.month_name[month]} {year}"
    last = date.fromordinal(after.toordinal() - 1)
    return Window(_epoch(first), _epoch(after), f"Filtering by {name}: {first.isoformat()} to {last.isoformat()}")


def aired_at(ride: Mapping[str, Any]) -> int:
    """`original_air_time` in unix seconds (a value in milliseconds is brought back to seconds)."""
    value = int(ride.get("original_air_time") or ride.get("scheduled_start_time") or 0)
    return value // 1000 if value > 100_000_000_000 else value


def air_date(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).date().isoformat()


def is_warm_up_or_cool_down(ride: Mapping[str, Any], type_names: Mapping[str, str]) -> bool:
    if _WARM_COOL.search(str(ride.get("title") or "")):
        return True
    return any(_WARM_COOL.search(type_names.get(t, "")) for t in ride.get("class_type_ids") or [])


def is_power_zone(ride: Mapping[str, Any], details: Mapping[str, Any] | None = None) -> bool:
    if POWER_ZONE_CLASS_TYPE in (ride.get("class_type_ids") or []):
        return True
    if _PZ_TITLE.search(str(ride.get("title") or "")):
        return True
    return bool(details and details.get("is_power_zone_class"))


CHECK_DETAILS = "check details"
"""`list_verdict`'s answer for a cycling class only its details can tell to be Power Zone or not."""
NOT_POWER_ZONE = "not Power Zone"


def list_verdict(discipline: str, ride: Mapping[str, Any], type_names: Mapping[str, str]) -> str | None:
    """What the list item alone says: None (sync it), a reason to skip it, or `CHECK_DETAILS`.

    A cycling class that is not Power Zone by its class types or title may still be one by the
    details' `is_power_zone_class` (the seed's third rule), which the list does not carry: such a
    class is `CHECK_DETAILS`, and kept only if its details say so (`is_power_zone(ride, details)`).
    """
    if is_warm_up_or_cool_down(ride, type_names):
        return "warm-up/cool-down"
    if discipline == "cycling" and not is_power_zone(ride):
        return CHECK_DETAILS
    return None
