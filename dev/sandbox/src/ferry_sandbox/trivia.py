"""A fake of Open Trivia DB (opentdb.com), one per configured site, at `/trivia/{site}/...`.

Like the real API:

- `GET api.php?amount=N` (1..50) with optional `category` (id), `difficulty` (easy, medium, hard),
  `type` (multiple, boolean), `encode` (url3986, urlLegacy, base64; default HTML entities) and
  `token`, answering `{"response_code": n, "results": [...]}`;
- `response_code` 0 success, 1 no results (fewer questions match than `amount`: all or nothing),
  2 invalid parameter, 3 token not found, 4 token empty (the token has seen too many of the matching
  questions: reset it), 5 rate limit: one request per client IP every `min_interval_s` (5 s), sent
  with HTTP 429; the others with HTTP 200;
- `GET api_token.php?command=request` gives a token, `command=reset&token=T` resets it; a token
  unused for `token_idle_s` (6 hours) is deleted; both count toward the per-IP rate limit;
- `GET api_category.php` lists the categories.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi.responses import HTMLResponse, JSONResponse

from ferry_sandbox.content_config import TriviaSite
from ferry_sandbox.content_data import CATEGORIES, DIFFICULTIES, Question, question_bank

MAX_AMOUNT = 50
ENCODINGS = ("url3986", "urlLegacy", "base64")
TYPES = ("multiple", "boolean")


@dataclass
class Token:
    seen: set[int] = field(default_factory=set)
    last_used: float = 0.0


@dataclass
class TriviaCounters:
    requests: int = 0
    by_code: dict[str, int] = field(default_factory=dict)
    tokens_issued: int = 0
    tokens_reset: int = 0
    injected_errors: int = 0


class TriviaServer:
    """One site's question bank, tokens and per-IP rate limit."""

    def __init__(self, name: str, config: TriviaSite, seed: int, clock: Callable[[], float]) -> None:
        self.name, self.config, self.clock = name, config, clock
        self.bank: list[Question] = question_bank(config.per_category, seed)
        self.tokens: dict[str, Token] = {}
        self.last_call: dict[str, float] = {}
        self.counters = TriviaCounters()
        self._dice = random.Random(seed)  # noqa: S311 - which questions to return, not crypto

    def reconfigure(self, config: TriviaSite, seed: int) -> None:
        if config.per_category != self.config.per_category:
            self.bank = question_bank(config.per_category, seed)
        self.config = config

    def _limited(self, ip: str) -> bool:
        """Whether this call comes too soon after the IP's last answered one (which then stays the reference)."""
        now = self.clock()
        last = self.last_call.get(ip)
        if last is not None and now - last < self.config.min_interval_s:
            return True
        self.last_call[ip] = now
        return False

    def _expire_tokens(self) -> None:
        now = self.clock()
        for value, token in list(self.tokens.items()):
            if now - token.last_used > self.config.token_idle_s:
                del self.tokens[value]

    def _answer(self, code: int, results: list[dict[str, Any]] | None = None, **extra: Any) -> JSONResponse:
        self.counters.by_code[str(code)] = self.counters.by_code.get(str(code), 0) + 1
        body = {"response_code": code, "results": results or [], **extra}
        return JSONResponse(body, status_code=429 if code == 5 else 200)

    def _fault(self) -> HTMLResponse | None:
        self.counters.requests += 1
        if self.config.fail_next > 0:
            self.config = self.config.model_copy(update={"fail_next": self.config.fail_next - 1})
            self.counters.injected_errors += 1
            return HTMLResponse("<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>",
                                status_code=self.config.fail_status)
        return None

    def questions(self, ip: str, params: dict[str, str]) -> Any:
        fault = self._fault()
        if fault is not None:
            return fault
        if self._limited(ip):
            return self._answer(5)
        self._expire_tokens()
        try:
            amount = int(params.get("amount", ""))
            category = int(params["category"]) if params.get("category") else None
        except ValueError:
            return self._answer(2)
        difficulty, qtype, encode = params.get("difficulty") or None, params.get("type") or None, params.get("encode")
        if (not 1 <= amount <= MAX_AMOUNT or (category is not None and category not in CATEGORIES)
                or (difficulty is not None and difficulty not in DIFFICULTIES)
                or (qtype is not None and qtype not in TYPES) or (encode and encode not in ENCODINGS)):
            return self._answer(2)
        token: Token | None = None
        if params.get("token"):
            token = self.tokens.get(params["token"])
            if token is None:
                return self._answer(3)
            token.last_used = self.clock()
        matching = [
            i for i, q in enumerate(self.bank)
            if (category is None or q.category == category) and (difficulty is None or q.difficulty == difficulty)
            and (qtype is None or q.type == qtype)
        ]
        if len(matching) < amount:
            return self._answer(1)
        if token is not None:
            matching = [i for i in matching if i not in token.seen]
            if len(matching) < amount:
                return self._answer(4)
        picked = self._dice.sample(matching, amount)
        if token is not None:
            token.seen.update(picked)
        return self._answer(0, [self.bank[i].encoded(encode or None) for i in picked])

    def token(self, ip: str, params: dict[str, str]) -> Any:
        fault = self._fault()
        if fault is not None:
            return fault
        if self._limited(ip):
            return self._answer(5)
        self._expire_tokens()
        command = params.get("command")
        if command == "request":
            value = secrets.token_hex(32)
            self.tokens[value] = Token(last_used=self.clock())
            self.counters.tokens_issued += 1
            return JSONResponse({"response_code": 0, "response_message": "Token Generated Successfully!",
                                 "token": value})
        if command == "reset":
            found = self.tokens.get(params.get("token", ""))
            if found is None:
                return JSONResponse({"response_code": 3, "token": ""})
            found.seen.clear()
            found.last_used = self.clock()
            self.counters.tokens_reset += 1
            return JSONResponse({"response_code": 0, "token": params["token"]})
        return JSONResponse({"response_code": 2, "response_message": "Invalid command"})

    def categories(self) -> Any:
        return {"trivia_categories": [{"id": i, "name": n} for i, n in CATEGORIES.items()]}

    def stats(self) -> dict[str, Any]:
        c = self.counters
        return {"requests": c.requests, "by_code": dict(c.by_code), "tokens_issued": c.tokens_issued,
                "tokens_reset": c.tokens_reset, "injected_errors": c.injected_errors, "live_tokens": len(self.tokens)}
