"""The sync's core (one page at a time, as its steps run) on the real database against the sandbox."""

from __future__ import annotations

from ferry_peloton_sync.rules import window
from tests.peloton_sync.harness import core, serve_sandbox
from tests.support.infra import Infra

SYNCED_KINDS = {"cycling": {"pz_type", "pz_title"}, "running": {"other"}}


async def test_month_is_exact_and_paging_stops_at_the_minimum(infra: Infra) -> None:
    win = window(2024, 6)
    async with serve_sandbox() as sandbox, core(infra, sandbox) as c:
        for discipline in ("cycling", "running"):
            results = await c.discipline(discipline, win)
            expected = sandbox.expected(discipline, win)
            stored = {k: v for k, v in (await c.rides()).items() if v["fitness_discipline"] == discipline}
            wanted = {rid for rid, kind in expected.items() if kind in SYNCED_KINDS[discipline]}
            assert set(stored) == wanted
            assert all(win.contains(r["original_air_time"]) for r in stored.values())
            assert len(sandbox.pages(discipline)) == sandbox.minimum_pages(discipline, win, c.limit)
            assert sum(r.tally.fetched for r in results) == len(expected)
            assert sum(r.tally.created for r in results) == len(wanted)
            assert sum(r.tally.skipped for r in results) == len(expected) - len(wanted)
        details = {e["path"].split("/")[3] for e in sandbox.log("details")}
        assert details == set(await c.rides())  # details only for the classes stored


async def test_a_second_run_asks_for_no_details(infra: Infra) -> None:
    win = window(2025, 12)
    async with serve_sandbox() as sandbox, core(infra, sandbox) as c:
        await c.discipline("cycling", win)
        first = len(sandbox.log("details"))
        assert first > 0
        again = await c.discipline("cycling", win)
        assert len(sandbox.log("details")) == first
        assert sum(r.tally.created for r in again) == 0
        assert sum(r.tally.skipped for r in again) == sum(r.tally.fetched for r in again) > 0
