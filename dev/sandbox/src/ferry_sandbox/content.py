"""The content sandbox: fake Open Trivia DB sites and news feeds, for content-fetch's tests and demos.

`ferry-sandbox` serves it under /content:

    /content/trivia/{site}/api.php, api_token.php, api_category.php   (trivia.py)
    /content/feeds/{name}.xml                                          (feeds.py)
    /content/articles/{name}/{n}                                       (what entry links point at)

Admin (no auth, never rate limited): GET/POST /content/_sandbox/config (a partial config merges),
POST /content/_sandbox/feeds/{name}/publish {"count": n}, GET /content/_sandbox/stats,
GET /content/_sandbox/requests (ip, path, query, status), POST /content/_sandbox/reset (state, log
and config back to how the app started).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field, ValidationError

from ferry_sandbox.content_config import CONTENT_PREFIX, ContentConfig
from ferry_sandbox.feeds import FeedServer
from ferry_sandbox.trivia import TriviaServer

__all__ = ["CONTENT_PREFIX", "ContentState", "create_content_app"]


class Publish(BaseModel):
    count: int = Field(1, ge=1, le=10_000)


class ContentState:
    """The live sites, feeds and request log."""

    def __init__(self, config: ContentConfig, clock: Callable[[], float] = time.time) -> None:
        self.initial, self.clock = config, clock
        self.log: deque[dict[str, Any]] = deque(maxlen=20_000)
        self.apply(config, fresh=True)

    def apply(self, config: ContentConfig, *, fresh: bool = False) -> None:
        self.config = config
        if fresh:
            self.trivia = {n: TriviaServer(n, c, config.seed, self.clock) for n, c in config.trivia.items()}
            self.feeds = FeedServer(config.feeds, config.seed, self.clock)
            return
        for name, site in config.trivia.items():
            if name in self.trivia:
                self.trivia[name].reconfigure(site, config.seed)
            else:
                self.trivia[name] = TriviaServer(name, site, config.seed, self.clock)
        self.feeds.reconfigure(config.feeds)

    def reset(self) -> None:
        self.log.clear()
        self.apply(self.initial, fresh=True)

    def stats(self) -> dict[str, Any]:
        return {"trivia": {n: s.stats() for n, s in self.trivia.items()}, "feeds": self.feeds.stats(),
                "requests": len(self.log)}


def _not_found(what: str) -> HTMLResponse:
    return HTMLResponse(f"<html><body><h1>404 Not Found</h1><p>{what}</p></body></html>", status_code=404)


def create_content_app(config: ContentConfig | None = None, clock: Callable[[], float] = time.time) -> FastAPI:
    """The content sandbox as an ASGI app; `app.state.content` is its `ContentState`."""
    state = ContentState(config or ContentConfig(), clock)
    app = FastAPI(title="ferry content sandbox", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.content = state

    @app.middleware("http")
    async def log_and_delay(request: Request, call_next: Any) -> Any:
        # Mounted under /content by ferry-sandbox, the path keeps the prefix: compare what follows it.
        admin = request.url.path.removeprefix(request.scope.get("root_path", "")).startswith("/_sandbox")
        if not admin and state.config.latency_ms:
            await asyncio.sleep(state.config.latency_ms / 1000)
        response = await call_next(request)
        if not admin:
            state.log.append({"ip": request.client.host if request.client else "?", "path": request.url.path,
                              "query": dict(request.query_params), "status": response.status_code,
                              "at": state.clock()})
        return response

    def site(name: str) -> TriviaServer | None:
        return state.trivia.get(name)

    def ip(request: Request) -> str:
        return request.client.host if request.client else "?"

    @app.get("/trivia/{name}/api.php")
    async def questions(name: str, request: Request) -> Any:
        server = site(name)
        return server.questions(ip(request), dict(request.query_params)) if server else _not_found(name)

    @app.get("/trivia/{name}/api_token.php")
    async def token(name: str, request: Request) -> Any:
        server = site(name)
        return server.token(ip(request), dict(request.query_params)) if server else _not_found(name)

    @app.get("/trivia/{name}/api_category.php")
    async def categories(name: str) -> Any:
        server = site(name)
        return server.categories() if server else _not_found(name)

    @app.get("/feeds/{filename}")
    async def feed(filename: str, request: Request) -> Any:
        base = str(request.base_url).rstrip("/")
        return await state.feeds.serve(filename.removesuffix(".xml"), request, base)

    @app.get("/articles/{name}/{number}")
    async def article(name: str, number: int) -> Any:
        return HTMLResponse(f"<html><body><h1>{name} article {number}</h1></body></html>")

    @app.get("/_sandbox/config")
    async def get_config() -> Any:
        return state.config.model_dump()

    @app.post("/_sandbox/config")
    async def set_config(patch: dict[str, Any]) -> Any:
        try:
            state.apply(state.config.merged(patch))
        except ValidationError as exc:
            return JSONResponse({"message": "invalid config", "errors": exc.errors(include_url=False)},
                                status_code=422)
        return state.config.model_dump()

    @app.post("/_sandbox/feeds/{name}/publish")
    async def publish(name: str, body: Publish) -> Any:
        feed = state.feeds.publish(name, body.count)
        if feed is None:
            return JSONResponse({"message": f"no feed {name!r}"}, status_code=404)
        return {"feed": name, "entries": feed.config.entries + feed.published}

    @app.get("/_sandbox/stats")
    async def stats() -> Any:
        return state.stats()

    @app.get("/_sandbox/requests")
    async def requests_log() -> Any:
        return list(state.log)

    @app.post("/_sandbox/reset")
    async def reset() -> Any:
        state.reset()
        return {"ok": True}

    return app
