"""peloton_sync_rate: classes per second synced at a fixed rate limit, against what the limit allows.

    uv run python -m bench.peloton_sync_rate [--rate 20] [--burst 5] [--year 2025] [--month 12]

The sandbox, the rate limiter (`peloton:*` at `--rate` requests/s, bucket `--burst`) and
`ferry-peloton-sync` run as processes; one `sync-class-library --year Y --month M --delay 0`
job (cycling and running) into an empty library.

- FIGURE: classes stored per second, from publishing the command to its `completed` event.
- CEILING: what the limit allows in that time, (`burst` + `rate` x seconds) requests, divided by
  the requests one stored class took in this run (list pages and details, from the sandbox's log).
Target: ratio >= 0.9.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from bench._common import bench_line
from bench._peloton import peloton_stack, sync
from bench._servers import own_servers

NAME = "peloton_sync_rate"


async def main(rate: float, burst: int, year: int, month: int) -> bool:
    async with own_servers(NAME) as (amqp_url, database_url):
        with peloton_stack(amqp_url, database_url, rate=rate, burst=burst) as api:
            run = await sync(amqp_url, api, year=year, month=month, delay=0)
    created = int(run.event.detail.get("result", {}).get("created", 0))
    requests = sum(1 for e in run.log if "/api/" in e["path"])
    per_class = requests / max(1, created)
    figure = created / run.seconds
    ceiling = (burst + rate * run.seconds) / run.seconds / per_class
    print(f"sync: {run.event.type.value}: {run.event.message!r}", flush=True)
    print(f"  {created} classes in {run.seconds:.2f} s = {figure:.2f}/s; {requests} requests "
          f"({per_class:.3f} per class); allowed {burst + rate * run.seconds:.0f}", flush=True)
    ok = run.event.type.value == "completed" and created > 0
    return bench_line(NAME, figure=figure, ceiling=ceiling, target=0.9, extra_ok=ok, extra={
        "classes": created, "requests_per_class": round(per_class, 3), "rate": rate, "burst": burst})


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--burst", type=int, default=5)
    parser.add_argument("--year", type=int, default=2025)
    parser.add_argument("--month", type=int, default=12)
    args = parser.parse_args()
    sys.exit(0 if asyncio.run(main(args.rate, args.burst, args.year, args.month)) else 1)
