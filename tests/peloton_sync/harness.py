"""peloton-sync against the real database (and broker): the Peloton sandbox served over HTTP in this
process (the fake outside world), plus helpers to run the sync's core page by page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import httpx
from cryptography.fernet import Fernet

from ferry.db import create_pool, migrate_database, migrations_in
from ferry.ratelimit import Limiter, LimitRule, LimitTable, LocalLimiter, PausePolicy
from ferry_peloton_sync import connections, store
from ferry_peloton_sync.auth import Authenticator
from ferry_peloton_sync.client import Pace, PelotonClient
from ferry_peloton_sync.crypto import TokenCipher
from ferry_peloton_sync.paging import Seen
from ferry_peloton_sync.rules import Window, window
from ferry_peloton_sync.settings import PelotonSettings
from ferry_peloton_sync.sync import PageDone, PageJob, sync_page
from ferry_peloton_sync.tokens import Tokens
from ferry_sandbox.peloton import PelotonAccount, PelotonConfig, PelotonState, create_peloton_app
from tests.support.asgi import serve_asgi
from tests.support.infra import Infra

KEY = Fernet.generate_key().decode()
DEMO_ACCESS = "plt_test_access_0000000000000001"
DEMO_REFRESH = "plt_test_refresh_000000000000001"
USER = "rider_one"
LIST_PZ = {"pz_type", "pz_title"}
"""The sandbox's Power Zone classes the archived list shows as such (class type or title)."""
SYNCED_KINDS = {"cycling": {*LIST_PZ, "pz_details"}, "running": {"other"}}


def peloton_config(**extra: Any) -> PelotonConfig:
    """One account and three years of classes ending 2026-01-31 (as the demo)."""
    account = PelotonAccount(username=USER, email="rider@ferry.invalid", access_token=DEMO_ACCESS,
                             refresh_token=DEMO_REFRESH)
    return PelotonConfig(accounts=[account], **extra)


@dataclass
class Sandbox:
    url: str
    state: PelotonState

    def log(self, kind: str | None = None) -> list[dict[str, Any]]:
        entries = self.state.log
        if kind == "details":
            return [e for e in entries if e["path"].endswith("/details")]
        if kind == "archived":
            return [e for e in entries if e["path"].endswith("/ride/archived")]
        return list(entries)

    def pages(self, discipline: str) -> list[int]:
        return [int(e["query"]["page"]) for e in self.log("archived") if e["query"].get("browse_category") ==
                discipline and e["status"] == 200]

    def minimum_pages(self, discipline: str, win: Window, limit: int) -> int:
        """Pages overlapping the window, plus the first page when it does not (to learn the list)."""
        cat = self.state.catalogue
        inside = {i // limit for i in range(cat.count(discipline)) if win.contains(cat.air_time(discipline, i))}
        return len(inside) + (0 if 0 in inside else 1)

    def expected(self, discipline: str, win: Window) -> dict[str, str]:
        """ride id -> kind of every class of the window."""
        cat = self.state.catalogue
        return {cat.ride_id(discipline, i): cat.kind(discipline, i) for i in range(cat.count(discipline))
                if win.contains(cat.air_time(discipline, i))}

    def synced(self, discipline: str, win: Window) -> set[str]:
        """The classes of the window a sync stores: Power Zone (by list or details) for cycling, all
        others elsewhere, never a warm-up or cool-down."""
        kinds = SYNCED_KINDS.get(discipline, {"other"})
        return {rid for rid, kind in self.expected(discipline, win).items() if kind in kinds}

    def needing_details(self, discipline: str, win: Window) -> set[str]:
        """The classes of the window whose details a first sync asks for: all but warm-ups and cool-downs
        (a cycling class the list does not mark as Power Zone is asked whether its details do)."""
        return {rid for rid, kind in self.expected(discipline, win).items() if kind not in {"warm_up", "cool_down"}}

    async def faults(self, client: httpx.AsyncClient, **faults: Any) -> None:
        (await client.post(f"{self.url}/_sandbox/faults", json=faults)).raise_for_status()


@asynccontextmanager
async def serve_sandbox(config: PelotonConfig | None = None) -> AsyncIterator[Sandbox]:
    app = create_peloton_app(config or peloton_config())
    async with serve_asgi(app) as url:
        yield Sandbox(url, app.state.peloton)


def settings(infra: Infra, sandbox: Sandbox, **extra: Any) -> PelotonSettings:
    values: dict[str, Any] = {
        "amqp_url": infra.amqp_url, "database_url": infra.database_url, "peloton_api_url": sandbox.url,
        "peloton_auth_url": f"{sandbox.url}/oauth/token", "peloton_client_id": "ferry-test", "peloton_token_key": KEY,
        "peloton_retry_initial_s": 0.01,
    }
    values.update(extra)
    return PelotonSettings(**values)


def fast_limiter() -> LocalLimiter:
    table = LimitTable({"peloton:*": LimitRule(rate=1000.0, burst=100)}, LimitRule(rate=1000.0, burst=100))
    return LocalLimiter(table, policy=PausePolicy())


@dataclass
class Core:
    """The sync's core wired on the test's database and the sandbox (no broker)."""

    pool: asyncpg.Pool
    cipher: TokenCipher
    auth: Authenticator
    client: PelotonClient
    http: httpx.AsyncClient
    limit: int = 50
    progress: list[str] = field(default_factory=list)

    async def discipline(self, discipline: str, win: Window, *, job_id: UUID | None = None, dry_run: bool = False,
                         limit: int | None = None, username: str | None = None,
                         pace: Pace | None = None) -> list[PageDone]:
        """Sync one discipline's pages as the job's page steps do, each page in its own transaction."""
        job_id = job_id or uuid4()
        session = await self.auth.session(username)
        async with self.pool.acquire() as conn:
            await store.start_job(conn, job_id, [discipline])
        page: int | None = 0
        seen: list[Seen] = []
        done: list[PageDone] = []
        while page is not None:
            async with self.pool.acquire() as conn, conn.transaction():
                room = None if limit is None else limit - await store.synced_so_far(conn, job_id)
                before = await store.discipline_so_far(conn, job_id, discipline)
                result = await sync_page(self.client, session, conn, PageJob(
                    job_id, discipline, page, seen, win, self.limit, dry_run=dry_run, room=room, pace=pace,
                    before=before), on_progress=self.progress.append)
                await store.add(conn, job_id, discipline, result.tally, result.lines, done=result.next_page is None)
            done.append(result)
            seen, page = result.seen, result.next_page
        return done

    async def rides(self) -> dict[str, dict[str, Any]]:
        async with self.pool.acquire() as conn:
            rows = await conn.fetch("SELECT * FROM peloton_sync.ride_detail")
        return {r["peloton_ride_id"]: dict(r) for r in rows}


async def migrate(infra: Infra) -> None:
    await migrate_database(infra.database_url, "peloton_sync", migrations_in("ferry_peloton_sync"))


async def add_connection(pool: asyncpg.Pool, cipher: TokenCipher, *, username: str = USER,
                         access: str = DEMO_ACCESS, refresh: str | None = DEMO_REFRESH,
                         expires_in_s: float = 3600.0, email: str = "rider@ferry.invalid") -> None:
    from datetime import UTC, datetime, timedelta

    async with pool.acquire() as conn:
        await connections.save(conn, cipher, username, email,
                               Tokens(access, refresh, datetime.now(UTC) + timedelta(seconds=expires_in_s)))


@asynccontextmanager
async def core(infra: Infra, sandbox: Sandbox, *, limiter: Limiter | None = None, connect: bool = True,
               http_timeout_s: float = 10.0, **extra: Any) -> AsyncIterator[Core]:
    cfg = settings(infra, sandbox, **extra)
    await migrate(infra)
    pool = await create_pool(infra.database_url)
    cipher = TokenCipher.from_settings(cfg)
    try:
        async with httpx.AsyncClient(base_url=cfg.peloton_api_url, timeout=http_timeout_s) as http:
            auth = Authenticator(pool, cipher, http, auth_url=cfg.peloton_auth_url, client_id=cfg.peloton_client_id,
                                 margin_s=cfg.peloton_refresh_margin_s)
            client = PelotonClient(http, limiter or fast_limiter(), auth, max_wait_s=cfg.peloton_max_inline_wait_s,
                                   retries=cfg.peloton_retries, retry_initial_s=cfg.peloton_retry_initial_s,
                                   retry_max_s=0.05)
            if connect:
                await add_connection(pool, cipher)
            yield Core(pool, cipher, auth, client, http, cfg.peloton_page_limit)
    finally:
        await pool.close()


def month(year: int, m: int) -> Window:
    return window(year, m)


