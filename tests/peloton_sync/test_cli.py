"""`ferry peloton-sync sync-class-library`: flags as the options model says, refused before publishing."""

from __future__ import annotations

import json

from tests.cli.conftest import Ferry, declare_queues, published
from tests.support.infra import Infra

SERVICE = "peloton-sync"


def test_month_without_year_is_refused_before_anything_is_published(ferry: Ferry, infra: Infra) -> None:
    declare_queues(infra, SERVICE)
    result = ferry("peloton-sync", "sync-class-library", "--month", "12")
    assert result.exit_code == 2
    assert "--month (month) requires --year (year)" in result.output
    assert published(infra, SERVICE) == []


def test_month_out_of_range_is_refused(ferry: Ferry, infra: Infra) -> None:
    declare_queues(infra, SERVICE)
    result = ferry("peloton-sync", "sync-class-library", "--year", "2025", "--month", "13")
    assert result.exit_code == 2
    assert "13 is not in the range 1<=x<=12" in result.output
    bad = ferry("peloton-sync", "sync-class-library", "--disciplines", "cycling,Run ning")
    assert bad.exit_code == 2
    assert "is not a discipline name" in bad.output
    assert published(infra, SERVICE) == []


def test_defaults_and_flags_are_published_as_the_options(ferry: Ferry, infra: Infra) -> None:
    declare_queues(infra, SERVICE)
    assert ferry("peloton-sync", "sync-class-library").exit_code == 0
    result = ferry("peloton-sync", "sync-class-library", "--disciplines", "Cycling, walking", "--year", "2025",
                   "--month", "12", "--limit", "20", "--dry-run", "--username", "rider1", "--delay", "1.0")
    assert result.exit_code == 0, result.output
    got = published(infra, SERVICE)
    assert [g.routing_key for g in got] == ["peloton-sync.sync-class-library"] * 2
    first, second = (json.loads(g.body)["options"] for g in got)
    assert first == {"disciplines": "cycling,running", "year": None, "month": None, "limit": None,
                     "dry_run": False, "username": None, "delay": 0.5}
    assert second == {"disciplines": "cycling,walking", "year": 2025, "month": 12, "limit": 20,
                      "dry_run": True, "username": "rider1", "delay": 1.0}
