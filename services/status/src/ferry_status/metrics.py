"""Prometheus metrics of the status service, in a registry of its own (one per app, so several
apps in one process, as in tests, do not collide)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from ferry.contracts import JobStatus


class Metrics:
    """The counters the ingester and the API update."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.events_ingested = Counter(
            "ferry_status_events_ingested", "Job events newly stored.", registry=r
        )
        self.events_duplicate = Counter(
            "ferry_status_events_duplicate", "Job events received again and ignored (same event_id).", registry=r
        )
        self.events_rejected = Counter(
            "ferry_status_events_rejected", "Messages on status.events that were not valid job events.", registry=r
        )
        self.batch_size = Histogram(
            "ferry_status_ingest_batch_size", "Events written per transaction.",
            buckets=(1, 10, 50, 100, 250, 500, 1000, 2000, 5000, 10000), registry=r,
        )
        self.batch_seconds = Histogram(
            "ferry_status_ingest_batch_seconds", "Time to write one batch to Postgres.", registry=r
        )
        self.ingest_lag = Gauge(
            "ferry_status_ingest_lag_seconds", "Age of the newest event of the last batch when it committed.",
            registry=r,
        )
        self.db_retries = Counter(
            "ferry_status_ingest_db_retries", "Batch writes retried because Postgres was unavailable.", registry=r
        )
        self.commands_published = Counter(
            "ferry_status_commands_published", "Commands published through the API.", ["routing_key"], registry=r
        )
        self.notifications = Counter(
            "ferry_status_notifications", "Webhook POSTs of finished jobs, by outcome (sent, retry, given_up).",
            ["outcome"], registry=r,
        )
        self.jobs = Gauge("ferry_status_jobs", "Jobs known, by status.", ["status"], registry=r)

    def set_job_counts(self, by_status: dict[str, int]) -> None:
        for status in JobStatus:
            self.jobs.labels(status=status.value).set(by_status.get(status.value, 0))

    def render(self) -> bytes:
        return generate_latest(self.registry)
