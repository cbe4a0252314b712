"""content-fetch's settings (same `FERRY_` prefix as every ferry setting).

`FERRY_CONTENT_SOURCES` is a JSON list of sources, each `{"name", "kind", "url", "options"}` (and an
optional `rate_key`); see services/content-fetch/README.md. Empty by default: `honcho start` and
`docker compose up` point it at the content sandbox when it is not set.
"""

from __future__ import annotations

from pydantic import Field, field_validator

from ferry.contracts.content_fetch import DEFAULT_TIMEOUT_S, MAX_TIMEOUT_S
from ferry.settings import FerrySettings
from ferry_content_fetch.sources import Source


class ContentFetchSettings(FerrySettings):
    """Settings of `ferry-content-fetch`, on top of every service's `FERRY_*` settings."""

    content_sources: list[Source] = Field(
        default_factory=list, description="The MCQ and current-affairs sources, as JSON (FERRY_CONTENT_SOURCES)."
    )
    content_fetch_timeout_s: int = Field(
        DEFAULT_TIMEOUT_S, ge=1, le=MAX_TIMEOUT_S, description="A job running longer than this fails (--timeout wins)."
    )
    content_fetch_http_timeout_s: float = Field(30.0, gt=0, le=600, description="Timeout of one HTTP request.")

    @field_validator("content_sources")
    @classmethod
    def _unique_names(cls, value: list[Source]) -> list[Source]:
        names = [s.name for s in value]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"source names must be unique; given twice: {', '.join(twice)}")
        return value
