"""`ferry asset-sync pull-and-clean`: the seed's flags and defaults, bad values refused before publishing."""

from __future__ import annotations

import json

import pytest

from tests.cli.conftest import FakeStatus, Ferry, declare_queues, job, published
from tests.support.infra import Infra

SERVICE = "asset-sync"


def test_defaults_are_the_seeds_and_every_flag_reaches_the_options(ferry: Ferry, infra: Infra) -> None:
    declare_queues(infra, SERVICE)
    assert ferry(SERVICE, "pull-and-clean").exit_code == 0
    result = ferry(SERVICE, "pull-and-clean", "--all", "--asset-type", "project", "--status", "PUBLISHED",
                   "--lang", "ES", "--delay", "2.0", "--batch-size", "3", "--dry-run", "--force")
    assert result.exit_code == 0, result.output
    got = published(infra, SERVICE)
    assert [g.routing_key for g in got] == ["asset-sync.pull-and-clean"] * 2
    assert all(g.persistent for g in got)
    first, second = (json.loads(g.body)["options"] for g in got)
    assert first == {"all": False, "asset_type": None, "status": None, "lang": None, "delay": 1.0,
                     "batch_size": 10, "dry_run": False, "force": False}
    assert second == {"all": True, "asset_type": "PROJECT", "status": "PUBLISHED", "lang": "es", "delay": 2.0,
                      "batch_size": 3, "dry_run": True, "force": True}


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--asset-type", "BOOK"], "'BOOK' is not one of PROJECT, STARTER, EXERCISE, QUIZ, LESSON, VIDEO, ARTICLE"),
        (["--status", "DONE"], "'DONE' is not one of NOT_STARTED, PLANNING, WRITING, DRAFT, OPTIMIZED, PUBLISHED"),
        (["--lang", "spanish"], "'spanish' is not a two-letter language code"),
        (["--delay", "-1"], "-1.0 is not in the range 0<=x<=60"),
        (["--batch-size", "0"], "0 is not in the range 1<=x<=1000"),
    ],
)
def test_bad_values_are_refused_naming_the_allowed_ones(ferry: Ferry, infra: Infra, args: list[str],
                                                        says: str) -> None:
    declare_queues(infra, SERVICE)
    result = ferry(SERVICE, "pull-and-clean", *args)
    assert result.exit_code == 2
    assert says in result.output
    assert published(infra, SERVICE) == []


def test_wait_prints_the_seeds_summary_from_the_jobs_result(ferry: Ferry, infra: Infra) -> None:
    report = ["Found 3 assets to process",
              "Processed 3 assets: 2 pulled, 0 unchanged, 2 cleaned, 1 failed, 0 skipped in 1.2s",
              "  ✗ bad-one: Missing or invalid URL on bad-one, it does not belong to github.com",
              "Total processing time: 1.20 seconds"]
    done = job("completed", service=SERVICE, command="pull-and-clean", total=3, processed=3, succeeded=2, failed=1,
               message=report[1], result={"found": 3, "report": report})
    declare_queues(infra, SERVICE)
    result = ferry(SERVICE, "pull-and-clean", "--wait", status=FakeStatus(lambda _id, _n: done))
    assert result.exit_code == 0, result.output
    for line in report:
        assert line in result.output
