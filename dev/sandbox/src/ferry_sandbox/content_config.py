"""What the content sandbox serves: Open Trivia DB "sites" and news feeds, and their faults.

Changed at run time with `POST /content/_sandbox/config` (a partial config: each site and feed
named merges field by field, `latency_ms` replaces).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

CONTENT_PREFIX = "/content"
"""Where `ferry-sandbox` serves the content fakes (e.g. http://127.0.0.1:8765/content/trivia/opentdb/api.php)."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TriviaSite(_Model):
    """One Open Trivia DB server (a site has its own question bank, tokens and per-IP rate limit)."""

    per_category: int = Field(40, ge=0, le=10_000, description="Questions in each of the four categories.")
    min_interval_s: float = Field(
        5.0, ge=0, description="One request per client IP this often (Open Trivia DB: 5 s); faster ones get code 5."
    )
    token_idle_s: float = Field(6 * 3600.0, gt=0, description="A session token unused this long is deleted.")
    fail_next: int = Field(0, ge=0, description="Answer the next N requests with `fail_status` (an HTML page).")
    fail_status: int = Field(503, ge=500, le=599)


class FeedSite(_Model):
    """One news feed."""

    format: Literal["rss", "atom"] = "rss"
    entries: int = Field(20, ge=0, le=100_000, description="Entries the feed has (newest first).")
    guids: bool = Field(True, description="RSS only: items carry a guid (else only their link identifies them).")
    malformed: bool = Field(False, description="Serve a document that is not well-formed XML.")
    delay_s: float = Field(0.0, ge=0, description="Wait this long before answering (a slow feed).")
    fail_next: int = Field(0, ge=0, description="Answer the next N requests with `fail_status`.")
    fail_status: int = Field(503, ge=429, le=599, description="A 5xx, or 429 (too many requests).")
    retry_after_s: int | None = Field(None, ge=0, description="Sent as `Retry-After` with the failures.")
    conditional: bool = Field(True, description="Send ETag and Last-Modified, and answer 304 when unchanged.")


def _default_feeds() -> dict[str, FeedSite]:
    return {
        "world": FeedSite(format="rss", entries=20),
        "tech": FeedSite(format="atom", entries=15),
        "business": FeedSite(format="rss", entries=12, guids=False),
        "broken": FeedSite(format="rss", malformed=True),
        "slow": FeedSite(format="rss", entries=5, delay_s=10.0),
    }


class ContentConfig(_Model):
    """Everything the content sandbox serves."""

    trivia: dict[str, TriviaSite] = Field(default_factory=lambda: {"opentdb": TriviaSite()})
    feeds: dict[str, FeedSite] = Field(default_factory=_default_feeds)
    latency_ms: float = Field(0.0, ge=0, description="Added to every trivia and feed request.")
    seed: int = 7

    def merged(self, patch: dict[str, Any]) -> ContentConfig:
        """This config with `patch` applied: named sites and feeds merge field by field (new ones are added)."""
        data = self.model_dump()
        for group in ("trivia", "feeds"):
            for name, fields in (patch.get(group) or {}).items():
                data[group][name] = {**data[group].get(name, {}), **fields}
        for key, value in patch.items():
            if key not in ("trivia", "feeds"):
                data[key] = value
        return ContentConfig.model_validate(data)


def demo_sources(base_url: str) -> list[dict[str, Any]]:
    """FERRY_CONTENT_SOURCES for the default sandbox at `base_url` (its well-behaved sources only)."""
    root = f"{base_url.rstrip('/')}{CONTENT_PREFIX}"
    trivia = f"{root}/trivia/opentdb/api.php"
    return [
        {"name": "trivia-general", "kind": "opentdb", "url": trivia, "rate_key": "http:sandbox-opentdb",
         "options": {"amount": 10, "category": 9}},
        {"name": "trivia-science", "kind": "opentdb", "url": trivia, "rate_key": "http:sandbox-opentdb",
         "options": {"amount": 10, "category": 17, "encode": "base64"}},
        {"name": "world-news", "kind": "feed", "url": f"{root}/feeds/world.xml"},
        {"name": "tech-news", "kind": "feed", "url": f"{root}/feeds/tech.xml"},
        {"name": "business-news", "kind": "feed", "url": f"{root}/feeds/business.xml"},
    ]
