"""Fake news feeds (RSS 2.0 and Atom 1.0) at `/feeds/{name}.xml`, served the way web servers do.

Each answer carries an `ETag` (a hash of the document) and `Last-Modified` (when the newest entry
was published here); `If-None-Match` or, without it, `If-Modified-Since` gets `304 Not Modified`
with no body while the feed is unchanged. `POST /_sandbox/feeds/{name}/publish {"count": n}` adds
entries (a new document, so a new ETag). A feed may be slow (`delay_s`), malformed, or failing.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from fastapi import Request, Response

from ferry_sandbox.content_config import FeedSite
from ferry_sandbox.content_data import feed_entries, render_atom, render_malformed, render_rss

RSS_TYPE = "application/rss+xml; charset=utf-8"
ATOM_TYPE = "application/atom+xml; charset=utf-8"


@dataclass
class FeedCounters:
    requests: int = 0
    ok: int = 0
    not_modified: int = 0
    errors: int = 0


@dataclass
class Feed:
    """One feed's configuration, extra published entries and counters."""

    name: str
    config: FeedSite
    seed: int
    published: int = 0
    modified_at: datetime = field(default_factory=lambda: datetime(2026, 1, 1, tzinfo=UTC))
    counters: FeedCounters = field(default_factory=FeedCounters)

    def document(self, base_url: str) -> tuple[str, str]:
        """The feed's text and content type."""
        if self.config.malformed:
            return render_malformed(self.name), RSS_TYPE
        entries = feed_entries(self.name, self.config.entries + self.published, base_url, self.seed)
        if self.config.format == "atom":
            return render_atom(self.name, entries, base_url), ATOM_TYPE
        return render_rss(self.name, entries, base_url, guids=self.config.guids), RSS_TYPE


class FeedServer:
    """Every configured feed."""

    def __init__(self, feeds: dict[str, FeedSite], seed: int, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.seed = seed
        self.feeds = {name: Feed(name, config, seed) for name, config in feeds.items()}

    def reconfigure(self, feeds: dict[str, FeedSite]) -> None:
        for name, config in feeds.items():
            if name in self.feeds:
                self.feeds[name].config = config
            else:
                self.feeds[name] = Feed(name, config, self.seed)

    def publish(self, name: str, count: int) -> Feed | None:
        feed = self.feeds.get(name)
        if feed is not None:
            feed.published += count
            feed.modified_at = datetime.fromtimestamp(int(self.clock()), UTC)
        return feed

    async def serve(self, name: str, request: Request, base_url: str) -> Response:
        feed = self.feeds.get(name)
        if feed is None:
            return Response("<html><body><h1>404 Not Found</h1></body></html>", status_code=404,
                            media_type="text/html")
        feed.counters.requests += 1
        if feed.config.delay_s:
            await asyncio.sleep(feed.config.delay_s)
        if feed.config.fail_next > 0:
            feed.config = feed.config.model_copy(update={"fail_next": feed.config.fail_next - 1})
            feed.counters.errors += 1
            after = {"Retry-After": str(feed.config.retry_after_s)} if feed.config.retry_after_s is not None else {}
            return Response(f"<html><body><h1>{feed.config.fail_status}</h1></body></html>",
                            status_code=feed.config.fail_status, media_type="text/html", headers=after)
        text, media_type = feed.document(base_url)
        body = text.encode()
        headers: dict[str, str] = {}
        if feed.config.conditional:
            etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
            headers = {"ETag": etag, "Last-Modified": format_datetime(feed.modified_at, usegmt=True)}
            if _unchanged(request, etag, feed.modified_at):
                feed.counters.not_modified += 1
                return Response(status_code=304, headers=headers)
        feed.counters.ok += 1
        return Response(body, media_type=media_type, headers=headers)

    def stats(self) -> dict[str, Any]:
        return {name: {**vars(feed.counters), "entries": feed.config.entries + feed.published}
                for name, feed in self.feeds.items()}


def _unchanged(request: Request, etag: str, modified_at: datetime) -> bool:
    """RFC 9110: If-None-Match decides when present; else If-Modified-Since."""
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
        return etag in tags or "*" in tags
    since = request.headers.get("if-modified-since")
    if since:
        try:
            return parsedate_to_datetime(since) >= modified_at
        except (TypeError, ValueError):
            return False
    return False
