"""The sync's core (one page at a time, as its steps run) on the real database against the sandbox."""

from __future__ import annotations

import httpx

from ferry_peloton_sync.rules import window
from tests.peloton_sync.harness import core, serve_sandbox
from tests.support.infra import Infra


async def test_month_is_exact_and_paging_stops_at_the_minimum(infra: Infra) -> None:
    win = window(2024, 6)
    async with serve_sandbox() as sandbox, core(infra, sandbox) as c:
        for discipline in ("cycling", "running"):
            results = await c.discipline(discipline, win)
            expected = sandbox.expected(discipline, win)
            stored = {k: v for k, v in (await c.rides()).items() if v["fitness_discipline"] == discipline}
            wanted = sandbox.synced(discipline, win)
            assert set(stored) == wanted
            assert all(win.contains(r["original_air_time"]) for r in stored.values())
            assert len(sandbox.pages(discipline)) == sandbox.minimum_pages(discipline, win, c.limit)
            assert sum(r.tally.fetched for r in results) == len(expected)
            assert sum(r.tally.created for r in results) == len(wanted)
            assert sum(r.tally.skipped for r in results) == len(expected) - len(wanted)
        details = [e["path"].split("/")[3] for e in sandbox.log("details")]
        # details only for classes that may be synced: stored ones, and cycling ones only the details can
        # tell to be Power Zone or not; never for a warm-up or cool-down, never twice
        assert sorted(details) == sorted(sandbox.needing_details("cycling", win) | sandbox.needing_details(
            "running", win))
        assert set(await c.rides()) < set(details)


async def test_a_cycling_class_only_its_details_call_power_zone_is_synced(infra: Infra) -> None:
    win = window(2025, 12)
    async with serve_sandbox() as sandbox, core(infra, sandbox) as c:
        by_details = {rid for rid, kind in sandbox.expected("cycling", win).items() if kind == "pz_details"}
        pizza = {rid for rid, kind in sandbox.expected("cycling", win).items() if kind == "other"}
        assert by_details, "the sandbox's December has classes only their details call Power Zone"
        assert pizza, "the sandbox's December has cycling classes that are not Power Zone"
        await c.discipline("cycling", win)
        rides = await c.rides()
        assert by_details <= set(rides)
        assert all(rides[rid]["is_power_zone_class"] for rid in by_details)
        assert not pizza & set(rides)  # "Pizza Party Ride", "Pop Ride": asked, not Power Zone, not stored
        async with c.pool.acquire() as conn:
            passed = {r["peloton_ride_id"] for r in await conn.fetch(
                "SELECT peloton_ride_id FROM peloton_sync.passed_over_ride WHERE reason = 'not Power Zone'")}
        assert passed == pizza


async def test_a_second_run_asks_for_no_details(infra: Infra) -> None:
    win = window(2025, 12)
    async with serve_sandbox() as sandbox, core(infra, sandbox) as c:
        await c.discipline("cycling", win)
        first = len(sandbox.log("details"))
        assert first > 0
        assert first == len(sandbox.needing_details("cycling", win))
        again = await c.discipline("cycling", win)
        assert len(sandbox.log("details")) == first  # not even for the classes passed over
        assert sum(r.tally.created for r in again) == 0
        assert sum(r.tally.skipped for r in again) == sum(r.tally.fetched for r in again) > 0


async def test_a_progress_line_every_ten_classes_of_a_discipline_across_its_pages(infra: Infra) -> None:
    win = window(2025, 11)
    async with serve_sandbox() as sandbox, core(infra, sandbox) as c:
        results = await c.discipline("running", win)
        assert len(results) > 1, "the month spans pages"
        lines = [line for r in results for line in r.lines]
        progress = [line for line in lines if line.startswith("  Progress: ")]
        fetched = len(sandbox.expected("running", win))
        assert [int(line.split()[1]) for line in progress] == list(range(10, fetched + 1, 10))
        # each says the discipline's counts so far, and comes right after its tenth class
        created_at = 0
        for line in lines:
            if line.startswith("  ✓ Created: "):
                created_at += 1
            elif line.startswith("  Progress: "):
                n = int(line.split()[1])
                assert line.startswith(f"  Progress: {n} classes processed ({created_at} created, 0 updated, "
                                       f"{n - created_at} skipped, 0 errors)"), line
        # the step's status (its heartbeat events) follows every class
        assert len(c.progress) == fetched
        last = results[-1]
        assert c.progress[-1] == (f"RUNNING: {fetched} classes processed (page {sandbox.pages('running')[-1]}: "
                                  f"{last.tally.fetched} of {last.tally.fetched})")


async def test_timed_out_requests_are_retried_and_the_counts_stay_exact(infra: Infra) -> None:
    win = window(2025, 10)
    async with serve_sandbox() as sandbox, core(infra, sandbox, http_timeout_s=1.0) as c:
        async with httpx.AsyncClient() as http:
            await sandbox.faults(http, slow_next=3, slow_s=3.0)  # the first list page, three times running
        results = await c.discipline("running", win)
        wanted = sandbox.synced("running", win)
        assert set(await c.rides()) == wanted
        assert sum(r.tally.created for r in results) == len(wanted)
        assert sum(r.tally.errors for r in results) == 0
        assert {e["path"].split("/")[3] for e in sandbox.log("details")} == wanted
        # every request the sync needed, plus (at least: a slow machine may time out more) the three that
        # timed out and were sent again
        assert c.client.requests >= sandbox.minimum_pages("running", win, c.limit) + len(wanted) + 3
