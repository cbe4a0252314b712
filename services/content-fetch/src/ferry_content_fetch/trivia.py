"""An Open Trivia DB client: its response codes, session tokens and encodings.

`response_code` is read whatever the HTTP status: 0 success; 1 fewer questions match than asked
(all or nothing); 2 invalid parameter; 3 token not found (a new one is requested); 4 token empty
(every matching question was returned: the token is reset, and the fetch tried once more); 5 rate
limited (one request per client every 5 s: the bucket is paused and the step parked). See
services/content-fetch/README.md.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import html
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import asyncpg
import httpx

from ferry.ratelimit import Limiter
from ferry_content_fetch import store, upstream
from ferry_content_fetch.errors import SourceFailed
from ferry_content_fetch.sources import TriviaSource

CODES = {
    1: "not enough questions for this query (response code 1: ask for fewer, or another category/difficulty)",
    2: "invalid parameter (response code 2): check the source's options",
}
RATE_LIMIT_S = 5.0


@dataclass(frozen=True)
class Question:
    category: str
    type: str
    difficulty: str
    question: str
    correct_answer: str
    incorrect_answers: list[str]

    @property
    def hash(self) -> str:
        """Identity for deduplication (questions carry no id): the text and the answers, normalised."""
        parts = [" ".join(self.question.split()).casefold(), self.correct_answer.strip().casefold(),
                 *sorted(a.strip().casefold() for a in self.incorrect_answers)]
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


@dataclass
class TriviaBatch:
    questions: list[Question] = field(default_factory=list)
    requests: int = 0
    warning: str | None = None


def decode(text: str, encode: str | None) -> str:
    """A field as served with `encode` back to plain text."""
    if encode == "base64":
        try:
            return base64.b64decode(text, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise SourceFailed(f"a field is not valid base64 text: {exc}") from exc
    if encode == "url3986":
        return unquote(text)
    return html.unescape(text)


def parse_question(raw: dict[str, Any], encode: str | None) -> Question:
    try:
        return Question(
            category=decode(raw["category"], encode), type=decode(raw["type"], encode),
            difficulty=decode(raw["difficulty"], encode), question=decode(raw["question"], encode),
            correct_answer=decode(raw["correct_answer"], encode),
            incorrect_answers=[decode(a, encode) for a in raw["incorrect_answers"]],
        )
    except (KeyError, TypeError) as exc:
        raise SourceFailed(f"a result lacks a field of the Open Trivia DB format: {exc}") from exc


def token_url(api_url: str) -> str:
    """`.../api.php` -> `.../api_token.php`."""
    parts = urlsplit(api_url)
    path = parts.path.rsplit("/", 1)[0] + "/api_token.php"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


class TriviaClient:
    """Fetches one batch of questions from an Open Trivia DB source."""

    def __init__(self, http: httpx.AsyncClient, limiter: Limiter, pool: asyncpg.Pool) -> None:
        self.http, self.limiter, self.pool = http, limiter, pool

    async def fetch(self, source: TriviaSource) -> TriviaBatch:
        batch = TriviaBatch()
        opts = source.options
        token = await self._token(source, batch) if opts.use_token else None
        for attempt in range(3):
            params = {"amount": str(opts.amount)}
            for name in ("category", "difficulty", "type", "encode"):
                value = getattr(opts, name)
                if value is not None:
                    params[name] = str(value)
            if token:
                params["token"] = token
            body, response = await self._call(source, str(source.url), params, batch)
            code = body.get("response_code")
            if code == 0:
                results = body.get("results")
                if not isinstance(results, list):
                    raise SourceFailed("response code 0 without a list of results")
                batch.questions = [parse_question(r, opts.encode) for r in results]
                return batch
            if code == 3 and attempt < 2:  # the token expired (6 h unused) or was never valid: a new one
                token = await self._new_token(source, batch)
                continue
            if code == 4 and attempt < 2:  # every matching question was returned: start the token over
                await self._reset_token(source, token or "", batch)
                batch.warning = "the session token had returned every matching question; it was reset"
                continue
            if code in CODES:
                raise SourceFailed(CODES[code])
            if code in (3, 4):
                raise SourceFailed(f"response code {code} again after a new or reset session token")
            raise SourceFailed(f"unexpected answer (HTTP {response.status_code}, response_code {code!r})")
        raise SourceFailed("no questions after three tries")  # pragma: no cover - the loop returns or raises

    async def _call(
        self, source: TriviaSource, url: str, params: dict[str, str], batch: TriviaBatch
    ) -> tuple[dict[str, Any], httpx.Response]:
        # A margin over the API's interval: it measures between arrivals, and a granted call arrives a little later.
        interval = source.options.min_interval_s * 1.05 + 0.2 if source.options.min_interval_s else 0.001
        response = await upstream.get(self.http, self.limiter, source.key, 1 / interval, url, params=params)
        batch.requests += 1
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or "response_code" not in body:
            if response.status_code == 429:
                raise await upstream.rate_limited(self.limiter, source.key, response, RATE_LIMIT_S)
            raise SourceFailed(f"HTTP {response.status_code} from {urlsplit(url).netloc}: not an Open Trivia DB answer")
        if body["response_code"] == 5:
            raise await upstream.rate_limited(self.limiter, source.key, response, RATE_LIMIT_S)
        return body, response

    async def _token(self, source: TriviaSource, batch: TriviaBatch) -> str:
        async with self.pool.acquire() as conn:
            token = await store.trivia_token(conn, source.name)
        return token or await self._new_token(source, batch)

    async def _new_token(self, source: TriviaSource, batch: TriviaBatch) -> str:
        body, _ = await self._call(source, token_url(str(source.url)), {"command": "request"}, batch)
        token = body.get("token")
        if body.get("response_code") != 0 or not isinstance(token, str) or not token:
            raise SourceFailed(f"could not get a session token (response code {body.get('response_code')!r})")
        async with self.pool.acquire() as conn:  # kept even if the step rolls back: the token stays valid
            await store.save_trivia_token(conn, source.name, token)
        return token

    async def _reset_token(self, source: TriviaSource, token: str, batch: TriviaBatch) -> None:
        body, _ = await self._call(source, token_url(str(source.url)), {"command": "reset", "token": token}, batch)
        if body.get("response_code") != 0:
            await self._new_token(source, batch)
