"""The dashboard as a person uses it: a real `ferry-status` (real RabbitMQ and Postgres) on a free
port, users made with `ferry users add`, and Debian's Chromium driven by Playwright.

Tests that need a job in a given state play its service: they publish its events to
`ferry.events` like a service does, and read the commands the dashboard published back from the
service's queue. Screenshots are kept in build/test-artifacts/dashboard/ for people to look at.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID, uuid4

import aio_pika
import asyncpg
import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from ferry import topology
from ferry.contracts import EventType, JobEvent
from ferry_telemetry_janitor.settings import DEFAULT_TABLE
from tests.support.infra import Infra
from tests.support.processes import BIN, ServiceProcess, running_service

TOKEN = "dashboard-api-token-7f3c9a"
SECRET_KEY = "dashboard-cookie-key-5be1d0c2"
GITHUB_TOKEN = "ghp_dashboardtesttoken000000000000000001"
PASSWORDS = {"admin": "admin-pass-123", "viewer": "viewer-pass-456", "nobody": "nobody-pass-789"}
ARTIFACTS = Path(__file__).resolve().parents[2] / "build" / "test-artifacts" / "dashboard"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
T = TypeVar("T")


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's Chromium, headless, driven by Playwright's sync API.

    Playwright keeps an event loop running in this thread while it is open, so the tests' own
    asyncio calls (publishing events) run in a worker thread (`in_thread`)."""
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("the dashboard tests need Debian's chromium: apt-get install -y chromium", pytrace=False)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        try:
            yield launched
        finally:
            launched.close()


def in_thread(coroutine: Coroutine[Any, Any, T]) -> T:
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@dataclass
class Dashboard:
    """A running status service with its dashboard, and helpers to play services and users."""

    infra: Infra
    status: ServiceProcess
    browser: Browser
    shots: Path

    @property
    def url(self) -> str:
        return self.status.url

    @property
    def env(self) -> dict[str, str]:
        return self.infra.env(FERRY_STATUS_URL=self.url)

    def ferry(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(BIN / "ferry"), *args], env=self.env, input=input, capture_output=True,
                              text=True, timeout=120, check=False)

    def page(self) -> Page:
        context = self.browser.new_context(base_url=self.url, viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.set_default_timeout(20_000)
        return page

    def login(self, name: str, password: str | None = None) -> Page:
        page = self.page()
        page.goto("/")
        page.get_by_label("User name").fill(name)
        page.get_by_label("Password").fill(password or PASSWORDS[name])
        page.get_by_role("button", name="Log in").click()
        return page

    def shot(self, page: Page, name: str) -> Path:
        path = self.shots / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    def publish(self, *events: JobEvent) -> None:
        async def run() -> None:
            connection = await aio_pika.connect(self.infra.amqp_url)
            async with connection:
                channel = await connection.channel(publisher_confirms=True)
                exchange = await topology.declare_exchange(channel, topology.EVENTS)
                for event in events:
                    message = aio_pika.Message(event.model_dump_json().encode(), content_type="application/json",
                                               delivery_mode=aio_pika.DeliveryMode.PERSISTENT)
                    await exchange.publish(message, routing_key=event.routing_key)

        in_thread(run())

    def commands(self, service: str) -> list[aio_pika.abc.AbstractIncomingMessage]:
        """Every command waiting in `<service>.commands` (taken off the queue)."""
        async def run() -> list[aio_pika.abc.AbstractIncomingMessage]:
            connection = await aio_pika.connect(self.infra.amqp_url)
            async with connection:
                channel = await connection.channel()
                queue = await topology.declare(channel, topology.command_queue(service), topology.COMMANDS)
                got = []
                while (message := await queue.get(no_ack=True, fail=False)) is not None:
                    got.append(message)
                return got

        return in_thread(run())

    def api_job(self, job_id: UUID | str) -> dict[str, Any] | None:
        response = httpx.get(f"{self.url}/jobs/{job_id}", timeout=10)
        return response.json() if response.status_code == 200 else None

    def api_job_count(self) -> int:
        total: int = httpx.get(f"{self.url}/jobs", timeout=10).json()["total"]
        return total

    def sql_count_webhooks(self, status: str | None = None) -> int:
        async def run() -> int:
            conn = await asyncpg.connect(self.infra.database_url)
            try:
                return int(await conn.fetchval(f"SELECT count(*) FROM {DEFAULT_TABLE} WHERE $1::text IS NULL"
                                               " OR status = $1", status))
            finally:
                await conn.close()

        return in_thread(run())

    def job_when(
        self, job_id: UUID | str, check: Callable[[dict[str, Any]], bool], timeout: float = 30
    ) -> dict[str, Any]:
        return eventually(lambda: (j if (j := self.api_job(job_id)) and check(j) else None), timeout=timeout,
                          what=f"job {job_id}")


def eventually(check: Callable[[], T | None], *, timeout: float = 30, what: str = "") -> T:
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last={last!r}")


def event(job_id: UUID, seq: int, type_: EventType, *, service: str = "telemetry-janitor", command: str = "clear",
          **fields: Any) -> JobEvent:
    return JobEvent(job_id=job_id, seq=seq, type=type_, service=service, command=command, event_id=uuid4(), **fields)


@pytest.fixture
def dashboard(infra: Infra, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Dashboard]:
    """The status service with its dashboard. A test may set more of its environment with
    `@pytest.mark.parametrize("dashboard", [{"FERRY_...": "..."}], indirect=True)`."""
    extra_env: dict[str, str] = getattr(request, "param", {})
    shots = ARTIFACTS / request.node.name
    shutil.rmtree(shots, ignore_errors=True)
    shots.mkdir(parents=True)
    with running_service(
        "ferry-status", infra, tmp_path, FERRY_API_TOKEN=TOKEN, FERRY_DASHBOARD_SECRET_KEY=SECRET_KEY,
        FERRY_GITHUB_TOKENS=GITHUB_TOKEN, FERRY_STATUS_INGEST_WAIT_MS="5", ready_timeout=60, **extra_env,
    ) as status, chromium() as browser:
        board = Dashboard(infra, status, browser, shots)
        for name, flag in (("admin", "--staff"), ("viewer", "--viewer"), ("nobody", None)):
            done = board.ferry("users", "add", name, *([flag] if flag else []), input=PASSWORDS[name] + "\n")
            assert done.returncode == 0, done.stderr
        yield board
