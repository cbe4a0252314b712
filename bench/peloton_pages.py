"""peloton_pages: list pages a one-month sync asks for, against the fewest that can do.

    uv run python -m bench.peloton_pages [--year 2024] [--month 6]

The sandbox (`ferry-sandbox`, three years of classes ending 2026-01-31), the rate limiter and
`ferry-peloton-sync` run as processes; one `sync-class-library --year Y --month M --dry-run` job
(cycling and running; a dry run asks for no details, so only list pages are counted).

- FIGURE: archived-list pages requested (both disciplines), from the sandbox's request log.
- CEILING: the minimum: per discipline, the pages of 50 classes that overlap the month, plus the
  first page (which a sync needs to learn the list's length) when it does not overlap.
Target: ratio <= 1.0 (never a page more than needed).
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from bench._common import bench_line
from bench._peloton import peloton_stack, sync
from bench._servers import own_servers
from ferry_peloton_sync.rules import window
from ferry_sandbox.peloton import default_peloton_config
from ferry_sandbox.peloton_data import Catalogue

NAME = "peloton_pages"
PAGE = 50
DISCIPLINES = ("cycling", "running")


def minimum(year: int, month: int) -> dict[str, int]:
    config = default_peloton_config()
    catalogue = Catalogue(config.first_day, config.last_day, dict(config.per_day), config.seed)
    win = window(year, month)
    needed = {}
    for d in DISCIPLINES:
        pages = {i // PAGE for i in range(catalogue.count(d)) if win.contains(catalogue.air_time(d, i))}
        needed[d] = len(pages) + (0 if 0 in pages else 1)
    return needed


async def main(year: int, month: int) -> bool:
    async with own_servers(NAME) as (amqp_url, database_url):
        with peloton_stack(amqp_url, database_url, rate=200.0, burst=20) as api:
            run = await sync(amqp_url, api, year=year, month=month, dry_run=True, delay=0,
                             disciplines=",".join(DISCIPLINES))
    needed = minimum(year, month)
    got = {d: run.count("/ride/archived", d) for d in DISCIPLINES}
    print(f"sync: {run.event.type.value}: {run.event.message!r} in {run.seconds:.2f} s", flush=True)
    print(f"  pages asked for: {got}; minimum: {needed}; details: {run.count('/details')}", flush=True)
    ok = run.event.type.value == "completed" and run.count("/details") == 0
    return bench_line(NAME, figure=sum(got.values()), ceiling=sum(needed.values()), target=1.0,
                      higher_is_better=False, extra_ok=ok,
                      extra={"month": f"{year}-{month:02d}", **{f"pages_{d}": got[d] for d in DISCIPLINES}})


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--year", type=int, default=2024)
    parser.add_argument("--month", type=int, default=6)
    args = parser.parse_args()
    sys.exit(0 if asyncio.run(main(args.year, args.month)) else 1)
