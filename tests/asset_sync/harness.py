"""asset-sync against the real broker, database and rate limiter, with the GitHub sandbox served over
HTTP in this process (the fake outside world) and the service in-process (or as subprocesses)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any
from uuid import UUID

import asyncpg

from ferry.contracts.asset_sync import PullAndCleanOptions
from ferry.db import connect
from ferry.service import create_app as create_service_app
from ferry_asset_sync.admin import AssetRow, upsert
from ferry_asset_sync.assets import AssetTable
from ferry_asset_sync.main import spec
from ferry_asset_sync.settings import AssetSyncSettings
from ferry_sandbox import AccountConfig, Faults, RepoConfig, SandboxConfig
from ferry_sandbox.refs import demo_repos
from tests.gh_seeder.harness import Sandbox, rate_limiter, serve_sandbox
from tests.runtime.harness import EventTap
from tests.support.infra import Infra, query
from tests.support.messages import send_command

ALICE = "ghp_assetAlice00000000000000000000000001"
BOB = "ghp_assetBob000000000000000000000000002"
DANA = "ghp_assetDana00000000000000000000000004"  # an asset owner's own token; only she sees the private repo
FINAL = {"completed", "failed", "cancelled", "rejected"}
GH = "https://github.com/4geeks-demo"

__all__ = ["FINAL", "Sandbox", "query"]


def sandbox_config(limit: int = 100_000, **faults: Any) -> SandboxConfig:
    repos = []
    for repo in demo_repos():
        if repo.name == "private-course":
            repo = repo.model_copy(update={"visible_to": ["owner-dana"]})
        repos.append(repo)
    return SandboxConfig(
        accounts=[
            AccountConfig(login="octo-alice", tokens=[ALICE], limit=limit, window_s=60),
            AccountConfig(login="octo-bob", tokens=[BOB], limit=limit, window_s=60),
            AccountConfig(login="owner-dana", tokens=[DANA], limit=limit, window_s=60),
        ],
        repos=repos,
        faults=Faults(**faults),
    )


def lesson(slug: str, path: str, lang: str, **extra: Any) -> dict[str, Any]:
    return {"slug": slug, "lang": lang, "asset_type": "LESSON", "status": "PUBLISHED",
            "readme_url": f"{GH}/lessons/blob/{path}", **extra}


LESSONS_ES = [
    lesson("intro-to-python-es", "main/lessons/intro-to-python/README.es.md", "es"),
    lesson("what-is-html-es", "main/lessons/what-is-html/README.es.md", "es"),
    lesson("css-layouts-es", "main/lessons/css-layouts/README.es.md", "es", status="DRAFT"),
]
OTHERS = [
    lesson("intro-to-python", "main/lessons/intro-to-python/README.md", "en"),
    lesson("intro-v1", "v1.0/lessons/intro-to-python/README.md", "en"),
    lesson("new-intro", "feature/new-intro/docs/intro.md", "en"),
    {"slug": "html-hello-es", "lang": "es", "asset_type": "EXERCISE", "status": "PUBLISHED",
     "readme_url": f"{GH}/html-hello/blob/main/README.md"},
    {"slug": "todo-project", "lang": "en", "asset_type": "PROJECT", "status": "PUBLISHED",
     "readme_url": f"{GH}/todo-project"},
    {"slug": "no-url", "lang": "en", "asset_type": "LESSON"},
]


def settings(infra: Infra, box: Sandbox, tokens: list[str] | None = None, **extra: Any) -> AssetSyncSettings:
    return AssetSyncSettings(
        amqp_url=infra.amqp_url, database_url=infra.database_url, github_api_url=box.url,
        github_tokens=[ALICE, BOB] if tokens is None else tokens, asset_sync_owner_tokens={"dana": DANA}, **extra,
    )


@asynccontextmanager
async def service(config: AssetSyncSettings) -> AsyncIterator[Any]:
    """The asset-sync service in this process (its GitHub client and limiter are closed afterwards)."""
    app = create_service_app(spec(), config)
    async with app.router.lifespan_context(app):
        handler = app.state.runtime.handlers["pull-and-clean"]
        yield app
    await handler.resources.aclose()


@asynccontextmanager
async def stack(infra: Infra, config: SandboxConfig, *, replicas: int = 1, rate: float = 500.0,
                **extra: Any) -> AsyncIterator[Sandbox]:
    """Sandbox, rate limiter and `replicas` asset-sync services, all running."""
    async with AsyncExitStack() as stack, serve_sandbox(config) as box, rate_limiter(infra, rate):
        for _ in range(replicas):
            await stack.enter_async_context(service(settings(infra, box, **extra)))
        yield box


async def add_assets(infra: Infra, rows: list[dict[str, Any]]) -> None:
    conn = await connect(infra.database_url)
    try:
        table = await AssetTable.load(conn, '"asset_sync"."registry_asset"', "asset_sync.registry_asset")
        await upsert(conn, table, [AssetRow.model_validate(r) for r in rows])
    finally:
        await conn.close()


async def start(tap: EventTap, job_id: UUID | None = None, **options: Any) -> UUID:
    return await send_command(tap.channel, "asset-sync.pull-and-clean", PullAndCleanOptions(**options), job_id)


async def run_job(tap: EventTap, timeout: float = 60, **options: Any) -> Any:
    job = await start(tap, **options)
    return await tap.until(job, FINAL, timeout=timeout)


async def assets_by_slug(infra: Infra) -> dict[str, dict[str, Any]]:
    rows: list[asyncpg.Record] = await query(infra, "SELECT * FROM asset_sync.registry_asset")
    return {r["slug"]: dict(r) for r in rows}


def api_calls(box: Sandbox) -> list[dict[str, Any]]:
    """The sandbox's requests other than the one-per-token GET /user."""
    return [e for e in box.state.log if e["path"].strip("/") != "user"]


def many_lessons(n: int) -> tuple[RepoConfig, list[dict[str, Any]]]:
    """A repository with `n` lessons and the assets pointing at them (distinct files, for counting)."""
    files = {f"lessons/l{i:04d}/README.md": f"---\ntitle: Lesson {i}\n---\n\n# Lesson {i}\n\n![i](./i.png)\n"
             for i in range(n)}
    repo = RepoConfig(owner="4geeks-demo", name="many", pulls=0, files=files)
    assets = [{"slug": f"lesson-{i:04d}", "lang": "en", "asset_type": "LESSON", "status": "PUBLISHED",
               "readme_url": f"{GH}/many/blob/main/lessons/l{i:04d}/README.md"} for i in range(n)]
    return repo, assets


def with_repos(config: SandboxConfig, *repos: RepoConfig) -> SandboxConfig:
    return config.model_copy(update={"repos": [*config.repos, *repos]})
