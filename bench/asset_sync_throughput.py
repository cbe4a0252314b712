"""asset_sync_throughput: assets/s pulled and cleaned by `asset-sync pull-and-clean`, two replicas,
against the rate the limits allow.

    uv run python -m bench.asset_sync_throughput [--assets 500] [--rate 20] [--burst 5] [--pause 3]

Everything runs as its own process, as deployed: the GitHub sandbox (`ferry-sandbox`, two accounts,
one repository with `--assets` lessons), the rate limiter (`ferry-rate-limiter`, `github:*` at
`--rate` requests/s per account, bucket `--burst`) and two `ferry-asset-sync` replicas (both tokens
each), on a vhost and a database of their own. `--delay 0`: the accounts' limits are what binds.

- FIGURE: assets per second, from publishing `asset-sync.pull-and-clean` to its `completed` event
  (every asset pulled, written and cleaned).
- CEILING: what the limits allow in that time: each account's bucket (`burst` + `rate` x the time it
  was not paused) summed, divided by the API requests one asset took in this run, per second.

A third of the way in, the sandbox puts one account under a secondary limit for `--pause` seconds.
Also required: `requests_to_paused_account=0` (requests reaching an account after its first 403 of
a pause, before the pause ended, by the sandbox's own count).
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
from ferry.contracts.asset_sync import PullAndCleanOptions
from ferry.db import connect
from ferry_asset_sync.admin import AssetRow, upsert
from ferry_asset_sync.assets import AssetTable

NAME = "asset_sync_throughput"
ACCOUNTS = {f"bench-{who}": f"ghp_bench{who.title()}{'0' * 24}{i}" for i, who in enumerate(("ann", "ben"), 1)}
PAUSED = "bench-ben"
REPLICAS = 2


def sandbox_config(assets: int) -> dict[str, Any]:
    accounts = [{"login": login, "tokens": [token], "limit": 1_000_000, "window_s": 3600}
                for login, token in ACCOUNTS.items()]
    files = {f"lessons/l{i:05d}/README.md": f"---\ntitle: Lesson {i}\n---\n\n# Lesson {i}\n\n![d](./d.png)\n\n"
             "<!-- hide -->\nteacher notes\n<!-- endhide -->\n\nBody.\n" for i in range(assets)}
    return {"accounts": accounts, "repos": [{"owner": "bench", "name": "lessons", "pulls": 0, "files": files}]}


async def add_assets(database_url: str, count: int) -> None:
    conn = await connect(database_url)
    try:
        table = await AssetTable.load(conn, '"asset_sync"."registry_asset"', "asset_sync.registry_asset")
        await upsert(conn, table, [AssetRow(
            slug=f"lesson-{i:05d}", lang="en", asset_type="LESSON", status="PUBLISHED",  # type: ignore[arg-type]
            readme_url=f"https://github.com/bench/lessons/blob/main/lessons/l{i:05d}/README.md",
        ) for i in range(count)])
    finally:
        await conn.close()


async def run_job(amqp_url: str, sandbox: str, pause_s: float, pause_at_s: float) -> tuple[JobEvent, float, float]:
    envelope = Command[PullAndCleanOptions](options=PullAndCleanOptions(delay=0, batch_size=50),
                                            requested_by="bench")
    async with job_events(amqp_url, "asset-sync") as jobs:
        started = time.monotonic()
        await jobs.publish("pull-and-clean", envelope)

        async def pause() -> float:
            await asyncio.sleep(pause_at_s)
            async with httpx.AsyncClient(timeout=5) as http:
                answer = await http.post(f"{sandbox}/_sandbox/secondary", json={
                    "account": PAUSED, "seconds": pause_s, "retry_after": True, "status": 403})
                answer.raise_for_status()
            return time.monotonic() - started

        pauser = asyncio.create_task(pause()) if pause_s > 0 else None
        event = await asyncio.wait_for(jobs.final(envelope.job_id), 900)
        seconds = time.monotonic() - started
        paused_at = await pauser if pauser is not None else -1.0
        return event, seconds, paused_at


async def main(assets: int, rate: float, burst: int, pause_s: float) -> bool:
    sandbox_port = free_port()
    async with own_servers(NAME) as (amqp_url, database_url):
        with contextlib.ExitStack() as stack:
            common = {"FERRY_AMQP_URL": amqp_url, "FERRY_DATABASE_URL": database_url}
            sandbox = stack.enter_context(running(
                "ferry-sandbox", {"FERRY_SANDBOX_CONFIG": json.dumps(sandbox_config(assets))},
                "--port", str(sandbox_port), port=sandbox_port, ready_path="/_sandbox/stats")).url
            stack.enter_context(running("ferry-rate-limiter", {
                **common, "FERRY_RATE_LIMITS": json.dumps({"github:*": {"rate": rate, "burst": burst}})}))
            for _ in range(REPLICAS):
                stack.enter_context(running("ferry-asset-sync", {
                    **common, "FERRY_GITHUB_API_URL": sandbox, "FERRY_GITHUB_TOKENS": ",".join(ACCOUNTS.values()),
                    "FERRY_STEP_CONCURRENCY": "8"}))
            await add_assets(database_url, assets)
            expected_s = assets * 2.0 / (rate * len(ACCOUNTS))
            event, seconds, paused_at = await run_job(amqp_url, sandbox, pause_s, expected_s / 3)
            async with httpx.AsyncClient(timeout=10) as http:
                stats = (await http.get(f"{sandbox}/_sandbox/stats")).json()["accounts"]
                log = (await http.get(f"{sandbox}/_sandbox/requests")).json()["items"]
    api_requests = sum(1 for entry in log if entry["account"] in ACCOUNTS and entry["path"] != "user")
    done = event.succeeded
    per_asset = api_requests / max(1, done)
    paused = {login: (pause_s if stats[login]["secondary_limited"] else 0.0) for login in ACCOUNTS}
    allowed = sum(burst + rate * max(0.0, seconds - paused[login]) for login in ACCOUNTS)
    ceiling = allowed / seconds / per_asset
    figure = done / seconds
    after_notice = sum(stats[login]["after_notice"] for login in ACCOUNTS)
    print(f"job: {event.type.value}: {event.message!r}", flush=True)
    print(f"  {done} assets in {seconds:.2f} s = {figure:.2f}/s; {api_requests} API requests "
          f"({per_asset:.3f} per asset); {PAUSED} paused {pause_s:g} s at {paused_at:.1f} s", flush=True)
    print("  per account: " + ", ".join(
        f"{login} {stats[login]['requests']} requests ({stats[login]['secondary_limited']} limited, "
        f"{stats[login]['after_notice']} after notice)" for login in ACCOUNTS), flush=True)
    print(f"  ceiling: {allowed:.0f} requests allowed in {seconds:.2f} s / {per_asset:.3f} = {ceiling:.2f}/s",
          flush=True)
    ok = event.type.value == "completed" and done == assets and after_notice == 0
    return bench_line(NAME, figure=figure, ceiling=ceiling, target=0.9, extra_ok=ok, extra={
        "requests_to_paused_account": after_notice, "assets": done, "requests_per_asset": round(per_asset, 3),
        "rate_per_account": rate, "accounts": len(ACCOUNTS), "replicas": REPLICAS,
        "secondary_limited": sum(stats[login]["secondary_limited"] for login in ACCOUNTS),
    })


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=500)
    parser.add_argument("--rate", type=float, default=20.0, help="requests/s per account (the limiter's github:*)")
    parser.add_argument("--burst", type=int, default=5)
    parser.add_argument("--pause", type=float, default=3.0, help="secondary-limit pause of one account (0: none)")
    args = parser.parse_args()
    sys.exit(0 if asyncio.run(main(args.assets, args.rate, args.burst, args.pause)) else 1)
