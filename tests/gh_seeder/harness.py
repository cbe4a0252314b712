"""The gh-seeder against the real broker and database: the GitHub sandbox served over HTTP in this
process (the fake outside world), the real rate-limiter service and the seeder service in-process
(or the seeder as a subprocess for kill tests)."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import httpx

from ferry.contracts.seeder import SeedOptions
from ferry.ratelimit import LimitRule
from ferry.service import create_app as create_service_app
from ferry_gh_seeder.main import spec
from ferry_gh_seeder.settings import SeederSettings
from ferry_rate_limiter.app import create_app as create_limiter_app
from ferry_rate_limiter.settings import RateLimiterSettings
from ferry_sandbox import AccountConfig, Faults, RepoConfig, SandboxConfig, create_app
from ferry_sandbox.data import RepoData
from ferry_sandbox.state import SandboxState
from tests.runtime.harness import EventTap
from tests.support.asgi import serve_asgi
from tests.support.infra import Infra
from tests.support.messages import send_command

ALICE = "ghp_seedAlice000000000000000000000000001"
BOB = "ghp_seedBob00000000000000000000000000002"
CAROL = "ghp_seedCarol000000000000000000000000003"
REVOKED = "ghp_seedRevoked0000000000000000000000009"
TOKENS = [ALICE, BOB, CAROL]
FINAL = {"completed", "failed", "cancelled", "rejected"}
_DETAIL = re.compile(r"^/?repos/(?P<repo>[^/]+/[^/]+)/pulls/(?P<number>\d+)$")


def sandbox_config(*repos: tuple[str, int], limit: int = 100_000, **faults: Any) -> SandboxConfig:
    """Three accounts (one token each, plus a revoked one for bob) and the given repositories."""
    return SandboxConfig(
        accounts=[
            AccountConfig(login="octo-alice", tokens=[ALICE], limit=limit, window_s=60),
            AccountConfig(login="octo-bob", tokens=[BOB, REVOKED], limit=limit, window_s=60),
            AccountConfig(login="octo-carol", tokens=[CAROL], limit=limit, window_s=60),
        ],
        repos=[RepoConfig(owner=r.split("/")[0], name=r.split("/")[1], pulls=n) for r, n in repos],
        faults=Faults(revoked_tokens=[REVOKED], **faults),
    )


@dataclass
class Sandbox:
    """The sandbox serving on `url`; `state` is its live state (counters, request log)."""

    url: str
    state: SandboxState
    config: SandboxConfig

    def detail_hits(self) -> Counter[tuple[str, int]]:
        """How often each pull request's detail endpoint was requested (answered or not)."""
        hits: Counter[tuple[str, int]] = Counter()
        for entry in self.state.log:
            match = _DETAIL.match(entry["path"])
            if match:
                hits[(match["repo"], int(match["number"]))] += 1
        return hits

    def stats(self) -> dict[str, Any]:
        return self.state.stats()

    def expected(self, repo: str) -> dict[int, dict[str, Any]]:
        """What the sandbox serves for `repo`: number -> {state, reviews, commits, files}."""
        config = next(r for r in self.config.repos if r.full_name == repo)
        data = RepoData(config, self.config.seed)
        out = {}
        for pull in data.pulls:
            state = "merged" if pull.merged else pull.state
            out[pull.number] = {
                "state": state, "reviews": len(pull.reviews(self.url)), "commits": len(pull.commits(self.url)),
                "files": len(pull.files(self.url)),
            }
        return out


@asynccontextmanager
async def serve_sandbox(config: SandboxConfig) -> AsyncIterator[Sandbox]:
    app = create_app(config)
    async with serve_asgi(app) as url:
        yield Sandbox(url, app.state.sandbox, config)


def limiter_settings(infra: Infra, rate: float = 500.0, burst: int = 50) -> RateLimiterSettings:
    return RateLimiterSettings(
        amqp_url=infra.amqp_url, database_url=infra.database_url,
        rate_limits={"github:*": LimitRule(rate=rate, burst=burst)},
    )


@asynccontextmanager
async def rate_limiter(infra: Infra, rate: float = 500.0, burst: int = 50) -> AsyncIterator[None]:
    """The real rate-limiter service, in this process."""
    app = create_limiter_app(limiter_settings(infra, rate, burst))
    async with app.router.lifespan_context(app):
        yield


def seeder_env(sandbox: Sandbox, tokens: list[str] | None = None, **extra: str) -> dict[str, str]:
    """FERRY_* settings of a seeder process talking to `sandbox`."""
    return {
        "FERRY_GITHUB_API_URL": sandbox.url,
        "FERRY_GITHUB_TOKENS": ",".join(tokens or TOKENS),
        "FERRY_GH_SEEDER_PROJECTS": '{"acme": ["acme/widgets", "acme/gadgets"]}',
        **extra,
    }


def seeder_settings(infra: Infra, sandbox: Sandbox, tokens: list[str] | None = None, **extra: Any) -> SeederSettings:
    return SeederSettings(
        amqp_url=infra.amqp_url, database_url=infra.database_url, github_api_url=sandbox.url,
        github_tokens=tokens or TOKENS, gh_seeder_projects={"acme": ["acme/widgets", "acme/gadgets"]}, **extra,
    )


@asynccontextmanager
async def seeder(settings: SeederSettings) -> AsyncIterator[Any]:
    """The gh-seeder service in this process (its lifespan closes its GitHub client)."""
    app = create_service_app(spec(), settings)
    async with app.router.lifespan_context(app):
        yield app


@asynccontextmanager
async def stack(infra: Infra, config: SandboxConfig, *, rate: float = 500.0, **settings: Any) -> AsyncIterator[Sandbox]:
    """Sandbox, rate limiter and seeder, all running."""
    async with serve_sandbox(config) as box, rate_limiter(infra, rate), seeder(
        seeder_settings(infra, box, **settings)
    ):
        yield box


async def start(tap: EventTap, job_id: UUID | None = None, **options: Any) -> UUID:
    """Publish `gh-seeder.seed` with `options`; the job id."""
    return await send_command(tap.channel, "gh-seeder.seed", SeedOptions(**options), job_id)


async def wait_http(url: str, timeout: float = 30) -> None:
    async with httpx.AsyncClient(timeout=2) as client, asyncio.timeout(timeout):
        while True:
            try:
                if (await client.get(url)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
