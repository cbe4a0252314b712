"""janitor_memory: peak RSS of the janitor deleting 1,000,000 rows against deleting 100,000.

    uv run python -m bench.janitor_memory

Seeds 1,000,000 PENDING webhook rows into a template database. Each run gets a fresh copy of it
and a fresh `ferry-telemetry-janitor` process (its own vhost), publishes a clear command and
samples the process's resident memory every 20 ms (psutil) from the publish to the `completed`
event:

- FIGURE: peak RSS while clearing all 1,000,000 rows.
- CEILING: peak RSS while clearing 100,000 of them (`up_to_id` pins the first 100,000 ids), on
  the same table, so only the number of rows deleted differs.

Memory must stay flat whatever the table size: target ratio <= 1.2.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from typing import Any

import psutil

from bench._common import bench_line
from bench._servers import own_database, own_vhost
from bench.janitor_batched import build_template, janitor_service, run_clear
from ferry.contracts import ClearOptions, WebhookStatus

NAME = "janitor_memory"
TEMPLATE = f"{NAME}_tpl"
ROWS = 1_000_000
SAMPLE_S = 0.020


async def peak_rss_while(pid: int, work: asyncio.Future[Any]) -> int:
    """The largest RSS of process `pid` seen every SAMPLE_S until `work` is done."""
    process = psutil.Process(pid)
    peak: int = process.memory_info().rss
    while not work.done():
        with contextlib.suppress(psutil.Error):
            peak = max(peak, process.memory_info().rss)
        await asyncio.sleep(SAMPLE_S)
    return peak


async def measure(options: ClearOptions) -> tuple[int, int, float]:
    """Peak RSS (bytes), rows deleted and seconds of one clear on a fresh copy with a fresh process."""
    async with own_database(NAME, template=TEMPLATE) as work:
        with own_vhost(NAME) as amqp_url, janitor_service(amqp_url, work) as service:
            job = asyncio.ensure_future(run_clear(amqp_url, options))
            peak = await peak_rss_while(service.pid, job)
            event, seconds = job.result()
    if event.type.value != "completed":
        raise RuntimeError(f"clear did not complete: {event.type.value}: {event.message}")
    return peak, int(event.detail["result"]["deleted"]), seconds


async def main() -> bool:
    async with own_database(TEMPLATE) as template:
        seconds = await build_template(template, ROWS, pending=1.0, done=0.0, ignored=0.0)
        print(f"seeded {ROWS:,} PENDING rows in {seconds:.1f} s", flush=True)
        small, small_rows, small_s = await measure(ClearOptions(status=WebhookStatus.PENDING, up_to_id=ROWS // 10))
        print(f"ceiling: deleting {small_rows:,} rows ({small_s:.1f} s): peak RSS {small / 2**20:.1f} MiB", flush=True)
        big, big_rows, big_s = await measure(ClearOptions(status=WebhookStatus.PENDING))
        print(f"figure: deleting {big_rows:,} rows ({big_s:.1f} s): peak RSS {big / 2**20:.1f} MiB", flush=True)
    return bench_line(
        NAME, figure=big / 2**20, ceiling=small / 2**20, target=1.2, higher_is_better=False,
        extra={"rows_figure": big_rows, "rows_ceiling": small_rows, "unit": "MiB", "path": "service"},
        extra_ok=(big_rows, small_rows) == (ROWS, ROWS // 10),
    )


if __name__ == "__main__":
    sys.exit(0 if asyncio.run(main()) else 1)
