"""`sync-class-library` as plain async functions over a step's connection, whatever the job API.

    plan   pick the connection (the seed's "No active Peloton connection found" when none), the
           window; one `page` step per discipline at page 0 (disciplines run side by side; with
           --limit one after the other, so the limit counts exactly)
    page   sync one page (`sync.sync_page`); its next page of the same discipline, if any, as a child
    end    the report in the seed's words from the job's tallies

The handler module adapts these to the job runtime.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from ferry.contracts.peloton_sync import SyncClassLibraryOptions
from ferry.db import Conn
from ferry_peloton_sync import report, store
from ferry_peloton_sync.client import Pace
from ferry_peloton_sync.errors import PelotonHTTPError, PelotonUnavailable
from ferry_peloton_sync.paging import Seen
from ferry_peloton_sync.resources import Resources
from ferry_peloton_sync.rules import window
from ferry_peloton_sync.sync import ClassError, PageJob, sync_page

LISTING_ATTEMPTS = 3
"""A page Peloton keeps failing (after the client's own retries) is retried by the job this often."""


@dataclass
class Outcome:
    succeeded: int = 0
    failed: int = 0
    skipped: int = 0
    add_total: int = 0
    children: list[dict[str, Any]] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    message: str = ""
    errors: list[ClassError] = field(default_factory=list)


class ListingUnavailable(Exception):
    """Peloton failed a listing page; retry the step later (`attempt` tells how often it was tried)."""


def page_payload(discipline: str, page: int, seen: list[Seen]) -> dict[str, Any]:
    return {"kind": "page", "discipline": discipline, "page": page,
            "seen": [[s.page, s.count, s.newest, s.oldest] for s in seen]}


def _pace(job_id: UUID, options: SyncClassLibraryOptions) -> Pace | None:
    return Pace(f"job:{job_id}", options.delay) if options.delay > 0 else None


async def plan(resources: Resources, conn: Conn, job_id: UUID, options: SyncClassLibraryOptions) -> Outcome:
    client = await resources.client()
    session = await client.auth.session(options.username)  # NoConnection / AuthFailed: the job fails
    disciplines = options.discipline_list
    await store.start_job(conn, job_id, disciplines)
    win = window(options.year, options.month)
    first = disciplines[:1] if options.limit is not None else disciplines
    data = {"connection": session.label, "username": session.username, "window": win.label,
            "disciplines": disciplines, "dry_run": options.dry_run}
    message = f"Using connection for user: {session.label}; {win.label}"
    if options.dry_run:
        message = "DRY RUN MODE - no changes will be made. " + message
    return Outcome(children=[page_payload(d, 0, []) for d in first], data=data, message=message)


async def page(
    resources: Resources, conn: Conn, job_id: UUID, options: SyncClassLibraryOptions, data: dict[str, Any],
    payload: dict[str, Any], attempt: int, on_status: Any = None,
) -> Outcome:
    client = await resources.client()
    session = await client.auth.session(str(data["username"]))
    discipline, number = str(payload["discipline"]), int(payload["page"])
    seen = [Seen(*map(int, s)) for s in payload.get("seen") or []]
    room = None if options.limit is None else options.limit - await store.synced_so_far(conn, job_id)
    job = PageJob(job_id, discipline, number, seen, window(options.year, options.month),
                  resources.settings.peloton_page_limit, dry_run=options.dry_run, room=room,
                  pace=_pace(job_id, options), before=await store.discipline_so_far(conn, job_id, discipline))
    try:
        done = await sync_page(client, session, conn, job, on_progress=on_status or (lambda _m: None),
                               pool=resources.pool)
    except (PelotonUnavailable, PelotonHTTPError) as exc:
        if isinstance(exc, PelotonUnavailable) and attempt < LISTING_ATTEMPTS:
            raise ListingUnavailable(str(exc)) from exc
        tally = store.Tally(errors=1)
        await store.add(conn, job_id, discipline, tally, [f"  ✗ Error: page {number} of {discipline}: {exc}"],
                        done=True)
        nxt = _next_discipline(options, data, discipline, limit_reached=False)
        return Outcome(failed=1, add_total=1, children=nxt, message=f"{discipline.upper()} page {number} failed",
                       errors=[ClassError(f"{discipline} page {number}", f"page {number}", str(exc))])
    finished = done.next_page is None
    await store.add(conn, job_id, discipline, done.tally, done.lines, done=finished)
    children = [page_payload(discipline, done.next_page, done.seen)] if done.next_page is not None else []
    if finished:
        children += _next_discipline(options, data, discipline, limit_reached=done.limit_reached)
    t = done.tally
    verb = "would create" if options.dry_run else "created"
    message = (f"{discipline.upper()} page {number}: {t.fetched} in window, {t.created} {verb}, {t.updated} updated, "
               f"{t.skipped} skipped, {t.errors} errors")
    return Outcome(succeeded=t.created + t.updated, failed=t.errors, skipped=t.skipped, add_total=t.fetched,
                   children=children, message=message, errors=done.errors,
                   data={"limit_reached": True} if done.limit_reached else {})


def _next_discipline(options: SyncClassLibraryOptions, data: dict[str, Any], discipline: str, *,
                     limit_reached: bool) -> list[dict[str, Any]]:
    """With --limit, disciplines run one after the other: the next one starts when one ends."""
    if options.limit is None or limit_reached:
        return []
    order = list(data.get("disciplines") or [])
    position = order.index(discipline) if discipline in order else len(order)
    return [page_payload(order[position + 1], 0, [])] if position + 1 < len(order) else []


async def end(conn: Conn, job_id: UUID, options: SyncClassLibraryOptions, data: dict[str, Any], *,
              stopped: str | None = None) -> tuple[dict[str, Any], str]:
    """The job's final data (every count per discipline and in all, zeros too; the report's lines)
    and its closing message; `stopped`: why a job that did not complete ended."""
    rows = await store.tallies(conn, job_id)
    lines = report.build(str(data.get("connection") or "?"), str(data.get("window") or ""), rows,
                         dry_run=options.dry_run, limit_reached=bool(data.get("limit_reached")), failed=stopped)
    keys = ("pages", "fetched", "created", "updated", "skipped", "errors")
    per = {str(r["discipline"]): {k: int(r[k]) for k in keys} for r in rows}
    totals = {k: sum(v[k] for v in per.values()) for k in keys}
    return {"disciplines_summary": per, **totals, "report": lines}, report.summary(rows, dry_run=options.dry_run)
