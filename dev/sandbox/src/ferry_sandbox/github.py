"""A deterministic, strict fake of GitHub's REST API (an ASGI app) for tests, benchmarks and demos.

Serves /user, /rate_limit, /repos/{o}/{r} (and /repositories/{id}) with pulls (state, sort,
direction, per_page <= 100, page, Link headers), a pull's detail, reviews, commits and files,
readme and contents (base64 JSON or raw). Every answer carries GitHub's rate-limit headers and
an ETag; `If-None-Match` gets 304, which costs no quota.

Each request goes through, in order: authentication (unknown or revoked token: 401), injected
latency, injected 5xx, the account's secondary limit, its primary quota, then the resource.

Admin (never rate limited, no auth): POST /_sandbox/config (a partial config: `faults` merges,
other keys replace), GET /_sandbox/config (tokens hidden), POST /_sandbox/secondary
{"account", "seconds", "retry_after", "status"} (pause one account now), POST /_sandbox/reset,
GET /_sandbox/stats (per account), GET /_sandbox/requests (recent request log).
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError

from ferry_sandbox.config import SandboxConfig, default_config
from ferry_sandbox.resources import Answer, Resources, error
from ferry_sandbox.state import ANONYMOUS, Quota, SandboxState

API_VERSION = "2022-11-28"
LIMITS_DOCS = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
SECONDARY_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
    "If you reach out to GitHub Support for help, please include the request ID {rid}."
)
PRIMARY_MESSAGE = (
    "API rate limit exceeded for user ID {uid}. If you reach out to GitHub Support for help, "
    "please include the request ID {rid} and timestamp {ts}."
)


class PauseRequest(BaseModel):
    """Body of POST /_sandbox/secondary."""

    account: str = Field(description="Login of the account to pause.")
    seconds: float = Field(gt=0, description="How long the secondary limit lasts.")
    retry_after: bool = Field(True, description="Send Retry-After with the 403/429 answers.")
    status: int = Field(403, description="403 or 429.")


def _etag(answer: Answer) -> str:
    return 'W/"' + hashlib.sha256(answer.payload()).hexdigest()[:40] + '"'


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    bare = etag.removeprefix("W/")
    return any(tag.strip() in (etag, bare, "*") or tag.strip().removeprefix("W/") == bare for tag in header.split(","))


def _response(answer: Answer, headers: dict[str, str]) -> Response:
    merged = {**headers, **answer.headers}
    if answer.raw is not None:
        media = merged.pop("content-type", "application/octet-stream")
        return Response(answer.raw, status_code=answer.status, headers=merged, media_type=media)
    return Response(answer.payload(), status_code=answer.status, headers=merged,
                    media_type="application/json; charset=utf-8")


def create_app(config: SandboxConfig | None = None) -> FastAPI:
    """The sandbox as an ASGI app; `app.state.sandbox` is its `SandboxState` (for in-process tests)."""
    state = SandboxState(config or default_config())
    resources = Resources(state.config.repos, state.config.seed)
    app = FastAPI(title="ferry GitHub sandbox", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.sandbox = state

    @app.post("/_sandbox/config")
    async def set_config(request: Request) -> JSONResponse:
        nonlocal resources
        try:
            patch = await request.json()
            new = state.config.merged(patch)
        except (ValueError, ValidationError) as exc:
            return JSONResponse({"message": f"invalid sandbox config: {exc}"}, status_code=422)
        if new.repos != state.config.repos or new.seed != state.config.seed:
            resources = Resources(new.repos, new.seed)
        state.apply(new)
        return JSONResponse(state.config.public_dump())

    @app.get("/_sandbox/config")
    async def get_config() -> JSONResponse:
        return JSONResponse(state.config.public_dump())

    @app.post("/_sandbox/secondary")
    async def pause(body: PauseRequest) -> JSONResponse:
        if body.account not in state.quotas:
            return JSONResponse({"message": f"unknown account {body.account}"}, status_code=404)
        state.pause(state.quota(body.account), body.seconds, body.retry_after, body.status)
        return JSONResponse({"account": body.account, "until": state.quota(body.account).secondary_until})

    @app.post("/_sandbox/reset")
    async def reset() -> JSONResponse:
        state.reset()
        return JSONResponse({"reset": True})

    @app.get("/_sandbox/stats")
    async def stats() -> JSONResponse:
        return JSONResponse(state.stats())

    @app.get("/_sandbox/requests")
    async def requests_log(account: str | None = None) -> JSONResponse:
        items = [r for r in state.log if account is None or r["account"] == account]
        return JSONResponse({"items": items})

    @app.api_route("/{path:path}", methods=["GET", "HEAD"])
    async def api(path: str, request: Request) -> Response:
        return await serve(state, resources, path, request)

    return app


async def serve(state: SandboxState, resources: Resources, path: str, request: Request) -> Response:
    """One API request through auth, faults, limits, the resource and conditional-request handling."""
    started = state.clock()
    rid = uuid.uuid4().hex[:16].upper()
    base = {"x-github-request-id": rid, "x-github-api-version-selected": API_VERSION,
            "vary": "Accept, Authorization, Cookie, X-GitHub-OTP", "x-github-media-type": "github.v3; format=json"}
    caller = state.authenticate(request.headers.get("authorization"))
    if caller is False:
        state.record(None, path, 401, started, request.url.query)
        return _response(error(401, "Bad credentials"), base)
    login = ANONYMOUS if caller is None else caller.login
    quota = state.quota(login)
    quota.counters.requests += 1
    faults = state.config.faults
    if faults.latency_ms:
        await asyncio.sleep(faults.latency_ms / 1000)
    now = state.clock()
    quota.roll(now)
    if path.strip("/") == "rate_limit":  # asking about the limit is free and never limited
        return _response(Answer(200, rate_limit_body(quota)), {**base, **quota.headers()})
    status, response = _limited(state, quota, caller.user_id if caller else 0, rid, now, base)
    if response is None:
        answer = resources.answer(path, dict(request.query_params), request.headers.get("accept", ""),
                                  None if caller is None else caller.login, str(request.base_url).rstrip("/"))
        response = _finish(quota, answer, request, base)
        status = response.status_code
    state.record(login, path, status, started, request.url.query)
    return response


def _limited(state: SandboxState, quota: Quota, user_id: int, rid: str, now: float,
             base: dict[str, str]) -> tuple[int, Response | None]:
    """An injected error or a rate-limit answer, or (0, None) to go on to the resource."""
    if state.inject_error():
        quota.counters.injected_errors += 1
        status = state.config.faults.error_status
        return status, _response(Answer(status, {"message": "Server Error"}), base)
    if state.secondary_tripped(quota, now):
        quota.counters.secondary_limited += 1
        headers = {**base, **quota.headers()}
        if quota.secondary_retry_after:
            headers["retry-after"] = str(max(1, math.ceil(quota.secondary_until - now)))
        body = error(quota.secondary_status, SECONDARY_MESSAGE.format(rid=rid))
        body.body["documentation_url"] = LIMITS_DOCS + "#about-secondary-rate-limits"
        return body.status, _response(body, headers)
    if state.primary_exhausted(quota):
        quota.counters.primary_limited += 1
        stamp = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        body = error(403, PRIMARY_MESSAGE.format(uid=user_id, rid=rid, ts=stamp))
        body.body["documentation_url"] = LIMITS_DOCS
        return 403, _response(body, {**base, **quota.headers()})
    return 0, None


def _finish(quota: Quota, answer: Answer, request: Request, base: dict[str, str]) -> Response:
    """Spend quota (except on 304) and build the answer with its ETag."""
    if answer.status == 200:
        etag = _etag(answer)
        if _etag_matches(request.headers.get("if-none-match"), etag):
            quota.counters.not_modified += 1
            headers = {**base, **quota.headers(), "etag": etag}
            return Response(status_code=304, headers=headers)
        quota.used += 1
        quota.counters.ok += 1
        return _response(answer, {**base, **quota.headers(), "etag": etag, "cache-control": "private, max-age=60"})
    quota.used += 1
    quota.counters.client_errors += 1
    return _response(answer, {**base, **quota.headers()})


def rate_limit_body(quota: Quota) -> dict[str, Any]:
    core = {"limit": quota.limit, "remaining": quota.remaining, "reset": math.ceil(quota.reset_at),
            "used": quota.used, "resource": "core"}
    return {"resources": {"core": core}, "rate": core}
