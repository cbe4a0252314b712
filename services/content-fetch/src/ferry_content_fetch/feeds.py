"""Reading an RSS or Atom feed: a conditional GET with httpx, then feedparser on the bytes.

feedparser has no timeout of its own, so it never fetches: httpx does (with the settings' timeout
and the feed's last ETag / Last-Modified), and an unchanged feed (304) costs no parsing at all.
Parsing runs in a thread so a large feed never blocks the event loop (and its AMQP heartbeats).
"""

from __future__ import annotations

import asyncio
import calendar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from xml.sax import SAXParseException

import feedparser
import httpx

from ferry.ratelimit import Limiter
from ferry_content_fetch import upstream
from ferry_content_fetch.errors import SourceFailed
from ferry_content_fetch.sources import FeedSource

BENIGN = (feedparser.CharacterEncodingOverride,)
"""bozo reasons that do not make a feed unusable (it declared one encoding and was read in another)."""


@dataclass(frozen=True)
class Headline:
    key: str
    title: str
    link: str | None
    summary: str | None
    published_at: datetime | None


@dataclass
class FeedResult:
    headlines: list[Headline] = field(default_factory=list)
    unchanged: bool = False
    etag: str | None = None
    last_modified: str | None = None
    requests: int = 0
    warning: str | None = None


def parse(body: bytes, content_type: str | None, max_items: int) -> tuple[list[Headline], int]:
    """The feed's headlines (at most `max_items`) and how many entries had no id nor link (skipped)."""
    parsed: Any = feedparser.parse(body, response_headers={"content-type": content_type or "application/xml"})
    if parsed.get("bozo") and not isinstance(parsed.get("bozo_exception"), BENIGN):
        raise SourceFailed(f"malformed feed: {_reason(parsed.get('bozo_exception'))}")
    if not parsed.get("version") and not parsed.entries:
        raise SourceFailed("not an RSS or Atom feed")
    headlines, unnamed = [], 0
    for entry in parsed.entries[:max_items]:
        key = entry.get("id") or entry.get("link")
        if not key:
            unnamed += 1
            continue
        when = entry.get("published_parsed") or entry.get("updated_parsed")
        headlines.append(Headline(
            key=str(key), title=str(entry.get("title") or "(untitled)"), link=entry.get("link"),
            summary=entry.get("summary"),
            published_at=datetime.fromtimestamp(calendar.timegm(when), UTC) if when else None,
        ))
    return headlines, unnamed


def _reason(exc: object) -> str:
    """feedparser's reason; an XML error says where (its own text starts `<unknown>:line:column:`)."""
    if isinstance(exc, SAXParseException):
        return f"line {exc.getLineNumber()}, column {exc.getColumnNumber()}: {exc.getMessage()}"
    return str(exc)


class FeedClient:
    def __init__(self, http: httpx.AsyncClient, limiter: Limiter) -> None:
        self.http, self.limiter = http, limiter

    async def fetch(self, source: FeedSource, etag: str | None, last_modified: str | None) -> FeedResult:
        headers = {"Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5"}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        url = str(source.url)
        response = await upstream.get(self.http, self.limiter, source.key, source.options.rate, url, headers=headers)
        result = FeedResult(requests=1, etag=etag, last_modified=last_modified)
        if response.status_code == 304:
            result.unchanged = True
            return result
        if response.status_code == 429:
            raise await upstream.rate_limited(self.limiter, source.key, response, 60.0)
        if response.status_code >= 400:
            raise SourceFailed(f"HTTP {response.status_code} {response.reason_phrase} from {url}")
        headlines, unnamed = await asyncio.to_thread(
            parse, response.content, response.headers.get("content-type"), source.options.max_items
        )
        result.headlines = headlines
        result.etag = response.headers.get("etag")
        result.last_modified = response.headers.get("last-modified")
        if unnamed:
            result.warning = f"{unnamed} entries had neither an id nor a link and were skipped"
        return result
