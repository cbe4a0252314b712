"""A fake of Peloton's (unofficial) API for tests, benchmarks and demos without a Peloton account.

Serves, like Peloton: `GET /api/v2/ride/archived` (newest first; `browse_category`, `page`
(0-based), `limit`; date filters ignored, as Peloton does; answers `data`, `page`, `page_count`,
`total`, `count`, `show_next`, `show_previous`, `sort_by`, `instructors`, `class_types`,
`fitness_disciplines`), `GET /api/ride/{id}/details`, `GET /api/instructor/{id}`, `GET /api/me`,
and the Auth0-style token endpoint `POST /oauth/token` (form `grant_type=refresh_token`,
`client_id`, `refresh_token`; refresh tokens rotate). API calls need `Authorization: Bearer`
with an unexpired token, else 401.

Faults and admin (no auth): POST /_sandbox/faults {"fail_next", "fail_status", "rate_limit_next",
"retry_after_s", "slow_next", "slow_s", "missing_rides"}; POST /_sandbox/expire {"username"} (its
access tokens expire now);
POST /_sandbox/revoke {"username"} (its refresh token stops working); GET /_sandbox/requests
(the request log: method, path, query, status); GET /_sandbox/stats; POST /_sandbox/reset
(the log and faults; tokens stay). `ferry-sandbox` serves it under /peloton; its demo connection
is `ferry_demo` with the fake tokens of `default_peloton_config()`.
"""

from __future__ import annotations

import asyncio
import math
import secrets
import time
from datetime import date
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from ferry_sandbox.peloton_data import Catalogue

PELOTON_PREFIX = "/peloton"
"""Where `ferry-sandbox` serves this API (FERRY_PELOTON_API_URL=http://127.0.0.1:8765/peloton)."""
DEFAULT_LIMIT = 18
MAX_LIMIT = 100


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PelotonAccount(_Model):
    username: str
    email: str
    user_id: str = "5fa0d6b2c8e64b1d8b8f0f5e8c1a2b3c"
    access_token: str = Field(description="A token valid from start-up until `access_ttl_s` has passed.")
    refresh_token: str


class PelotonFaults(_Model):
    fail_next: int = Field(0, ge=0, description="Answer the next N API requests with `fail_status`.")
    fail_status: int = Field(502, ge=500, le=599)
    rate_limit_next: int = Field(0, ge=0, description="Answer the next N API requests 429.")
    retry_after_s: float | None = Field(1.0, ge=0, description="Retry-After of those 429s (None: no header).")
    slow_next: int = Field(0, ge=0, description="Answer the next N API requests only after `slow_s` seconds.")
    slow_s: float = Field(5.0, ge=0, le=120)
    missing_rides: list[str] = Field(default_factory=list,
                                     description="Ride ids whose details answer 404, as a ride Peloton lost does.")


class Who(_Model):
    """Body of POST /_sandbox/expire and /_sandbox/revoke."""

    username: str


class PelotonConfig(_Model):
    accounts: list[PelotonAccount] = Field(default_factory=list)
    first_day: date = date(2023, 2, 1)
    last_day: date = date(2026, 1, 31)
    per_day: dict[str, int] = Field(default_factory=lambda: {"cycling": 6, "running": 4, "walking": 2, "yoga": 2})
    seed: int = 7
    access_ttl_s: float = Field(48 * 3600.0, gt=0, description="Lifetime of issued access tokens.")
    faults: PelotonFaults = Field(default_factory=PelotonFaults)


def default_peloton_config() -> PelotonConfig:
    """The demo: one connection, `ferry_demo`, and three years of classes ending 2026-01-31."""
    return PelotonConfig(accounts=[PelotonAccount(  # the sandbox's own fake tokens, not secrets
        username="ferry_demo", email="demo@ferry.invalid", access_token="plt_sandbox_demo_access_0001",  # noqa: S106
        refresh_token="plt_sandbox_demo_refresh_0001")])  # noqa: S106


class PelotonState:
    """Issued tokens, faults and the request log."""

    def __init__(self, config: PelotonConfig, clock: Any = time.time) -> None:
        self.config, self.clock = config, clock
        self.catalogue = Catalogue(config.first_day, config.last_day, dict(config.per_day), config.seed)
        self.access: dict[str, tuple[str, float]] = {}   # token -> (username, expires_at)
        self.refresh: dict[str, str] = {}                # token -> username
        self.accounts = {a.username: a for a in config.accounts}
        for account in config.accounts:
            self.access[account.access_token] = (account.username, clock() + config.access_ttl_s)
            self.refresh[account.refresh_token] = account.username
        self.faults = config.faults.model_copy()
        self.log: list[dict[str, Any]] = []
        self.refreshes = 0

    def who(self, request: Request) -> str | None:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or token not in self.access:
            return None
        username, expires_at = self.access[token]
        return username if expires_at > self.clock() else None

    def issue(self, username: str) -> dict[str, Any]:
        access, refresh = f"plt_sandbox_{secrets.token_hex(12)}", f"plt_sandbox_r_{secrets.token_hex(12)}"
        self.access[access] = (username, self.clock() + self.config.access_ttl_s)
        self.refresh[refresh] = username
        self.refreshes += 1
        return {"access_token": access, "refresh_token": refresh, "expires_in": int(self.config.access_ttl_s),
                "token_type": "Bearer", "scope": "openid offline_access"}


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"status": status, "message": message, "error_code": status}, status_code=status,
                        headers=headers)


def _archived(state: PelotonState, discipline: str, page: int, limit: int) -> dict[str, Any]:
    catalogue = state.catalogue
    total = catalogue.count(discipline)
    page_count = math.ceil(total / limit) if total else 0
    first = page * limit
    rides = [catalogue.ride(discipline, i) for i in range(first, min(total, first + limit))]
    instructor_ids = sorted({r["instructor_id"] for r in rides})
    return {
        "data": rides, "page": page, "page_count": page_count, "total": total, "count": len(rides), "limit": limit,
        "show_next": page + 1 < page_count, "show_previous": page > 0, "sort_by": ["-original_air_time"],
        "instructors": [catalogue.instructor(i) for i in instructor_ids],
        "class_types": catalogue.class_types(discipline),
        "fitness_disciplines": [{"id": d, "name": d.capitalize()} for d in catalogue.per_day],
    }


def create_peloton_app(config: PelotonConfig | None = None) -> FastAPI:
    """The Peloton sandbox as an ASGI app; `app.state.peloton` is its `PelotonState`."""
    state = PelotonState(config or default_peloton_config())
    app = FastAPI(title="ferry Peloton sandbox", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.peloton = state

    @app.middleware("http")
    async def log_requests(request: Request, call_next: Any) -> Any:
        response = await call_next(request)
        if not request.url.path.startswith("/_sandbox"):
            state.log.append({"method": request.method, "path": request.url.path,
                              "query": dict(request.query_params), "status": response.status_code,
                              "at": state.clock()})
        return response

    async def guard(request: Request) -> str | JSONResponse:
        username = state.who(request)
        if username is None:
            return _error(401, "Login required (bearer token missing, unknown or expired)")
        if state.faults.rate_limit_next > 0:
            state.faults.rate_limit_next -= 1
            after = state.faults.retry_after_s
            headers = {"retry-after": f"{after:g}"} if after is not None else None
            return _error(429, "Too Many Requests", headers=headers)
        if state.faults.fail_next > 0:
            state.faults.fail_next -= 1
            return _error(state.faults.fail_status, "Service Unavailable")
        if state.faults.slow_next > 0:  # a client with a shorter timeout gives up first
            state.faults.slow_next -= 1
            await asyncio.sleep(state.faults.slow_s)
        return username

    @app.get("/api/me")
    async def me(request: Request) -> Any:
        who = await guard(request)
        if not isinstance(who, str):
            return who
        account = state.accounts[who]
        return {"id": account.user_id, "username": account.username, "email": account.email}

    @app.get("/api/v2/ride/archived")
    async def archived(request: Request, browse_category: str = "cycling", page: int = 0,
                       limit: int = DEFAULT_LIMIT) -> Any:
        who = await guard(request)
        if not isinstance(who, str):
            return who
        if page < 0 or not 1 <= limit <= MAX_LIMIT:
            return _error(400, f"page must be >= 0 and limit 1..{MAX_LIMIT}")
        return _archived(state, browse_category, page, limit)

    @app.get("/api/ride/{ride_id}/details")
    async def details(request: Request, ride_id: str) -> Any:
        who = await guard(request)
        if not isinstance(who, str):
            return who
        found = state.catalogue.find(ride_id)
        if found is None or ride_id in state.faults.missing_rides:
            return _error(404, "Ride not found")
        return state.catalogue.details(*found)

    @app.get("/api/instructor/{instructor_id}")
    async def instructor(request: Request, instructor_id: str) -> Any:
        who = await guard(request)
        if not isinstance(who, str):
            return who
        return state.catalogue.instructor(instructor_id) or _error(404, "Instructor not found")

    @app.post("/oauth/token")
    async def token(request: Request) -> Any:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}  # form-encoded, like Auth0
        if form.get("grant_type") != "refresh_token" or not form.get("client_id"):
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        username = state.refresh.pop(str(form.get("refresh_token") or ""), None)
        if username is None:
            return JSONResponse({"error": "invalid_grant", "error_description": "Unknown or invalid refresh token."},
                                status_code=403)
        return state.issue(username)

    @app.post("/_sandbox/expire")
    async def expire(who: Who) -> Any:
        for token, (username, _) in list(state.access.items()):
            if username == who.username:
                state.access[token] = (username, state.clock() - 1)
        return {"ok": True}

    @app.post("/_sandbox/revoke")
    async def revoke(who: Who) -> Any:
        for token, username in list(state.refresh.items()):
            if username == who.username:
                del state.refresh[token]
        return {"ok": True}

    @app.post("/_sandbox/faults")
    async def faults(patch: dict[str, Any]) -> Any:
        state.faults = PelotonFaults.model_validate({**state.faults.model_dump(), **patch})
        return state.faults.model_dump()

    @app.get("/_sandbox/requests")
    async def requests_log() -> Any:
        return state.log

    @app.get("/_sandbox/stats")
    async def stats() -> Any:
        by_path: dict[str, int] = {}
        for entry in state.log:
            kind = "details" if entry["path"].endswith("/details") else entry["path"]
            by_path[kind] = by_path.get(kind, 0) + 1
        return {"requests": len(state.log), "by_endpoint": by_path, "refreshes": state.refreshes}

    @app.post("/_sandbox/reset")
    async def reset() -> Any:
        state.log.clear()
        state.faults = PelotonFaults()
        return {"ok": True}

    return app
