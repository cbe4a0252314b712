"""The class rules and date windows of `sync_class_library`."""

from __future__ import annotations

import calendar
from datetime import date

import pytest

from ferry_peloton_sync.rules import CHECK_DETAILS, POWER_ZONE_CLASS_TYPE, is_power_zone, list_verdict, window

WARM = {"wu": "Warm Up/Cool Down"}


@pytest.mark.parametrize(("title", "types", "pz"), [
    ("45 min Power Zone Endurance Ride", [], True),
    ("30 min PZ Max Ride", [], True),
    ("20 min pz ride", [], True),
    ("45 min Power Zones Ride", [], True),
    ("30 min FTP Builder", [POWER_ZONE_CLASS_TYPE], True),
    ("20 min Pizza Ride", [], False),
    ("30 min Pizza Party Ride", [], False),
    ("30 min Pop Ride", [], False),
    ("30 min PZX Ride", [], False),
    ("30 min Climb Ride", ["7579b9edbdf9464fa19eb58193897a73"], False),
])
def test_power_zone_by_class_type_or_whole_words(title: str, types: list[str], pz: bool) -> None:
    ride = {"title": title, "class_type_ids": types}
    assert is_power_zone(ride) is pz
    # not Power Zone by the list: only the details' is_power_zone_class can still make it one
    assert list_verdict("cycling", ride, {}) == (None if pz else CHECK_DETAILS)
    assert is_power_zone(ride, {"is_power_zone_class": False}) is pz
    assert list_verdict("running", ride, {}) is None  # running keeps all


def test_the_details_flag_makes_a_class_power_zone() -> None:
    assert is_power_zone({"title": "30 min Ride"}, {"is_power_zone_class": True})
    assert not is_power_zone({"title": "30 min Ride"}, {"is_power_zone_class": False})


@pytest.mark.parametrize("title", ["10 min Warm Up Ride", "5 min Warmup Run", "10 min Power Zone Warm-Up Ride",
                                   "5 min Cool Down Ride", "5 min Cooldown Run", "10 min Cool-Down Walk"])
@pytest.mark.parametrize("discipline", ["cycling", "running", "walking", "yoga"])
def test_warm_ups_and_cool_downs_are_skipped_everywhere(title: str, discipline: str) -> None:
    assert list_verdict(discipline, {"title": title, "class_type_ids": []}, {}) == "warm-up/cool-down"


def test_a_warm_up_class_type_is_skipped_whatever_the_title() -> None:
    assert list_verdict("running", {"title": "10 min Easy Run", "class_type_ids": ["wu"]}, WARM) == "warm-up/cool-down"


@pytest.mark.parametrize("month", range(1, 13))
def test_month_windows_hold_exactly_their_days(month: int) -> None:
    win = window(2024, month)
    last = calendar.monthrange(2024, month)[1]
    first_s = calendar.timegm(date(2024, month, 1).timetuple())
    assert win.contains(first_s)
    assert not win.contains(first_s - 1)
    assert win.contains(first_s + last * 86_400 - 1)
    assert not win.contains(first_s + last * 86_400)
    assert win.label == (f"Filtering by {calendar.month_name[month]} 2024: 2024-{month:02d}-01 to "
                         f"2024-{month:02d}-{last:02d}")


def test_year_and_no_window() -> None:
    year = window(2025, None)
    assert year.label == "Filtering by 2025: 2025-01-01 to 2025-12-31"
    assert year.contains(calendar.timegm(date(2025, 12, 31).timetuple()) + 86_399)
    assert not year.contains(calendar.timegm(date(2026, 1, 1).timetuple()))
    assert window(None, None).contains(0)
