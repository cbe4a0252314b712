"""The GitHub sandbox in-process (the fake outside world) and a real in-process limiter."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from ferry.github import GitHubClient, TokenPool
from ferry.ratelimit import LimitRule, LimitTable, LocalLimiter, PausePolicy
from ferry_sandbox import AccountConfig, RepoConfig, SandboxConfig, create_app
from ferry_sandbox.state import SandboxState

ALICE = "ghp_testAlice00000000000000000000000001"
ALICE2 = "ghp_testAlice00000000000000000000000002"
BOB = "ghp_testBob0000000000000000000000000003"
BAD = "ghp_testNobody000000000000000000000000099"
BASE = "http://sandbox.test"


def config(**faults: Any) -> SandboxConfig:
    """Two accounts (alice has two tokens), roomy quotas, two repositories."""
    return SandboxConfig(
        accounts=[
            AccountConfig(login="octo-alice", tokens=[ALICE, ALICE2], limit=100_000, window_s=60),
            AccountConfig(login="octo-bob", tokens=[BOB], limit=100_000, window_s=60),
        ],
        repos=[RepoConfig(owner="posthog", name="posthog", pulls=250), RepoConfig(owner="acme", name="tiny", pulls=3)],
        faults=faults,  # type: ignore[arg-type]
    )


@dataclass
class Sandbox:
    """A sandbox app and an HTTP client wired to it (no sockets)."""

    http: httpx.AsyncClient
    state: SandboxState
    sleeps: list[float] = field(default_factory=list)

    async def admin(self, path: str, body: dict[str, Any] | None = None) -> Any:
        response = await (self.http.post(path, json=body) if body is not None else self.http.get(path))
        response.raise_for_status()
        return response.json()

    async def stats(self, login: str = "octo-alice") -> dict[str, Any]:
        found: dict[str, Any] = (await self.admin("/_sandbox/stats"))["accounts"][login]
        return found

    async def raw(self, path: str, token: str = ALICE, **headers: str) -> httpx.Response:
        return await self.http.get(path, headers={"Authorization": f"token {token}", **headers})

    def paths(self, login: str = "octo-alice") -> list[tuple[str, int]]:
        return [(r["path"], r["status"]) for r in self.state.log if r["account"] == login]

    async def sleep(self, seconds: float) -> None:
        """The client's sleep: recorded, then really slept."""
        self.sleeps.append(round(seconds, 3))
        await asyncio.sleep(seconds)

    def client(self, tokens: list[str], limiter: LocalLimiter, **options: Any) -> GitHubClient:
        options.setdefault("retry_initial_s", 0.01)
        options.setdefault("min_secondary_wait_s", 0.1)
        options.setdefault("reset_margin_s", 0.05)
        return GitHubClient(self.http, TokenPool(tokens), limiter, sleep=self.sleep, **options)


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return config()


@pytest.fixture
async def sandbox(sandbox_config: SandboxConfig) -> AsyncIterator[Sandbox]:
    app = create_app(sandbox_config)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        yield Sandbox(http, app.state.sandbox)


def make_limiter(first_pause_s: float = 0.05) -> LocalLimiter:
    """A real in-process limiter with generous buckets and short secondary pauses."""
    table = LimitTable({"github:*": LimitRule(rate=500, burst=500)}, LimitRule(rate=500, burst=500))
    return LocalLimiter(table, policy=PausePolicy(first_pause_s=first_pause_s, max_pause_s=5, quiet_s=5))


@pytest.fixture
def limiter() -> LocalLimiter:
    return make_limiter()

