"""Options and result of `content-fetch.fetch` (replaces the `fetch_all_content` management command).

The job's result carries the fields of the command's ProcessingLog (`total_items`, `processed_items`,
`success_count`, `error_count`, `mcq_status`, `current_affairs_status`, `error_message`,
`log_details`); `SourceLog` is one entry of `log_details`.
"""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import Field

from ferry.contracts.base import Contract, Options

DEFAULT_TIMEOUT_S = 300
"""The job timeout when neither `--timeout` nor FERRY_CONTENT_FETCH_TIMEOUT_S says otherwise (5 minutes)."""
MAX_TIMEOUT_S = 24 * 3600
COMPLETED = "✓ Completed"
SKIPPED = "skipped"
FAILED_PREFIX = "✗ Failed: "
_HH_MM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class ContentType(StrEnum):
    """`--type`: what to fetch."""

    BOTH = "both"
    MCQ = "mcq"
    CURRENT_AFFAIRS = "current_affairs"

    def includes(self, kind: ContentType) -> bool:
        """Whether a job of this type fetches `kind` (MCQ or CURRENT_AFFAIRS)."""
        return self is ContentType.BOTH or self is kind


def check_daily_time(value: str) -> str:
    """`HH:MM` (24-hour clock, e.g. 14:30), or ValueError saying what is wrong."""
    text = value.strip()
    if not _HH_MM.match(text):
        raise ValueError(f"{value!r} is not a time of day as HH:MM on a 24-hour clock (e.g. 14:30)")
    return text


class FetchOptions(Options):
    """Fetch MCQs (Open Trivia DB format) and current affairs (RSS/Atom feeds) from the configured sources."""

    type: ContentType = Field(
        ContentType.BOTH,
        description="What to fetch: both, mcq (the MCQ sources) or current_affairs (the news feeds).",
    )
    timeout_s: int | None = Field(
        None,
        ge=1,
        le=MAX_TIMEOUT_S,
        description=(
            "Fail the job if it runs longer than this many seconds (its remaining sources are dropped); "
            f"default FERRY_CONTENT_FETCH_TIMEOUT_S ({DEFAULT_TIMEOUT_S} s)."
        ),
    )
    dry_run: bool = Field(False, description="Fetch and count new and duplicate items; store nothing.")


class SourceLog(Contract):
    """What one source gave in one job (an entry of the result's `log_details`)."""

    source: str = Field(description="The source's name in FERRY_CONTENT_SOURCES.")
    kind: str = Field(description="`opentdb` (MCQs) or `feed` (RSS/Atom current affairs).")
    type: ContentType = Field(description="`mcq` or `current_affairs`.")
    fetched: int = Field(0, ge=0, description="Items the source returned.")
    new: int = Field(0, ge=0, description="Items stored for the first time.")
    duplicates: int = Field(0, ge=0, description="Items already stored (by question hash, or entry id/link).")
    unchanged: bool = Field(False, description="The feed answered 304 Not Modified: nothing fetched or parsed.")
    error: str | None = Field(None, description="Why the source failed, or None.")
    duration_s: float = Field(0.0, ge=0, description="Seconds the source took.")
    requests: int = Field(0, ge=0, description="HTTP requests made to the source.")
    warning: str | None = Field(None, description="Something odd that did not fail the source.")


__all__ = [
    "COMPLETED",
    "DEFAULT_TIMEOUT_S",
    "FAILED_PREFIX",
    "SKIPPED",
    "ContentType",
    "FetchOptions",
    "SourceLog",
    "check_daily_time",
]

