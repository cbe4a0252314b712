"""gh_seeder_throughput: pull requests/s crawled by `gh-seeder seed` against the rate the limits allow.

    uv run python -m bench.gh_seeder_throughput [--pulls 350] [--rate 20] [--burst 5] [--pause 3]

Everything runs as its own process, as deployed: the GitHub sandbox (`ferry-sandbox`, three
accounts, one repository of `--pulls` pull requests), the rate limiter (`ferry-rate-limiter`,
`github:*` at `--rate` requests/s per account with a bucket of `--burst`) and the seeder
(`ferry-gh-seeder`, one token per account), on a vhost and a database of their own.

- FIGURE: pull requests per second, from publishing `gh-seeder.seed --repo bench/crawl` to its
  `completed` event (every pull request stored with its reviews, commits and files).
- CEILING: what the limits allow in that time: each account's bucket (`burst` + `rate` x the time
  it was not paused) summed over the accounts, divided by the requests one pull request took in
  this run (every API request the sandbox saw, divided by the pull requests), per second.

One third of the way in, the sandbox puts one account under a secondary limit for `--pause`
seconds (403 with Retry-After). Also required: `requests_to_paused_account=0`, the requests the
sandbox saw reach an account after its first 403 of a pause and before the pause ended.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from typing import Any

import httpx

from bench._common import bench_line
from bench._jobs import job_events
from bench._servers import free_port, own_servers, running
from ferry.contracts import Command, JobEvent
from ferry.contracts.seeder import SeedOptions

NAME = "gh_seeder_throughput"
REPO = "bench/crawl"
ACCOUNTS = {f"bench-{who}": f"ghp_bench{who.title()}{'0' * 24}{i}" for i, who in enumerate(("ann", "ben", "cat"), 1)}
PAUSED = "bench-ben"


def sandbox_config(pulls: int) -> dict[str, Any]:
    # Quotas roomy enough never to bind: the limiter's rate is the limit under test.
    accounts = [{"login": login, "tokens": [token], "limit": 1_000_000, "window_s": 3600}
                for login, token in ACCOUNTS.items()]
    owner, name = REPO.split("/")
    return {"accounts": accounts, "repos": [{"owner": owner, "name": name, "pulls": pulls}]}


async def crawl(amqp_url: str, sandbox: str, pause_s: float, pause_at_s: float) -> tuple[JobEvent, float, float]:
    """Publish the seed command; its final event, seconds from publish to it, and when the pause began."""
    envelope = Command[SeedOptions](options=SeedOptions(repo=REPO), requested_by="bench")
    async with job_events(amqp_url, "gh-seeder") as jobs:
        started = time.monotonic()
        await jobs.publish("seed", envelope)

        async def pause() -> float:
            await asyncio.sleep(pause_at_s)
            async with httpx.AsyncClient(timeout=5) as http:
                answer = await http.post(f"{sandbox}/_sandbox/secondary", json={
                    "account": PAUSED, "seconds": pause_s, "retry_after": True, "status": 403})
                answer.raise_for_status()
            return time.monotonic() - started

        pauser = asyncio.create_task(pause()) if pause_s > 0 else None
        event = await asyncio.wait_for(jobs.final(envelope.job_id), 600)
        seconds = time.monotonic() - started
        paused_at = await pauser if pauser is not None else -1.0
        return event, seconds, paused_at


async def main(pulls: int, rate: float, burst: int, pause_s: float, replicas: int) -> bool:
    sandbox_port = free_port()
    async with own_servers(NAME) as (amqp_url, database_url):
        with contextlib.ExitStack() as stack:
            common = {"FERRY_AMQP_URL": amqp_url, "FERRY_DATABASE_URL": database_url}
            sandbox = stack.enter_context(running(
                "ferry-sandbox", {"FERRY_SANDBOX_CONFIG": json.dumps(sandbox_config(pulls))},
                "--port", str(sandbox_port), port=sandbox_port, ready_path="/_sandbox/stats")).url
            stack.enter_context(running("ferry-rate-limiter", {
                **common, "FERRY_RATE_LIMITS": json.dumps({"github:*": {"rate": rate, "burst": burst}})}))
            for _ in range(replicas):
                stack.enter_context(running("ferry-gh-seeder", {
                    **common, "FERRY_GITHUB_API_URL": sandbox,
                    "FERRY_GITHUB_TOKENS": ",".join(ACCOUNTS.values()), "FERRY_STEP_CONCURRENCY": "8"}))
            expected_s = pulls * 4.2 / (rate * len(ACCOUNTS))
            event, seconds, paused_at = await crawl(amqp_url, sandbox, pause_s, expected_s / 3)
            async with httpx.AsyncClient(timeout=10) as http:
                stats = (await http.get(f"{sandbox}/_sandbox/stats")).json()["accounts"]
                log = (await http.get(f"{sandbox}/_sandbox/requests")).json()["items"]
    api_requests = sum(1 for entry in log if entry["account"] in ACCOUNTS and entry["path"] != "user")
    fetched = event.succeeded
    per_pull = api_requests / max(1, fetched)
    paused = {login: (pause_s if stats[login]["secondary_limited"] else 0.0) for login in ACCOUNTS}
    allowed = sum(burst + rate * max(0.0, seconds - paused[login]) for login in ACCOUNTS)
    ceiling = allowed / seconds / per_pull
    figure = fetched / seconds
    after_notice = sum(stats[login]["after_notice"] for login in ACCOUNTS)
    print(f"crawl: {event.type.value}: {event.message!r}", flush=True)
    print(f"  {fetched} pull requests in {seconds:.2f} s = {figure:.2f}/s; {api_requests} API requests "
          f"({per_pull:.3f} per pull request); {PAUSED} paused {pause_s:g} s at {paused_at:.1f} s", flush=True)
    print("  per account: " + ", ".join(
        f"{login} {stats[login]['requests']} requests ({stats[login]['secondary_limited']} limited, "
        f"{stats[login]['after_notice']} after notice)" for login in ACCOUNTS), flush=True)
    print(f"  ceiling: {allowed:.0f} requests allowed in {seconds:.2f} s / {per_pull:.3f} = {ceiling:.2f}/s",
          flush=True)
    ok = event.type.value == "completed" and fetched == pulls and after_notice == 0
    return bench_line(NAME, figure=figure, ceiling=ceiling, target=0.9, extra_ok=ok, extra={
        "requests_to_paused_account": after_notice, "pulls": fetched, "requests_per_pull": round(per_pull, 3),
        "rate_per_account": rate, "accounts": len(ACCOUNTS), "replicas": replicas,
        "secondary_limited": sum(stats[login]["secondary_limited"] for login in ACCOUNTS),
    })


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pulls", type=int, default=350)
    parser.add_argument("--rate", type=float, default=20.0, help="requests/s per account (the limiter's github:*)")
    parser.add_argument("--burst", type=int, default=5)
    parser.add_argument("--pause", type=float, default=3.0, help="secondary-limit pause of one account (0: none)")
    parser.add_argument("--replicas", type=int, default=1, help="seeder processes")
    args = parser.parse_args()
    sys.exit(0 if asyncio.run(main(args.pulls, args.rate, args.burst, args.pause, args.replicas)) else 1)
