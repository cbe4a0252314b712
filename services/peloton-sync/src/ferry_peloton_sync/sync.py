"""One page of one discipline's archived list, synced: the plain-async core of `sync-class-library`.

For each class of the page inside the date window (newest first): a class already in the library (by
`peloton_ride_id`), or passed over by an earlier sync, is skipped before any details request;
warm-ups and cool-downs are skipped; every other class has its details fetched and is stored (with
instructor, class types and playlist), except a cycling class neither the list nor its details call
Power Zone, which is skipped and remembered as passed over. A dry run stops before the details and
writes nothing: it judges cycling classes by the list alone. One class's error is counted and the
page goes on. Every `PROGRESS_EVERY` classes of a discipline, a progress line joins the report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import asyncpg

from ferry.db import Conn
from ferry_peloton_sync import report, store
from ferry_peloton_sync.client import Pace, PelotonClient
from ferry_peloton_sync.connections import Session
from ferry_peloton_sync.errors import PelotonHTTPError, PelotonUnavailable
from ferry_peloton_sync.paging import Seen, next_page
from ferry_peloton_sync.rules import CHECK_DETAILS, NOT_POWER_ZONE, Window, aired_at, is_power_zone, list_verdict
from ferry_peloton_sync.store import Tally

PROGRESS_EVERY = 10


@dataclass
class ClassError:
    ride_id: str
    title: str
    message: str


@dataclass
class PageDone:
    """What one page did, and where the listing goes next."""

    tally: Tally
    lines: list[str]
    errors: list[ClassError]
    seen: list[Seen]
    page_count: int
    next_page: int | None
    limit_reached: bool = False
    would_create: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PageJob:
    """Which page to sync, and how."""

    job_id: UUID
    discipline: str
    page: int
    seen: list[Seen]
    window: Window
    page_limit: int
    dry_run: bool = False
    room: int | None = None
    """How many more classes this job may sync (--limit minus those synced already); None: no limit."""
    pace: Pace | None = None
    before: Tally = field(default_factory=Tally)
    """The discipline's counts from its earlier pages (a discipline's pages run one after the other)."""


async def sync_page(
    client: PelotonClient, session: Session, conn: Conn, job: PageJob,
    on_progress: Callable[[str], None] = lambda _m: None, pool: asyncpg.Pool | None = None,
) -> PageDone:
    """Sync one page through `conn` (the step's transaction); `pool` commits the page's instructors and
    class types at once, apart from it (see `store.save_reference`)."""
    body = await client.archived(session, job.discipline, job.page, job.page_limit, job.pace)
    rides: list[dict[str, Any]] = [r for r in body.get("data") or [] if isinstance(r, dict) and r.get("id")]
    page_count = int(body.get("page_count") or 0)
    type_names = {str(t.get("id")): str(t.get("name") or "") for t in body.get("class_types") or []}
    seen = list(job.seen)
    if rides:
        seen.append(Seen(job.page, len(rides), aired_at(rides[0]), aired_at(rides[-1])))
    tally, lines, errors = Tally(pages=1), [], []
    if not job.dry_run:
        instructors, types = list(body.get("instructors") or []), list(body.get("class_types") or [])
        if pool is not None:
            async with pool.acquire() as own, own.transaction():
                await store.save_reference(own, instructors, types)
        else:
            await store.save_reference(conn, instructors, types)
    inside = [r for r in rides if job.window.contains(aired_at(r))]
    tally.fetched = len(inside)
    known = await store.known_rides(conn, [str(r["id"]) for r in inside]) if inside else set()
    limit_reached = False
    for n, ride in enumerate(inside, start=1):
        if job.room is not None and tally.synced >= job.room:
            limit_reached = True
            tally.fetched -= len(inside) - n + 1  # not looked at: not counted as fetched
            break
        title = str(ride.get("title") or ride["id"])
        verdict = None if str(ride["id"]) in known else list_verdict(job.discipline, ride, type_names)
        if str(ride["id"]) in known or (verdict is not None and (verdict != CHECK_DETAILS or job.dry_run)):
            tally.skipped += 1
        elif job.dry_run:
            tally.created += 1
            lines.append(f"  [DRY RUN] Would create: {title}")
        else:
            outcome = await _sync_one(client, session, conn, job, ride, check_power_zone=verdict == CHECK_DETAILS)
            if isinstance(outcome, ClassError):
                tally.errors += 1
                errors.append(outcome)
                lines.append(f"  ✗ Error: {title}: {outcome.message}")
            elif outcome is None:
                tally.skipped += 1
            elif outcome:
                tally.created += 1
                lines.append(f"  ✓ Created: {title}")
            else:
                tally.updated += 1
                lines.append(f"  ↻ Updated: {title}")
        so_far = job.before.plus(tally, fetched=n)
        if so_far.fetched % PROGRESS_EVERY == 0:
            lines.append(report.progress_line(so_far, dry_run=job.dry_run))
        # what the step's heartbeat events say while the page runs (the report keeps every 10th)
        on_progress(f"{job.discipline.upper()}: {so_far.fetched} classes processed (page {job.page}: {n} of "
                    f"{len(inside)})")
    if job.room is not None and tally.synced >= job.room:
        limit_reached = True
    following = None if limit_reached or not rides else next_page(job.window, seen, page_count, job.page_limit)
    return PageDone(tally, lines, errors, seen, page_count, following, limit_reached)


async def _sync_one(
    client: PelotonClient, session: Session, conn: Conn, job: PageJob, ride: dict[str, Any], *,
    check_power_zone: bool = False,
) -> bool | ClassError | None:
    """Fetch a class's details and store it: True if created, False if it existed (updated), None if
    `check_power_zone` and its details do not say Power Zone either (passed over, not stored)."""
    ride_id, title = str(ride["id"]), str(ride.get("title") or ride["id"])
    try:
        details = await client.details(session, ride_id, job.pace)
    except (PelotonHTTPError, PelotonUnavailable) as exc:
        return ClassError(ride_id, title, str(exc))
    if not isinstance(details, dict):
        return ClassError(ride_id, title, "the details answer is not an object")
    if check_power_zone and not is_power_zone(ride, details):
        await store.pass_over(conn, ride_id, job.discipline, NOT_POWER_ZONE)
        return None
    try:
        async with conn.transaction():  # a savepoint: one class's bad data fails that class only
            return await store.save_ride(conn, ride, details)
    except (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError) as exc:
        return ClassError(ride_id, title, f"cannot store it: {exc}")
