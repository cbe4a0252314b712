"""`peloton-sync.sync-class-library` end to end: the service, the real rate limiter and broker, the
Peloton sandbox."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx

from ferry_peloton_sync.rules import window
from tests.peloton_sync.harness import (
    DEMO_ACCESS,
    DEMO_REFRESH,
    KEY,
    LIST_PZ,
    USER,
    add_connection,
    migrate,
    peloton_config,
    serve_sandbox,
)
from tests.peloton_sync.stack import run_job, stack
from tests.status.conftest import job_when, running_status
from tests.support.infra import Infra

COUNTS = ("fetched", "created", "updated", "skipped", "errors")
RIDE_IDS = "SELECT peloton_ride_id FROM peloton_sync.ride_detail"


async def _connect(infra: Infra, **kwargs: object) -> None:
    from ferry.db import create_pool
    from ferry_peloton_sync.crypto import TokenCipher

    await migrate(infra)
    pool = await create_pool(infra.database_url)
    try:
        await add_connection(pool, TokenCipher([KEY]), **kwargs)  # type: ignore[arg-type]
    finally:
        await pool.close()


async def _rows(infra: Infra, sql: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(infra.database_url)
    try:
        return await conn.fetch(sql)
    finally:
        await conn.close()


async def test_a_month_sync_prints_the_seed_report_and_a_second_run_creates_nothing(infra: Infra) -> None:
    await _connect(infra)
    win = window(2025, 12)
    async with serve_sandbox() as sandbox, stack(infra, sandbox) as tap:
        done = await run_job(tap, year=2025, month=12)
        assert done.type == "completed", done.message
        cycling, running = sandbox.synced("cycling", win), sandbox.synced("running", win)
        fetched_by = {d: len(sandbox.expected(d, win)) for d in ("cycling", "running")}
        fetched = sum(fetched_by.values())
        stored = {r["peloton_ride_id"] for r in await _rows(infra, RIDE_IDS)}
        assert stored == cycling | running, "\n".join(done.detail["result"]["report"])
        report = done.detail["result"]["report"]
        assert report[0] == "Using connection for user: rider@ferry.invalid"
        assert report[1] == "Filtering by December 2025: 2025-12-01 to 2025-12-31"
        assert "Processing CYCLING classes..." in report
        assert "Processing RUNNING classes..." in report
        assert f"    Created: {len(cycling)}" in report
        assert f"    Created: {len(running)}" in report
        progress = [line for line in report if line.startswith("  Progress: ")]
        assert len(progress) == sum(n // 10 for n in fetched_by.values())
        final = report[report.index("FINAL SUMMARY"):]
        assert final[2:] == [f"Total rides fetched: {fetched}", f"Created: {len(stored)}", "Updated: 0",
                             f"Skipped: {fetched - len(stored)}", "Errors: 0"]
        assert done.message == (f"Total rides fetched: {fetched}, created: {len(stored)}, updated: 0, "
                                f"skipped: {fetched - len(stored)}, errors: 0")
        result = done.detail["result"]  # what `ferry job` shows: every count of the seed, zeros too
        assert {k: result[k] for k in COUNTS} == {"fetched": fetched, "created": len(stored), "updated": 0,
                                                 "skipped": fetched - len(stored), "errors": 0}
        assert result["disciplines_summary"]["running"]["updated"] == 0
        assert result["disciplines_summary"]["cycling"]["created"] == len(cycling)
        for d in ("cycling", "running"):
            assert len(sandbox.pages(d)) == sandbox.minimum_pages(d, win, 50)
        details = len(sandbox.log("details"))
        assert details == len(sandbox.needing_details("cycling", win) | sandbox.needing_details("running", win))
        playlists = await _rows(infra, "SELECT count(*) AS n FROM peloton_sync.playlist")
        assert playlists[0]["n"] == len(stored)

        again = await run_job(tap, year=2025, month=12)
        assert again.type == "completed", again.message
        assert len(sandbox.log("details")) == details
        result = again.detail["result"]
        assert {k: result[k] for k in COUNTS} == {"fetched": fetched, "created": 0, "updated": 0,
                                                 "skipped": fetched, "errors": 0}
        for d in ("cycling", "running"):
            assert result["disciplines_summary"][d] == {"pages": sandbox.minimum_pages(d, win, 50),
                                                        "fetched": fetched_by[d], "created": 0, "updated": 0,
                                                        "skipped": fetched_by[d], "errors": 0}
        assert result["report"][-4:] == ["Created: 0", "Updated: 0", f"Skipped: {fetched}", "Errors: 0"]


async def test_dry_run_writes_nothing_and_fetches_no_details(infra: Infra) -> None:
    await _connect(infra)
    async with serve_sandbox() as sandbox, stack(infra, sandbox) as tap:
        done = await run_job(tap, year=2025, month=11, dry_run=True, disciplines="cycling")
        assert done.type == "completed", done.message
        assert sandbox.log("details") == []
        assert (await _rows(infra, "SELECT count(*) AS n FROM peloton_sync.ride_detail"))[0]["n"] == 0
        report = done.detail["result"]["report"]
        assert report[0] == "DRY RUN MODE - no changes will be made"
        would = [line for line in report if line.startswith("  [DRY RUN] Would create: ")]
        # no details: a dry run judges cycling by the list alone (a class only its details call Power
        # Zone is not among them)
        listed_pz = {k for k, v in sandbox.expected("cycling", window(2025, 11)).items() if v in LIST_PZ}
        assert len(would) == len(listed_pz) == done.detail["result"]["created"]
        assert done.detail["result"]["updated"] == 0
        assert "    Would create: " + str(len(listed_pz)) in report


async def test_limit_counts_synced_classes_across_disciplines(infra: Infra) -> None:
    await _connect(infra)
    async with serve_sandbox() as sandbox, stack(infra, sandbox) as tap:
        done = await run_job(tap, year=2025, month=12, limit=7)
        assert done.type == "completed", done.message
        assert (await _rows(infra, "SELECT count(*) AS n FROM peloton_sync.ride_detail"))[0]["n"] == 7
        # cycling first, newest first: details up to the seventh class synced, none after it
        win = window(2025, 12)
        synced, asking = sandbox.synced("cycling", win), sandbox.needing_details("cycling", win)
        asked = stored = 0
        for ride_id in sandbox.expected("cycling", win):
            if stored == 7:
                break
            asked += ride_id in asking
            stored += ride_id in synced
        assert len(sandbox.log("details")) == asked
        assert "Stopped at --limit" in done.detail["result"]["report"]


async def test_no_connection_fails_with_the_seeds_message(infra: Infra) -> None:
    await migrate(infra)
    async with serve_sandbox() as sandbox, stack(infra, sandbox) as tap:
        done = await run_job(tap, year=2025, month=12)
        assert done.type == "failed"
        assert "No active Peloton connection found" in done.message
        other = await run_job(tap, year=2025, month=12, username="nobody")
        assert "No active Peloton connection found for username 'nobody'" in other.message


async def test_expired_and_401_tokens_are_refreshed_once_and_stored(infra: Infra) -> None:
    await _connect(infra, expires_in_s=-10)  # stored as already expired: refreshed before the first call
    async with serve_sandbox() as sandbox, stack(infra, sandbox) as tap, running_status(infra) as status:
        done = await run_job(tap, year=2025, month=12, disciplines="running", limit=3)
        assert done.type == "completed", done.message
        assert sandbox.state.refreshes == 1
        async with httpx.AsyncClient() as http:
            (await http.post(f"{sandbox.url}/_sandbox/expire", json={"username": USER})).raise_for_status()
        again = await run_job(tap, year=2025, month=11, disciplines="running", limit=3)
        assert again.type == "completed", again.message
        assert sandbox.state.refreshes == 2
        assert [e["status"] for e in sandbox.log() if e["path"] != "/oauth/token"].count(401) == 1
        row = (await _rows(infra, "SELECT * FROM peloton_sync.peloton_connection"))[0]
        assert row["is_active"]
        assert row["last_refreshed_at"] is not None
        for token in (DEMO_ACCESS, DEMO_REFRESH):
            assert token not in str(dict(row))
        # nor in what the status API serves about the jobs (the new tokens the refreshes brought too)
        served = []
        for job in (done, again):
            await job_when(status.client, job.job_id, lambda j: j["status"] == "completed")
            served += [(await status.client.get(f"/jobs/{job.job_id}{part}")).text for part in ("", "/events")]
        served.append((await status.client.get("/jobs", params={"service": "peloton-sync"})).text)
        # the demo pair and what the two refreshes issued (used refresh tokens leave the sandbox's list)
        issued = {DEMO_ACCESS, DEMO_REFRESH} | set(sandbox.state.access) | set(sandbox.state.refresh)
        assert len(issued) == 5
        for token in issued:
            assert all(token not in text for text in served)


async def test_a_refused_refresh_deactivates_the_connection_and_fails_clearly(infra: Infra) -> None:
    await _connect(infra)
    async with serve_sandbox() as sandbox, stack(infra, sandbox) as tap:
        async with httpx.AsyncClient() as http:
            for path in ("revoke", "expire"):
                (await http.post(f"{sandbox.url}/_sandbox/{path}", json={"username": USER})).raise_for_status()
        done = await run_job(tap, year=2025, month=12)
        assert done.type == "failed"
        assert done.message.startswith("Failed to get authenticated Peloton client for rider_one: token refresh "
                                       "failed (Peloton answered 401): the token endpoint answered 403")
        # the plan ran (the stored token looked valid): the report says what was done before the stop
        result = done.detail["result"]
        assert result["report"][-1] == f"Stopped: {done.message}"
        assert {k: result[k] for k in COUNTS} == dict.fromkeys(COUNTS, 0)
        row = (await _rows(infra, "SELECT is_active, inactive_reason FROM peloton_sync.peloton_connection"))[0]
        assert row["is_active"] is False
        assert "the token endpoint answered 403" in row["inactive_reason"]
        again = await run_job(tap, year=2025, month=12)
        assert "No active Peloton connection found" in again.message


async def test_429_and_5xx_mid_run_are_waited_out_with_exact_counts(infra: Infra) -> None:
    await _connect(infra)
    win = window(2025, 10)
    async with serve_sandbox() as sandbox, stack(infra, sandbox) as tap:
        async with httpx.AsyncClient() as http:
            await sandbox.faults(http, rate_limit_next=2, retry_after_s=0.5)
        first = await run_job(tap, year=2025, month=10, disciplines="running")
        assert first.type == "completed", first.message
        async with httpx.AsyncClient() as http:
            await sandbox.faults(http, fail_next=2, fail_status=503)
        done = await run_job(tap, year=2025, month=9, disciplines="running")
        assert done.type == "completed", done.message
        statuses = [e["status"] for e in sandbox.log()]
        assert statuses.count(429) == 2
        assert statuses.count(503) == 2
        expected = sandbox.synced("running", win) | sandbox.synced("running", window(2025, 9))
        stored = {r["peloton_ride_id"] for r in await _rows(infra, RIDE_IDS)}
        assert stored == expected
        assert first.detail["result"]["errors"] == 0
        assert done.detail["result"]["errors"] == 0



async def test_delay_spaces_the_jobs_calls(infra: Infra) -> None:
    await _connect(infra)
    async with serve_sandbox() as sandbox, stack(infra, sandbox) as tap:
        done = await run_job(tap, year=2025, month=12, disciplines="running", limit=12, delay=0.1)
        assert done.type == "completed", done.message
        calls = [e["at"] for e in sandbox.log()]
        assert len(calls) >= 14
        # One call per --delay from the job's own bucket (a bucket of one: no bursts). Times are taken as
        # answers leave the sandbox, so one slow answer may bring the next closer; any five calls span
        # at least four delays, give or take that jitter.
        spans = [calls[i + 5] - calls[i] for i in range(len(calls) - 5)]
        assert min(spans) >= 4 * 0.1 * 0.9, spans
        assert calls[-1] - calls[0] >= (len(calls) - 2) * 0.1


async def test_a_429_pauses_the_users_bucket_for_the_whole_fleet(infra: Infra) -> None:
    from ferry.ratelimit import AmqpLimiter

    await _connect(infra)
    async with serve_sandbox() as sandbox, stack(infra, sandbox) as tap:
        async with httpx.AsyncClient() as http:
            await sandbox.faults(http, rate_limit_next=1, retry_after_s=3)
        other = await AmqpLimiter.connect(infra.amqp_url, client="another-replica")
        try:
            job = asyncio.create_task(run_job(tap, year=2025, month=12, disciplines="running", limit=2))
            async with asyncio.timeout(20):
                while 429 not in [e["status"] for e in sandbox.log()]:
                    await asyncio.sleep(0.02)
            limited_at = next(e["at"] for e in sandbox.log() if e["status"] == 429)
            await asyncio.sleep(0.3)  # the worker's report reaches the limiter
            waited = await other.acquire(f"peloton:{USER}")  # another worker of the fleet, same account
            done = await job
        finally:
            await other.close()
        assert done.type == "completed", done.message
        assert waited >= 3 - 0.3 - 0.5, waited
        after = [e["at"] for e in sandbox.log() if e["at"] > limited_at]
        assert min(after) - limited_at >= 3 * 0.9  # the worker itself waited the Retry-After out


async def test_one_class_that_fails_is_counted_the_sync_goes_on_and_a_rerun_gets_it(infra: Infra) -> None:
    await _connect(infra)
    win = window(2025, 10)
    async with serve_sandbox() as sandbox, stack(infra, sandbox) as tap:
        wanted = sandbox.synced("running", win)
        lost = sorted(wanted)[0]
        title = next(r["title"] for i in range(sandbox.state.catalogue.count("running"))
                     if (r := sandbox.state.catalogue.ride("running", i))["id"] == lost)
        async with httpx.AsyncClient() as http:
            await sandbox.faults(http, missing_rides=[lost])
        done = await run_job(tap, year=2025, month=10, disciplines="running")
        assert done.type == "completed", done.message
        result = done.detail["result"]
        assert (result["created"], result["errors"]) == (len(wanted) - 1, 1)
        assert f"  ✗ Error: {title}: Peloton answered 404 for /api/ride/{lost}/details: Ride not found" in (
            result["report"])
        assert result["report"][-1] == "Errors: 1"
        failures = [e for e in tap.events if e.job_id == done.job_id and e.type == "item_failed"]
        assert [e.detail["item"] for e in failures] == [lost]
        assert {r["peloton_ride_id"] for r in await _rows(infra, RIDE_IDS)} == wanted - {lost}

        async with httpx.AsyncClient() as http:
            await sandbox.faults(http, missing_rides=[])
        again = await run_job(tap, year=2025, month=10, disciplines="running")
        assert (again.detail["result"]["created"], again.detail["result"]["errors"]) == (1, 0)
        assert {r["peloton_ride_id"] for r in await _rows(infra, RIDE_IDS)} == wanted


async def test_username_picks_its_connection_else_the_first_active_one(infra: Infra) -> None:
    from ferry_sandbox.peloton import PelotonAccount

    second = PelotonAccount(username="rider_two", email="two@ferry.invalid", access_token="plt_test_access_two",
                            refresh_token="plt_test_refresh_two")
    config = peloton_config()
    config = config.model_copy(update={"accounts": [*config.accounts, second]})
    await _connect(infra)  # rider_one, connected first
    await _connect(infra, username=second.username, email=second.email, access=second.access_token,
                   refresh=second.refresh_token)
    async with serve_sandbox(config) as sandbox, stack(infra, sandbox) as tap:

        async def used(**options: object) -> str:
            done = await run_job(tap, year=2025, month=12, disciplines="running", limit=1, dry_run=True, **options)
            assert done.type == "completed", done.message
            return str(done.detail["result"]["report"][1])

        assert await used() == "Using connection for user: rider@ferry.invalid"
        assert await used(username="rider_two") == "Using connection for user: two@ferry.invalid"
        conn = await asyncpg.connect(infra.database_url)
        try:
            await conn.execute("UPDATE peloton_sync.peloton_connection SET is_active = false WHERE username = $1", USER)
        finally:
            await conn.close()
        assert await used() == "Using connection for user: two@ferry.invalid"
        refused = await run_job(tap, year=2025, month=12, username=USER)
        assert refused.type == "failed"
        assert "No active Peloton connection found for username 'rider_one'" in refused.message
