"""content_fetch_parallel: a `content-fetch.fetch --type both` job over 20 slow sources, two replicas,
against the most their step concurrency allows.

    uv run python -m bench.content_fetch_parallel [--latency-ms 1000] [--replicas 2] [--concurrency 5]

Everything runs as its own process, as deployed: the content sandbox (`ferry-sandbox`, every answer
`--latency-ms` late), the rate limiter (`http:*` roomy: the sources' latency is what binds, not a
limit) and `--replicas` `ferry-content-fetch` replicas (`FERRY_STEP_CONCURRENCY=--concurrency`),
on a vhost and a database of their own. The 20 sources: 10 Open Trivia DB sites (10 questions
each, with a session token: two requests) and 10 RSS feeds (20 entries each: one request).

- FIGURE: sources per second, from publishing `content-fetch.fetch` to its `completed` event.
- CEILING: sources per second if the sources' latencies were spread perfectly over every step slot:
  20 / (the sum of the sources' latencies / (replicas x step concurrency)), the sum being the
  requests the sandbox answered (its log) x `--latency-ms`.
Five steps a replica (not the default 4): the 30 requests split evenly over 10 slots (a trivia
source, then a feed, in each), so a perfect run meets the ceiling and the gap is ferry's alone: its
cost per step (the step's transaction, events, the limiter's round trip) and the job's plan and end.
Over 8 slots whole sources cannot split evenly (some slot carries 4 s of the 3.75 s average), which
would cap the ratio at 0.94 before ferry cost anything.
Target: ratio >= 0.8. Also required: the job completed, both statuses `✓ Completed`, every item
fetched (300) and no source failed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
from typing import Any

import httpx

from bench._common import bench_line
from bench._jobs import job_events
from bench._servers import free_port, own_servers, running
from ferry.contracts import Command
from ferry.contracts.content_fetch import COMPLETED, ContentType, FetchOptions

NAME = "content_fetch_parallel"
SITES = [f"bench-trivia-{n:02d}" for n in range(10)]
FEEDS = [f"bench-news-{n:02d}" for n in range(10)]
QUESTIONS, ENTRIES = 10, 20


def sandbox_patch(latency_ms: float) -> dict[str, Any]:
    """The sites and feeds (no per-client interval on the trivia sites: a bench of parallelism)."""
    return {"latency_ms": latency_ms,
            "trivia": {site: {"per_category": 40, "min_interval_s": 0} for site in SITES},
            "feeds": {feed: {"format": "rss", "entries": ENTRIES} for feed in FEEDS}}


def sources(content: str) -> list[dict[str, Any]]:
    trivia = [{"name": site, "kind": "opentdb", "url": f"{content}/trivia/{site}/api.php",
               "options": {"amount": QUESTIONS, "category": 9, "min_interval_s": 0}} for site in SITES]
    feeds = [{"name": feed, "kind": "feed", "url": f"{content}/feeds/{feed}.xml"} for feed in FEEDS]
    return trivia + feeds


async def main(latency_ms: float, replicas: int, concurrency: int) -> bool:
    sandbox_port = free_port()
    async with own_servers(NAME) as (amqp_url, database_url):
        with contextlib.ExitStack() as stack:
            common = {"FERRY_AMQP_URL": amqp_url, "FERRY_DATABASE_URL": database_url}
            sandbox = stack.enter_context(running("ferry-sandbox", {}, "--port", str(sandbox_port), port=sandbox_port,
                                                  ready_path="/_sandbox/stats")).url
            content = f"{sandbox}/content"
            async with httpx.AsyncClient(timeout=10) as http:
                (await http.post(f"{content}/_sandbox/config", json=sandbox_patch(latency_ms))).raise_for_status()
            stack.enter_context(running("ferry-rate-limiter", {
                **common, "FERRY_RATE_LIMITS": json.dumps({"http:*": {"rate": 1000, "burst": 100}})}))
            for _ in range(replicas):
                stack.enter_context(running("ferry-content-fetch", {
                    **common, "FERRY_CONTENT_SOURCES": json.dumps(sources(content)),
                    "FERRY_STEP_CONCURRENCY": str(concurrency)}))
            envelope = Command[FetchOptions](options=FetchOptions(type=ContentType.BOTH), requested_by="bench")
            async with job_events(amqp_url, "content-fetch") as jobs:
                started = time.monotonic()
                await jobs.publish("fetch", envelope)
                event = await asyncio.wait_for(jobs.final(envelope.job_id), 300)
                seconds = time.monotonic() - started
            async with httpx.AsyncClient(timeout=10) as http:
                log = (await http.get(f"{content}/_sandbox/requests")).json()
    first = min(entry["at"] for entry in log)
    for entry in log:  # when each answer went out: the rounds the step slots made
        print(f"  answered at {entry['at'] - first:6.2f} s: {entry['path']} {entry['status']}", flush=True)
    count = len(SITES) + len(FEEDS)
    requests = len(log)  # the admin endpoints are not logged: every entry is a source's request
    slots = replicas * concurrency
    best_s = requests * latency_ms / 1000 / slots
    figure, ceiling = count / seconds, count / best_s
    result: dict[str, Any] = event.detail.get("result", {})
    # The sites share one question bank, so questions met at several are stored once (duplicates): all fetched.
    expected = len(SITES) * QUESTIONS + len(FEEDS) * ENTRIES
    print(f"job: {event.type.value}: {event.message!r}", flush=True)
    print(f"  {count} sources in {seconds:.2f} s; {requests} requests x {latency_ms:g} ms over {slots} step slots "
          f"({replicas} replicas x {concurrency}) = {best_s:.2f} s at best", flush=True)
    ok = (event.type.value == "completed" and result.get("mcq_status") == COMPLETED
          and result.get("current_affairs_status") == COMPLETED and result.get("total_items") == expected
          and result.get("error_count") == 0)
    return bench_line(NAME, figure=figure, ceiling=ceiling, target=0.8, extra_ok=ok, extra={
        "sources": count, "seconds": round(seconds, 2), "best_seconds": round(best_s, 2), "requests": requests,
        "latency_ms": latency_ms, "replicas": replicas, "step_concurrency": concurrency,
        "items": result.get("total_items"), "new_items": result.get("new_items"),
        "load1": round(os.getloadavg()[0], 1),
    })


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=float, default=1000.0, help="added to every sandbox answer")
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=5, help="FERRY_STEP_CONCURRENCY of each replica")
    args = parser.parse_args()
    sys.exit(0 if asyncio.run(main(args.latency_ms, args.replicas, args.concurrency)) else 1)
