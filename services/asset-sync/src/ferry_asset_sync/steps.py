"""A pull-and-clean job as plain async steps (no broker needed to call them):

    plan     select the assets (the registry's filters and order), snapshot them in `job_assets`,
             cut them into batches of --batch-size; the first `batch` step
    batch    once the previous batch's pulls are over, wait 2 x --delay (two slots of the job's
             bucket), then one `pull` step per asset of the batch, for any replica to take. With
             --delay 0 there is no pause to keep: the step queues the next batch step first, then
             its pulls. Steps are taken in the order they were queued, so the next batch step runs at
             once and queues its pulls right behind these, and its own next step waits behind these
             pulls: the pulls of about two batches are queued ahead of the cleans, and the replicas
             never idle through a batch's last pulls and cleans (the original command, likewise,
             queued its batches without waiting for their tasks).
    pull     mark the asset PENDING ("Starting to sync..."), pull it, write what it found; a
             `clean` step when its README changed (or its cleaning is not OK yet)
    clean    clean the README and write it (cleaning_status OK, or ERROR with the reason)

Each asset's outcome is set once, in the transaction of the step that finished it (it commits with
the step's checkpoint), and counted off its batch when its pull is over; `starts_next` says which
count-off starts the next batch.
No step writes a count into the job's data (steps run in parallel): `summary`, called once when the
job ends, counts from `job_assets`, exact whatever replicas ran the steps, crashed or were redelivered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg

from ferry.contracts.asset_sync import PullAndCleanOptions, SyncStatus
from ferry.db import Conn, schema_name
from ferry.jobs.store import JobStore
from ferry_asset_sync import SERVICE, assets, cleaning, variables
from ferry_asset_sync.assets import AssetTable, BatchLeft
from ferry_asset_sync.errors import AssetError, CleaningError
from ferry_asset_sync.github import paced
from ferry_asset_sync.links import InternalLinks
from ferry_asset_sync.models import AnyStep, AssetData, BatchStep, CleanStep, PullStep
from ferry_asset_sync.pull import STARTING, pull
from ferry_asset_sync.resources import Resources
from ferry_asset_sync.settings import AssetSyncSettings

DRY_RUN_LISTED = 1000
"""A dry run lists at most this many assets in its result (the count is always exact)."""


@dataclass
class Outcome:
    """What one step did (the job runtime's result, without its types)."""

    succeeded: int = 0
    failed: int = 0
    skipped: int = 0
    total: int | None = None
    children: list[AnyStep] = field(default_factory=list)
    data: AssetData | None = None
    """Only the plan sets it (the selection); None leaves the job's data as it is."""
    message: str = ""
    failures: list[tuple[str, str]] = field(default_factory=list)  # (slug, message)


def job_key(job_id: UUID) -> str:
    return f"job:{job_id}"


def starts_next(left: BatchLeft, delay: float) -> bool:
    """Whether this count-off starts the next batch: with --delay, when the batch's last pull is over
    (the next batch step then waits 2 x delay, the seed's pause between batches, after the batch's
    last call). With --delay 0 there is no pause to keep and the batch step itself queues the next
    one (`AssetSync.batch`)."""
    return delay > 0 and left.remaining == 0


def summary_line(data: AssetData) -> str:
    """The job's closing line, from its summary data."""
    if data.dry_run:
        return f"DRY RUN MODE - {data.found or 0} assets would be processed; nothing was changed"
    if not data.found:
        return "No assets found to process"
    return (f"Processed {data.found} assets: {data.pulled or 0} pulled, {data.unchanged or 0} "
            f"unchanged, {data.cleaned or 0} cleaned, {data.failed or 0} failed, "
            f"{data.skipped or 0} skipped in {data.duration_s or 0:.1f}s")


class AssetSync:
    """The steps of `asset-sync.pull-and-clean`; resources come from the service."""

    def __init__(self, settings: AssetSyncSettings, pool: asyncpg.Pool, resources: Resources) -> None:
        self.settings, self.pool, self.resources = settings, pool, resources
        self.schema = schema_name(SERVICE)
        self.jobs = JobStore(SERVICE)
        self._table: AssetTable | None = None

    async def table(self, conn: Conn, *, fresh: bool = False) -> AssetTable:
        if self._table is None or fresh:
            self._table = await AssetTable.load(conn, self.settings.table_sql, self.settings.asset_sync_table)
        return self._table

    async def _batch_pause(self, job_id: UUID, options: PullAndCleanOptions) -> None:
        """Two slots of the job's bucket (--delay apart, fleet-wide): the seed's 2 x delay between batches."""
        if options.delay <= 0:
            return
        limiter = await self.resources.limiter()
        await limiter.acquire(job_key(job_id), 2, rate=1.0 / options.delay, burst=1,
                              max_wait_s=self.settings.asset_sync_max_inline_wait_s + 2 * options.delay)

    # -- plan ---------------------------------------------------------------------------------------
    async def plan(self, conn: Conn, job_id: UUID, options: PullAndCleanOptions) -> Outcome:
        table = await self.table(conn, fresh=True)
        selected = await table.select(conn, options, datetime.now(UTC))
        found = len(selected)
        lines = [f"Found {found} assets to process"]
        if options.dry_run:
            lines.insert(0, "DRY RUN MODE - no asset will be pulled or cleaned")
            lines += [f"  - {slug}" for _, slug in selected[:DRY_RUN_LISTED]]
            data = AssetData(dry_run=True, found=found, assets=[s for _, s in selected[:DRY_RUN_LISTED]],
                             report=lines)
            return Outcome(total=found, skipped=found, data=data, message="; ".join(lines[:2]))
        if not found:
            data = AssetData(found=0, report=["No assets found to process"])
            return Outcome(total=0, data=data, message="No assets found to process")
        batches = await assets.snapshot(conn, self.schema, job_id, selected, options.batch_size)
        if options.delay > 0:  # make the job's bucket now, so its first grant is as prompt as the others
            limiter = await self.resources.limiter()
            await limiter.acquire(job_key(job_id), 0, rate=1.0 / options.delay, burst=1)
        data = AssetData(found=found, batches=batches, batch_size=options.batch_size, delay=options.delay)
        return Outcome(total=found, data=data, children=[BatchStep(batch=0)],
                       message=f"Found {found} assets to process, in {batches} batches of up to {options.batch_size}")

    # -- one batch ----------------------------------------------------------------------------------
    async def batch(self, conn: Conn, job_id: UUID, options: PullAndCleanOptions, number: int,
                    batches: int) -> Outcome:
        if number > 0:
            await self._batch_pause(job_id, options)
        members = await assets.batch_assets(conn, self.schema, job_id, number)
        first, last = members[0][2] + 1, members[-1][2] + 1
        ahead: list[AnyStep] = [BatchStep(batch=number + 1)] if options.delay <= 0 and number + 1 < batches else []
        return Outcome(children=[*ahead, *(PullStep(asset_id=a) for a, _, _ in members)],
                       message=f"Processing batch {number + 1}/{batches}: assets {first}-{last} ({len(members)})")

    # -- one asset ----------------------------------------------------------------------------------
    async def pull(self, conn: Conn, job_id: UUID, options: PullAndCleanOptions, asset_id: int) -> Outcome:
        row = await assets.lock_job_asset(conn, self.schema, job_id, asset_id)
        if row is None or row["done_at"] is not None or row["pulled"] is not None:
            return Outcome(message=f"asset {asset_id} already processed")
        slug = str(row["slug"])
        table = await self.table(conn)
        async with self.pool.acquire() as marker:  # committed at once, so it shows while the pull runs
            await table.update(marker, asset_id, {"sync_status": SyncStatus.PENDING.value, "status_text": STARTING})
        asset = await table.get(conn, asset_id)
        if asset is None:
            return await self._pulled(conn, job_id, asset_id, Outcome(
                skipped=1, message=f"{slug}: deleted since the job started"), options.delay, pulled="skipped")
        state = await assets.get_state(conn, self.schema, asset_id)
        access = await self.resources.access()
        try:
            with paced(job_key(job_id), options.delay, self.settings.asset_sync_max_inline_wait_s):
                found = await pull(asset, state, access, override=options.force, now=datetime.now(UTC))
        except AssetError as exc:
            await table.update(conn, asset_id, {"sync_status": SyncStatus.ERROR.value, "status_text": str(exc)})
            return await self._pulled(conn, job_id, asset_id, Outcome(
                failed=1, failures=[(slug, f"{slug}: {exc}")], message=f"✗ {slug}: {exc}"),
                options.delay, pulled="failed", note=str(exc))
        updates = found.updates
        note = ""
        if "slug" in updates and (updates["slug"] == slug or await table.slug_taken(conn, updates["slug"], asset_id)):
            if updates["slug"] != slug:
                note = f" (front matter slug {updates['slug']!r} is taken: kept {slug!r})"
            updates.pop("slug")
        await table.update(conn, asset_id, updates)
        if found.state is not None:
            await assets.put_state(conn, self.schema, asset_id, found.state)
        if found.outcome == "skipped":
            return await self._pulled(conn, job_id, asset_id, Outcome(skipped=1, message=found.message),
                                      options.delay, pulled="skipped")
        if found.needs_clean:
            return await self._pulled(conn, job_id, asset_id, Outcome(
                children=[CleanStep(asset_id=asset_id)], message=f"✓ {found.message}{note}"),
                options.delay, pulled=found.outcome, done=False)
        done = Outcome(succeeded=1, message=f"✓ {found.message}{note}")
        return await self._pulled(conn, job_id, asset_id, done, options.delay, pulled=found.outcome)

    async def clean(self, conn: Conn, job_id: UUID, asset_id: int) -> Outcome:
        row = await assets.lock_job_asset(conn, self.schema, job_id, asset_id)
        if row is None or row["done_at"] is not None:
            return Outcome(message=f"asset {asset_id} already processed")
        slug = str(row["slug"])
        table = await self.table(conn)
        asset = await table.get(conn, asset_id, lock=True)
        if asset is None or not asset.get("readme_raw"):
            return await self._finish_asset(conn, job_id, asset_id, Outcome(
                succeeded=1, message=f"✓ {slug}: nothing to clean"), cleaned="skipped")
        now = datetime.now(UTC)
        try:
            known = await variables.for_lang(conn, self.schema, asset.get("lang"))
            cleaned = cleaning.clean(str(asset["readme_raw"]), str(asset["readme_url"]), known, self._links(asset))
            html = cleaning.render_html(cleaned.text)
        except CleaningError as exc:
            await table.update(conn, asset_id, {"cleaning_status": SyncStatus.ERROR.value,
                                                "cleaning_status_details": str(exc), "last_cleaning_at": now})
            return await self._finish_asset(conn, job_id, asset_id, Outcome(
                failed=1, failures=[(slug, f"{slug}: cleaning failed: {exc}")], message=f"✗ {slug}: {exc}"),
                cleaned="failed", note=str(exc))
        await table.update(conn, asset_id, {"readme": cleaned.text, "html": html,
                                            "cleaning_status": SyncStatus.OK.value, "cleaning_status_details": None,
                                            "last_cleaning_at": now})
        missing = "".join(f" (content variable {name} is missing and has no default value)"
                          for name in cleaned.missing_variables)
        return await self._finish_asset(conn, job_id, asset_id, Outcome(
            succeeded=1, message=f"✓ {slug}: cleaned{missing}"), cleaned="cleaned", note=missing.strip() or None)

    def _links(self, asset: dict[str, Any]) -> InternalLinks | None:
        """Where this asset's private files are linked to: only with an internal-link URL set and an
        asset that has an owner (the registry's rule)."""
        url = self.settings.asset_sync_internal_link_url
        if url is None or not asset.get("owner_key"):
            return None
        return InternalLinks(url, int(asset["id"]), str(asset["readme_url"]))

    # -- counting off -------------------------------------------------------------------------------
    async def _pulled(self, conn: Conn, job_id: UUID, asset_id: int, outcome: Outcome, delay: float, *,
                      pulled: str, done: bool = True, note: str | None = None) -> Outcome:
        """Record how the pull went and count the asset off its batch (its GitHub calls are over);
        `done`: nothing follows (no clean). The count-off that `starts_next` picks starts the next batch."""
        left = await assets.record(conn, self.schema, job_id, asset_id, pulled=pulled, message=note, done=done,
                                   count_off=True)
        if left is not None and starts_next(left, delay) and await assets.has_batch(
                conn, self.schema, job_id, left.batch + 1):
            outcome.children.append(BatchStep(batch=left.batch + 1))
        return await self._progress(conn, job_id, outcome) if done else outcome

    async def _finish_asset(self, conn: Conn, job_id: UUID, asset_id: int, outcome: Outcome, *,
                            cleaned: str, note: str | None = None) -> Outcome:
        """A cleaned (or failed, or skipped) asset is finished; it was counted off when its pull ended."""
        await assets.record(conn, self.schema, job_id, asset_id, cleaned=cleaned, message=note, done=True)
        return await self._progress(conn, job_id, outcome)

    async def _progress(self, conn: Conn, job_id: UUID, outcome: Outcome) -> Outcome:
        done, total = await assets.finished_one(conn, self.schema, job_id)
        if done % 5 == 0 or done == total:
            outcome.message += f" - Progress: {done}/{total} assets processed"
        return outcome

    async def summary(self, conn: Conn, job_id: UUID, data: AssetData, *, report: bool = True) -> AssetData:
        """The job's data with its counts (and, with `report`, the command's output), counted from its
        snapshot: once, when the job ends."""
        if data.dry_run:
            return data
        counts = await assets.counts(conn, self.schema, job_id)
        job = await self.jobs.get(conn, job_id)
        started = (job["started_at"] or job["created_at"]) if job is not None else None
        duration = round((datetime.now(UTC) - started).total_seconds(), 3) if started is not None else 0.0
        counted = data.model_copy(update={**counts, "found": data.found or counts["found"], "duration_s": duration})
        if not report:
            return counted
        if not counted.found:
            return counted.model_copy(update={"report": ["No assets found to process"]})
        lines = [f"Found {counted.found} assets to process", summary_line(counted)]
        lines += [f"  ✗ {slug}: {message}" for slug, message in await assets.failures(conn, self.schema, job_id)]
        lines.append(f"Total processing time: {duration:.2f} seconds")
        return counted.model_copy(update={"report": lines})
