"""Notifications: a Slack-compatible webhook POST when a job finishes, sent once from an outbox.

The ingest statement that sees a job finish queues a row in `notifications` (one per job) when the
job's schedule (`notify_on`) or the global filter (`FERRY_STATUS_NOTIFY_ON`, `..._SERVICES`) asks
for it; ingest never waits on a webhook. Every replica's notifier claims due rows with `FOR UPDATE
SKIP LOCKED` and, in the same short statement, leases them (moves `next_attempt_at` past the POST's
timeout), then posts outside any transaction and records the outcome only if its lease is still
the latest attempt. A failed POST is retried with exponential backoff (Retry-After honoured) up to
`FERRY_STATUS_NOTIFY_MAX_ATTEMPTS`; a 4xx that retrying cannot fix is given up at once.

The webhook URL is a secret: it is never logged (the status settings redact it, and httpx's own
request lines are kept below the log level), never in an error or event, and the API shows it masked.
A replica killed after the receiver answered but before it recorded the answer leaves the row to be
sent again after the lease: receivers that care can drop repeats by the `Idempotency-Key` header.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit
from uuid import UUID

import asyncpg
import httpx
import structlog
from pydantic import BaseModel, ConfigDict, Field

from ferry.contracts import Counters, JobStatus
from ferry_status.metrics import Metrics
from ferry_status.settings import StatusSettings
from ferry_status.store import JOBS, NOTIFICATIONS, SCHEDULES

log = structlog.get_logger(__name__)
LEASE_MARGIN_S = 5.0
"""A claimed row is leased for the POST's timeout plus this, so no other replica posts it meanwhile."""
BATCH = 20
_PERMANENT = frozenset(range(400, 500)) - {408, 425, 429}
"""4xx answers that a retry will not change (a revoked or malformed webhook): given up at once."""
_ICONS = {"completed": ":white_check_mark:", "failed": ":x:", "cancelled": ":no_entry_sign:",
          "rejected": ":no_entry:"}


class Notification(BaseModel):
    """The webhook body: Slack reads `text`; other receivers read the fields beside it."""

    model_config = ConfigDict(frozen=True)

    text: str = Field(description="One line for people (Slack mrkdwn, with a link to the job).")
    job_id: UUID = Field(description="The job.")
    service: str = Field(description="The service that ran it.")
    command: str = Field(description="The command it ran.")
    status: JobStatus = Field(description="completed, failed, cancelled or rejected.")
    counts: Counters = Field(description="The job's counters.")
    error: str | None = Field(description="Why it failed or was rejected.")
    link: str = Field(description="The job's page on the status dashboard.")
    schedule_id: UUID | None = Field(description="The schedule that started it, if one did.")
    scheduled_time: datetime | None = Field(description="The due time the schedule started it for.")
    finished_at: datetime | None = Field(description="When it finished (UTC).")


def notification_for(job: asyncpg.Record, public_url: str) -> Notification:
    link = f"{public_url.rstrip('/')}/ui/jobs/{job['job_id']}"
    counts = Counters(total=job["total"], processed=job["processed"], succeeded=job["succeeded"],
                    failed=job["failed"], skipped=job["skipped"])
    status = JobStatus(job["status"])
    text = (f"{_ICONS.get(status, ':information_source:')} {job['service']} {job['command']} {status}: "
            f"{counts.processed} processed ({counts.succeeded} succeeded, {counts.failed} failed, "
            f"{counts.skipped} skipped)")
    if job["error"]:
        text += f". Error: {job['error'][:300]}"
    text += f". <{link}|Job {job['job_id']}>"
    return Notification(
        text=text, job_id=job["job_id"], service=job["service"], command=job["command"], status=status,
        counts=counts, error=job["error"], link=link, schedule_id=job["schedule_id"],
        scheduled_time=job["scheduled_time"], finished_at=job["finished_at"],
    )


def masked(url: str | None) -> str | None:
    """What the API shows of a webhook URL: its scheme and host; the path (the secret part) masked."""
    if url is None:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}/****"


@dataclass(frozen=True)
class Outcome:
    """One POST's result: sent, or why not, and whether a retry could help."""

    error: str | None = None
    permanent: bool = False
    retry_after_s: float | None = None


class Notifier:
    """Sends the due notifications; `tick()` is one pass (claim, post, record)."""

    def __init__(self, pool: asyncpg.Pool, settings: StatusSettings, metrics: Metrics) -> None:
        self._pool = pool
        self._metrics = metrics
        self._settings = settings
        self._url = settings.status_notify_url.get_secret_value() if settings.status_notify_url else None
        self._public_url = settings.status_public_url or settings.status_url
        self._timeout = settings.status_notify_timeout_s
        self._client = httpx.AsyncClient(timeout=self._timeout, follow_redirects=False)
        # httpx logs every request line, URL included, at INFO: keep it (and httpcore) quieter.
        for name in ("httpx", "httpcore"):
            logging.getLogger(name).setLevel(logging.WARNING)

    async def close(self) -> None:
        await self._client.aclose()

    async def tick(self) -> int:
        """Post every due notification this replica claims; how many were sent."""
        claimed = await self._pool.fetch(
            f"WITH claimed AS (UPDATE {NOTIFICATIONS} n SET attempts = n.attempts + 1,"
            " next_attempt_at = now() + make_interval(secs => $2)"
            f" WHERE n.job_id IN (SELECT job_id FROM {NOTIFICATIONS} WHERE sent_at IS NULL AND gave_up_at IS NULL"
            " AND next_attempt_at <= now() ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)"
            " RETURNING n.job_id, n.attempts)"
            f" SELECT c.attempts, s.notify_url, j.* FROM claimed c JOIN {JOBS} j USING (job_id)"
            f" LEFT JOIN {SCHEDULES} s ON s.schedule_id = j.schedule_id",
            BATCH, self._timeout + LEASE_MARGIN_S,
        )
        outcomes = await asyncio.gather(*(self._send(row) for row in claimed))
        return sum(1 for outcome in outcomes if outcome.error is None)

    async def _send(self, row: asyncpg.Record) -> Outcome:
        url = row["notify_url"] or self._url
        body = notification_for(row, self._public_url)
        outcome = await self._post(url, body) if url else Outcome("no webhook URL configured", permanent=True)
        await self._record(row["job_id"], row["attempts"], outcome)
        return outcome

    async def _post(self, url: str, body: Notification) -> Outcome:
        headers = {"Content-Type": "application/json", "Idempotency-Key": str(body.job_id)}
        try:
            async with asyncio.timeout(self._timeout):
                response = await self._client.post(url, content=body.model_dump_json(), headers=headers)
        except (httpx.HTTPError, OSError, TimeoutError) as exc:
            # The exception's text can name the URL: only its type is kept.
            return Outcome(type(exc).__name__)
        except (httpx.InvalidURL, ValueError) as exc:
            return Outcome(f"invalid webhook URL ({type(exc).__name__})", permanent=True)
        except Exception as exc:
            # Anything else httpx or the network raises: retried, and its text (the URL?) kept out
            # of the tick's own failure log too.
            return Outcome(type(exc).__name__)
        if response.is_success:
            return Outcome()
        return Outcome(f"HTTP {response.status_code}", permanent=response.status_code in _PERMANENT,
                       retry_after_s=_retry_after(response))

    async def _record(self, job_id: UUID, attempts: int, outcome: Outcome) -> None:
        settings = self._settings
        given_up = outcome.error is not None and (outcome.permanent or attempts >= settings.status_notify_max_attempts)
        if outcome.error is None:
            sql, args = "sent_at = now(), last_error = NULL", []
        elif given_up:
            sql, args = "gave_up_at = now(), last_error = $3", [outcome.error]
        else:
            backoff = min(settings.status_notify_backoff_max_s, settings.status_notify_backoff_s * 2 ** (attempts - 1))
            backoff *= random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not a secret
            wait = min(settings.status_notify_backoff_max_s, max(backoff, outcome.retry_after_s or 0.0))
            sql, args = "next_attempt_at = now() + make_interval(secs => $4), last_error = $3", [outcome.error, wait]
        # Only the latest attempt records its answer (a lease that ran out was re-claimed by another).
        await self._pool.execute(
            f"UPDATE {NOTIFICATIONS} SET {sql} WHERE job_id = $1 AND attempts = $2", job_id, attempts, *args
        )
        self._metrics.notifications.labels(
            outcome="sent" if outcome.error is None else "given_up" if given_up else "retry").inc()
        if outcome.error is None:
            log.info("notification sent", job_id=str(job_id), attempts=attempts)
        elif given_up:
            log.warning("notification given up", job_id=str(job_id), attempts=attempts, error=outcome.error)
        else:
            log.warning("notification failed, will retry", job_id=str(job_id), attempts=attempts, error=outcome.error)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None  # an HTTP date: the backoff decides
