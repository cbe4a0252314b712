"""telemetry-janitor clear, run by ferry's job runtime on the real broker and database (tests/janitor/in_process.py)."""

from __future__ import annotations

import math
from itertools import pairwise
from typing import Any

import asyncpg
import pytest

from ferry.contracts import ClearOptions, WebhookStatus
from ferry.db import Conn
from ferry_telemetry_janitor.jobs import ClearJob
from tests.janitor.conftest import TABLE, counts, seed, settings
from tests.janitor.in_process import InProcessJanitor

STATUSES = ("PENDING", "DONE", "IGNORED", "ERROR")
ROWS = 10_000  # shares 40/30/20/10 %: exactly 4,000 / 3,000 / 2,000 / 1,000


@pytest.mark.parametrize("method", ["single", "batched"])
async def test_each_status_and_all_delete_exactly_their_rows(
    database_url: str, db: Conn, method: str, janitor: InProcessJanitor
) -> None:
    # At the assumed speed, a 100 ms lock bound makes the automatic choice batch anything over 2,500
    # rows (the 3,000 ERROR rows of 30,000 included). A smaller bound would do, but under load its
    # batches shrink to a row or two (a statement's own latency eats a 2.5 ms target) and the test crawls.
    job = ClearJob(settings(database_url, janitor_max_lock_ms=10_000 if method == "single" else 100))
    for status in [*STATUSES, "ALL"]:
        await db.execute(f"TRUNCATE {TABLE} RESTART IDENTITY")
        # Forget the delete speed measured by the previous round, so the choice rests on the default.
        await db.execute("DELETE FROM telemetry_janitor.delete_rates")
        await seed(db, 3 * ROWS)
        before = await counts(db)
        run = await janitor.run_job(job, ClearOptions(status=WebhookStatus(status), batch_size=150))
        after = await counts(db)
        expected = {s: 0 if status in (s, "ALL") else n for s, n in before.items()}
        assert after == expected, status
        deleted = sum(before.values()) - sum(after.values())
        assert run.data["method"] == method, run.data["method_reason"]
        assert "(assumed)" in run.data["method_reason"]
        assert (run.total, run.succeeded, run.skipped, run.data["deleted"]) == (deleted, deleted, 0, deleted)
        assert run.messages[0] == f"Found {deleted:,} LearnPackWebhook records with status '{status}'"
        assert run.summary == f"Successfully deleted {deleted:,} LearnPackWebhook records with status '{status}'"
        if method == "batched":
            assert run.data["batches"] >= 2
            assert run.messages[-1] == f"Deleted {deleted:,}/{deleted:,} records (100.0%) - Remaining: 0"
        else:
            assert run.messages[1] == f"Deleted {deleted:,} records using raw SQL"
    # The last round measured this table's delete speed: the next choice rests on it.
    assert await db.fetchval("SELECT rows_per_s FROM telemetry_janitor.delete_rates") > 0
    await seed(db, 100, pending=1.0, done=0, ignored=0)
    run = await janitor.run_job(job, ClearOptions())
    assert "(measured)" in run.data["method_reason"]


async def test_dry_run_deletes_nothing_and_reports_what_it_found(
    database_url: str, db: Conn, janitor: InProcessJanitor
) -> None:
    await seed(db, ROWS)
    before = await counts(db)
    job = ClearJob(settings(database_url))
    run = await janitor.run_job(job, ClearOptions(status=WebhookStatus.ERROR, dry_run=True))
    assert await counts(db) == before
    assert run.messages == ["Found 1,000 LearnPackWebhook records with status 'ERROR'"]
    assert run.summary == "DRY RUN MODE - No records will be deleted"
    assert (run.total, run.processed, run.data["found"], run.data["dry_run"]) == (1000, 0, 1000, True)
    assert len(run.payloads) == 1  # the plan only: no delete step was ever created


async def test_status_summary_and_nothing_found(database_url: str, db: Conn, janitor: InProcessJanitor) -> None:
    await seed(db, ROWS, pending=0.0, done=0.5, ignored=0.25)
    job = ClearJob(settings(database_url))
    run = await janitor.run_job(job, ClearOptions(status=WebhookStatus.PENDING))
    assert run.messages == ["No LearnPackWebhook records found with status 'PENDING'"]
    assert run.summary == "No LearnPackWebhook records found with status 'PENDING'"
    assert run.data["status_summary"] == {"DONE": 5000, "ERROR": 2500, "IGNORED": 2500}
    assert (run.total, run.processed) == (0, 0)

    shown = await janitor.run_job(job, ClearOptions(status=WebhookStatus.ERROR, dry_run=True, show_summary=True))
    assert shown.data["status_summary"] == {"DONE": 5000, "ERROR": 2500, "IGNORED": 2500}
    plain = await janitor.run_job(job, ClearOptions(status=WebhookStatus.ERROR, dry_run=True))
    assert "status_summary" not in plain.data


async def test_up_to_id_pins_the_rows_and_newer_rows_survive(
    database_url: str, db: Conn, janitor: InProcessJanitor
) -> None:
    # 10,000 rows under a 100 ms bound: batched (over 2,500 rows at the assumed speed), in batches
    # big enough that a busy machine does not turn the job into thousands of one-row steps.
    await seed(db, 10_000, pending=1.0, done=0, ignored=0)
    job = ClearJob(settings(database_url, janitor_max_lock_ms=100))
    run = await janitor.run_job(job, ClearOptions(up_to_id=6_000, batch_size=100))
    assert (run.succeeded, run.data["method"]) == (6_000, "batched")
    assert await db.fetchval(f"SELECT min(id) FROM {TABLE}") == 6_001

    async def new_rows_arrive(conn: Conn, step_no: int, payload: dict[str, Any], attempt: int) -> None:
        if step_no == 1:  # after the plan pinned the newest id, before anything was deleted
            await seed(conn, 50, pending=1.0, done=0, ignored=0)

    # The first run measured this table's delete speed; forget it, so the second run's choice rests
    # on the assumed speed again (on a quiet machine the measured one picks a single statement).
    await db.execute("DELETE FROM telemetry_janitor.delete_rates")
    run = await janitor.run_job(job, ClearOptions(batch_size=100), hook=new_rows_arrive)
    assert (run.data["up_to_id"], run.data["method"]) == (10_000, "batched")
    assert (run.total, run.succeeded) == (4_000, 4_000)
    assert await db.fetchval(f"SELECT count(*) FROM {TABLE} WHERE id > 10000 AND status = 'PENDING'") == 50
    assert await db.fetchval(f"SELECT count(*) FROM {TABLE}") == 50


async def test_batches_grow_while_they_are_fast(database_url: str, db: Conn, janitor: InProcessJanitor) -> None:
    await seed(db, 30_000, pending=0.5, done=0.5, ignored=0)
    bound = 150
    job = ClearJob(settings(database_url, janitor_max_lock_ms=bound))
    run = await janitor.run_job(job, ClearOptions(batch_size=200))
    assert (run.succeeded, run.data["method"]) == (15_000, "batched")
    spans = [p["span"] for p in run.payloads[1:]]  # ids walked per batch (half of them PENDING)
    assert spans[0] == 400  # --batch-size 200 matching rows
    assert all(b <= 2 * a for a, b in pairwise(spans)), spans  # at most x2 per step
    assert max(spans) >= 8 * 400, spans  # it grew: 15,000 rows in far fewer than 75 batches
    assert run.data["batches"] == len(spans) < 15_000 // 200
    assert run.data["longest_batch_ms"] <= bound


async def test_slow_deletes_shrink_the_batches_under_the_lock_bound(
    database_url: str, db: Conn, janitor: InProcessJanitor
) -> None:
    await seed(db, 3_000, pending=0.5, done=0.5, ignored=0)
    # Every deleted row costs ~1 ms (say, a trigger on the application's table): 200 rows take ~200 ms.
    await db.execute(
        "CREATE FUNCTION slow_delete() RETURNS trigger LANGUAGE plpgsql AS"
        " $$ BEGIN PERFORM pg_sleep(0.0005); RETURN OLD; END $$;"
        f" CREATE TRIGGER slow BEFORE DELETE ON {TABLE} FOR EACH ROW EXECUTE FUNCTION slow_delete()"
    )
    bound = 100
    pending = (await counts(db))["PENDING"]
    job = ClearJob(settings(database_url, janitor_max_lock_ms=bound))
    run = await janitor.run_job(job, ClearOptions(batch_size=200))
    assert (run.succeeded, run.total, (await counts(db))["PENDING"]) == (pending, pending, 0)
    # 1,500 rows at the assumed speed looked like one quick statement: it was cut at the bound ...
    assert run.messages[1] == (
        "Single DELETE failed (QueryCanceledError: canceling statement due to statement timeout); "
        "falling back to batches of 200"
    )
    # ... and so was the first batch (200 rows): cancelled at 80 ms, then 4x smaller.
    spans = [p["span"] for p in run.payloads[2:]]
    assert spans[0] == math.ceil(200 * 3_000 / pending)  # ~200 matching rows among the ids walked
    assert run.messages[2].startswith(f"Batch of {spans[0]} ids cancelled (QueryCanceledError"), run.messages[2]
    assert spans[1] == spans[0] // 4
    assert max(spans[2:]) < spans[0], spans
    assert run.data["longest_batch_ms"] <= bound
    assert max(run.transaction_ms[1:]) <= bound, run.transaction_ms  # every delete transaction, commit included


async def test_single_statement_blocked_by_a_lock_falls_back_to_batches(
    database_url: str, db: Conn, janitor: InProcessJanitor
) -> None:
    await seed(db, ROWS)
    locker = await asyncpg.connect(database_url)
    held = locker.transaction()
    await held.start()
    await locker.execute(f"SELECT 1 FROM {TABLE} WHERE status = 'ERROR' ORDER BY id LIMIT 1 FOR UPDATE")

    async def release_on_retry(conn: Conn, step_no: int, payload: dict[str, Any], attempt: int) -> None:
        if attempt == 2:  # the first batch met the lock too and asked to be retried
            await held.rollback()

    try:
        job = ClearJob(settings(database_url, janitor_max_lock_ms=100))
        options = ClearOptions(status=WebhookStatus.ERROR, use_cursor=True)
        run = await janitor.run_job(job, options, hook=release_on_retry)
    finally:
        await locker.close()
    assert [p["kind"] for p in run.payloads] == ["plan", "single", "batch"]
    assert run.messages[1].startswith("Single DELETE failed (LockNotAvailableError")
    assert run.messages[1].endswith("falling back to batches of 10,000")
    assert run.retries == 1
    assert (run.data["method"], run.succeeded, run.total) == ("batched", 1000, 1000)
    assert "LockNotAvailableError" in run.data["fallback"]
    assert (await counts(db))["ERROR"] == 0


async def test_a_forced_single_statement_stops_below_the_step_timeout_and_falls_back(
    database_url: str, db: Conn, janitor: InProcessJanitor
) -> None:
    # --use-cursor forces one DELETE; it may run for half of FERRY_STEP_TIMEOUT_S (here 2 ms), so
    # the delivery is never held past its bound: the statement is cancelled and batches take over.
    await seed(db, 20_000)
    job = ClearJob(settings(database_url, step_timeout_s=0.004))
    run = await janitor.run_job(job, ClearOptions(use_cursor=True))
    assert "QueryCanceledError" in run.data["fallback"]
    assert (run.data["method"], run.succeeded, run.failed) == ("batched", 8_000, 0)
    assert (await counts(db))["PENDING"] == 0
    assert run.summary == "Successfully deleted 8,000 LearnPackWebhook records with status 'PENDING'"


async def test_rows_gone_before_their_batch_are_reported_as_skipped(
    database_url: str, db: Conn, janitor: InProcessJanitor
) -> None:
    await seed(db, 10_000, pending=1.0, done=0, ignored=0)

    async def someone_else_deletes(conn: Conn, step_no: int, payload: dict[str, Any], attempt: int) -> None:
        if step_no == 1:
            await conn.execute(f"DELETE FROM {TABLE} WHERE id > 9000")

    job = ClearJob(settings(database_url, janitor_max_lock_ms=100))  # batched, as the test above says why
    run = await janitor.run_job(job, ClearOptions(batch_size=100), hook=someone_else_deletes)
    assert run.data["method"] == "batched"
    assert (run.total, run.succeeded, run.skipped, run.processed) == (10_000, 9_000, 1_000, 10_000)
    assert run.summary.endswith("(1,000 counted rows were already gone)")


async def test_a_one_row_batch_cancelled_at_the_bound_is_retried_not_failed(
    database_url: str, db: Conn, janitor: InProcessJanitor
) -> None:
    # While the database is "busy" every row takes 50 ms to delete, far past a 10 ms bound: batches
    # shrink to one row, which is tried again and then parked; once it is quiet, the job finishes.
    await seed(db, 20, pending=1.0, done=0, ignored=0)
    await db.execute(
        "CREATE TABLE busy (on_ boolean); INSERT INTO busy VALUES (true);"
        " CREATE FUNCTION busy_delete() RETURNS trigger LANGUAGE plpgsql AS"
        " $$ BEGIN IF (SELECT on_ FROM busy) THEN PERFORM pg_sleep(0.05); END IF; RETURN OLD; END $$;"
        f" CREATE TRIGGER busy BEFORE DELETE ON {TABLE} FOR EACH ROW EXECUTE FUNCTION busy_delete()"
    )

    async def quiet_after_the_park(conn: Conn, step_no: int, payload: dict[str, Any], attempt: int) -> None:
        if attempt == 2:
            await conn.execute("UPDATE busy SET on_ = false")

    job = ClearJob(settings(database_url, janitor_max_lock_ms=10))
    run = await janitor.run_job(job, ClearOptions(batch_size=100), hook=quiet_after_the_park)
    assert (run.status, run.error) == ("completed", None)
    assert (run.succeeded, run.failed, (await counts(db))["PENDING"]) == (20, 0, 0)
    assert run.retries == 1
    assert not [m for m in run.messages if m.startswith("Batch of 1 ids cancelled")]  # parked, never "shrunk"
    assert [p["span"] for p in run.payloads if p["kind"] == "batch"][:4] == [100, 25, 6, 1]
