"""What the GitHub-bound throughput benchmarks share (gh_seeder_throughput, asset_sync_throughput):
the sandbox and rate limiter as processes, one job timed with an account paused part-way, and the
figure against the ceiling the limits allow.

    async with github_servers(NAME, config, rate=rate, burst=burst) as servers:
        servers.start("ferry-gh-seeder", replicas, ACCOUNTS)  # each with every account's token
        run = await timed_job(servers, "gh-seeder", "seed", envelope, pause_s=3, pause_at_s=10, timeout=600)
        found = await servers.requests(ACCOUNTS)
    return report(NAME, run, found, label="crawl", items=Items("pull request", "pull requests", "pull"),
                  expected=pulls, rate=rate, burst=burst, pause_s=pause_s, replicas=replicas)

CEILING: each account's bucket (`burst` + `rate` x the time it was not paused) summed over the
accounts, divided by the API requests one item took in this run (every request the sandbox saw
from a bench account but `GET /user`), per second. `after_notice` is the sandbox's own count of
requests that reached an account after its first 403 of a pause, before the pause ended.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

from bench._common import bench_line
from bench._jobs import job_events
from bench._servers import free_port, own_servers, running
from ferry.contracts import Command, JobEvent

PAUSED = "bench-ben"
"""The account the sandbox puts under a secondary limit a third of the way in."""


def bench_accounts(*who: str) -> dict[str, str]:
    """login -> token of the bench accounts `bench-<who>`."""
    return {f"bench-{name}": f"ghp_bench{name.title()}{'0' * 24}{i}" for i, name in enumerate(who, 1)}


def sandbox_accounts(accounts: dict[str, str]) -> list[dict[str, Any]]:
    """The sandbox's accounts, their quotas roomy enough never to bind: the limiter's rate is the limit under test."""
    return [{"login": login, "tokens": [token], "limit": 1_000_000, "window_s": 3600}
            for login, token in accounts.items()]


@dataclass
class GitHubServers:
    """A benchmark's vhost, database, sandbox and rate limiter, and the services it starts on them."""

    amqp_url: str
    database_url: str
    sandbox: str
    processes: contextlib.ExitStack

    def start(self, script: str, replicas: int, accounts: dict[str, str]) -> None:
        """`replicas` processes of `script`, each with every account's token, against the sandbox."""
        for _ in range(replicas):
            self.processes.enter_context(running(script, {
                "FERRY_AMQP_URL": self.amqp_url, "FERRY_DATABASE_URL": self.database_url,
                "FERRY_GITHUB_API_URL": self.sandbox, "FERRY_GITHUB_TOKENS": ",".join(accounts.values()),
                "FERRY_STEP_CONCURRENCY": "8"}))

    async def requests(self, accounts: dict[str, str]) -> SandboxCounts:
        """What the sandbox counted: per account stats, and the API requests of the bench accounts."""
        async with httpx.AsyncClient(timeout=10) as http:
            stats = (await http.get(f"{self.sandbox}/_sandbox/stats")).json()["accounts"]
            log = (await http.get(f"{self.sandbox}/_sandbox/requests")).json()["items"]
        api = sum(1 for entry in log if entry["account"] in accounts and entry["path"] != "user")
        return SandboxCounts({login: stats[login] for login in accounts}, api)


@dataclass(frozen=True)
class SandboxCounts:
    stats: dict[str, dict[str, Any]]
    api_requests: int


@contextlib.asynccontextmanager
async def github_servers(name: str, sandbox_config: dict[str, Any], *, rate: float,
                         burst: int) -> AsyncIterator[GitHubServers]:
    """Own vhost and database, `ferry-sandbox` serving `sandbox_config` and `ferry-rate-limiter`
    with `github:*` at `rate` requests/s per account (bucket `burst`); all stopped at exit."""
    sandbox_port = free_port()
    async with own_servers(name) as (amqp_url, database_url):
        with contextlib.ExitStack() as stack:
            sandbox = stack.enter_context(running(
                "ferry-sandbox", {"FERRY_SANDBOX_CONFIG": json.dumps(sandbox_config)},
                "--port", str(sandbox_port), port=sandbox_port, ready_path="/_sandbox/stats")).url
            stack.enter_context(running("ferry-rate-limiter", {
                "FERRY_AMQP_URL": amqp_url, "FERRY_DATABASE_URL": database_url,
                "FERRY_RATE_LIMITS": json.dumps({"github:*": {"rate": rate, "burst": burst}})}))
            yield GitHubServers(amqp_url, database_url, sandbox, stack)


@dataclass(frozen=True)
class TimedJob:
    event: JobEvent
    seconds: float
    """From publishing the command to the job's final event."""
    paused_at: float
    """When the pause began, in seconds after publishing (-1: no pause)."""


async def timed_job(servers: GitHubServers, service: str, command: str, envelope: Command[Any], *,
                    pause_s: float, pause_at_s: float, timeout: float) -> TimedJob:
    """Publish the command and wait for its job's final event, pausing PAUSED for `pause_s` seconds
    (403 with Retry-After) `pause_at_s` seconds in."""
    async with job_events(servers.amqp_url, service) as jobs:
        started = time.monotonic()
        await jobs.publish(command, envelope)

        async def pause() -> float:
            await asyncio.sleep(pause_at_s)
            async with httpx.AsyncClient(timeout=5) as http:
                answer = await http.post(f"{servers.sandbox}/_sandbox/secondary", json={
                    "account": PAUSED, "seconds": pause_s, "retry_after": True, "status": 403})
                answer.raise_for_status()
            return time.monotonic() - started

        pauser = asyncio.create_task(pause()) if pause_s > 0 else None
        event = await asyncio.wait_for(jobs.final(envelope.job_id), timeout)
        seconds = time.monotonic() - started
        paused_at = await pauser if pauser is not None else -1.0
        return TimedJob(event, seconds, paused_at)


@dataclass(frozen=True)
class Throughput:
    figure: float
    """Items per second."""
    ceiling: float
    allowed: float
    """Requests the limits allowed in the job's time."""
    per_item: float
    after_notice: int
    secondary_limited: int


def throughput(run: TimedJob, found: SandboxCounts, *, done: int, rate: float, burst: int,
               pause_s: float) -> Throughput:
    per_item = found.api_requests / max(1, done)
    paused = {login: (pause_s if s["secondary_limited"] else 0.0) for login, s in found.stats.items()}
    allowed = sum(burst + rate * max(0.0, run.seconds - paused[login]) for login in found.stats)
    return Throughput(
        figure=done / run.seconds, ceiling=allowed / run.seconds / per_item, allowed=allowed, per_item=per_item,
        after_notice=sum(s["after_notice"] for s in found.stats.values()),
        secondary_limited=sum(s["secondary_limited"] for s in found.stats.values()),
    )


@dataclass(frozen=True)
class Items:
    """What a benchmark counts: its name, singular and plural, and the key of its BENCH fields."""

    one: str
    many: str
    key: str
    """`<key>s=` (items done) and `requests_per_<key>=` in the BENCH line."""


def report(name: str, run: TimedJob, found: SandboxCounts, *, label: str, items: Items, expected: int, rate: float,
           burst: int, pause_s: float, replicas: int) -> bool:
    """Print the figures and the BENCH line; PASS needs the job completed with `expected` items
    done, no request to a paused account, and the figure within 0.9 of the ceiling."""
    done = run.event.succeeded
    took = throughput(run, found, done=done, rate=rate, burst=burst, pause_s=pause_s)
    print(f"{label}: {run.event.type.value}: {run.event.message!r}", flush=True)
    print(f"  {done} {items.many} in {run.seconds:.2f} s = {took.figure:.2f}/s; {found.api_requests} API requests "
          f"({took.per_item:.3f} per {items.one}); {PAUSED} paused {pause_s:g} s at {run.paused_at:.1f} s",
          flush=True)
    print("  per account: " + ", ".join(
        f"{login} {s['requests']} requests ({s['secondary_limited']} limited, {s['after_notice']} after notice)"
        for login, s in found.stats.items()), flush=True)
    print(f"  ceiling: {took.allowed:.0f} requests allowed in {run.seconds:.2f} s / {took.per_item:.3f} = "
          f"{took.ceiling:.2f}/s", flush=True)
    ok = run.event.type.value == "completed" and done == expected and took.after_notice == 0
    return bench_line(name, figure=took.figure, ceiling=took.ceiling, target=0.9, extra_ok=ok, extra={
        "requests_to_paused_account": took.after_notice, f"{items.key}s": done,
        f"requests_per_{items.key}": round(took.per_item, 3), "rate_per_account": rate,
        "accounts": len(found.stats), "replicas": replicas, "secondary_limited": took.secondary_limited,
    })


def arguments(description: str, count: str, default: int) -> argparse.ArgumentParser:
    """The command line both benchmarks take: `count` items, and the limiter's rate, burst and the pause."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(count, type=int, default=default)
    parser.add_argument("--rate", type=float, default=20.0, help="requests/s per account (the limiter's github:*)")
    parser.add_argument("--burst", type=int, default=5)
    parser.add_argument("--pause", type=float, default=3.0, help="secondary-limit pause of one account (0: none)")
    return parser
