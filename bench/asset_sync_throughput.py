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

import asyncio
import sys
from typing import Any

from bench._github_bench import Items, arguments, bench_accounts, github_servers, report, sandbox_accounts, timed_job
from ferry.contracts import Command
from ferry.contracts.asset_sync import PullAndCleanOptions
from ferry.db import connect
from ferry_asset_sync.admin import AssetRow, upsert
from ferry_asset_sync.assets import AssetTable

NAME = "asset_sync_throughput"
ACCOUNTS = bench_accounts("ann", "ben")
REPLICAS = 2


def sandbox_config(assets: int) -> dict[str, Any]:
    files = {f"lessons/l{i:05d}/README.md": f"---\ntitle: Lesson {i}\n---\n\n# Lesson {i}\n\n![d](./d.png)\n\n"
             "<!-- hide -->\nteacher notes\n<!-- endhide -->\n\nBody.\n" for i in range(assets)}
    return {"accounts": sandbox_accounts(ACCOUNTS),
            "repos": [{"owner": "bench", "name": "lessons", "pulls": 0, "files": files}]}


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


async def main(assets: int, rate: float, burst: int, pause_s: float) -> bool:
    async with github_servers(NAME, sandbox_config(assets), rate=rate, burst=burst) as servers:
        servers.start("ferry-asset-sync", REPLICAS, ACCOUNTS)
        await add_assets(servers.database_url, assets)
        expected_s = assets * 2.0 / (rate * len(ACCOUNTS))
        envelope = Command[PullAndCleanOptions](options=PullAndCleanOptions(delay=0, batch_size=50),
                                                requested_by="bench")
        run = await timed_job(servers, "asset-sync", "pull-and-clean", envelope, pause_s=pause_s,
                              pause_at_s=expected_s / 3, timeout=900)
        found = await servers.requests(ACCOUNTS)
    return report(NAME, run, found, label="job", items=Items("asset", "assets", "asset"), expected=assets,
                  rate=rate, burst=burst, pause_s=pause_s, replicas=REPLICAS)


if __name__ == "__main__":
    args = arguments(__doc__.splitlines()[0], "--assets", 500).parse_args()
    sys.exit(0 if asyncio.run(main(args.assets, args.rate, args.burst, args.pause)) else 1)
