"""limiter_accuracy: 8 clients on 2 keys for 30 s through the rate limiter: never over, barely under.

Eight `AmqpLimiter` clients (four per key, each its own connection) call `acquire()` back to back
on two keys of rate 20/s and burst 5, answered by the `ferry-rate-limiter` process.

- over_limit: for every window [a, b] between two grants of one key (b - a <= 1 s), the grants
  in it beyond `burst + rate * (b - a)`; the largest such excess, over the schedule the limiter
  handed out (each grant's `due_at`, on the limiter's clock). Target 0.
- observed_over_limit: the same over the instants `acquire()` returned in the clients, i.e. when
  the upstream would see the calls. Those carry RabbitMQ's delivery jitter (an answer that goes out
  at once can arrive a few ms later than a reserved one wakes); the client's wake margin
  (`ferry.ratelimit.base.WAKE_MARGIN_S`) absorbs it. Target 0 too.
- FIGURE: utilisation = grants returned within the run / (burst + rate * duration), both keys.
  CEILING: 1.0 (every grant the limits allow). Target ratio >= 0.95, with both over-limit counts 0.

    uv run python -m bench.limiter_accuracy [--seconds 30] [--rate 20] [--burst 5]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time

from bench._common import bench_line
from bench._servers import own_servers
from bench.limiter_latency import limiter_process
from ferry.contracts.ratelimit import AcquireReply, AcquireRequest
from ferry.ratelimit import AmqpLimiter

NAME = "limiter_accuracy"
TARGET = 0.95
KEYS = ("accuracy:alpha", "accuracy:beta")
CLIENTS_PER_KEY = 4


class RecordingLimiter(AmqpLimiter):
    """Remembers when the limiter said the last reservation falls due."""

    due_at: float | None = None

    async def _ask(self, request: AcquireRequest) -> AcquireReply:
        reply = await super()._ask(request)
        if request.tokens:
            self.due_at = reply.due_at
        return reply


def over_limit(grants: list[float], rate: float, burst: int, longest_s: float = 1.0) -> int:
    """The most grants beyond `burst + rate * w` in any window of length w <= `longest_s`."""
    times = sorted(grants)
    worst = 0
    for i, start in enumerate(times):
        j = i
        while j < len(times) and times[j] - start <= longest_s:
            allowed = burst + rate * (times[j] - start)
            worst = max(worst, (j - i + 1) - int(allowed + 1e-3))  # epoch floats: ~1e-7 s rounding
            j += 1
    return worst


def _show_worst(key: str, times: list[float], rate: float, burst: int) -> None:
    times = sorted(times)
    for i, start in enumerate(times):
        j = i
        while j < len(times) and times[j] - start <= 1.0:
            if (j - i + 1) > int(burst + rate * (times[j] - start) + 1e-3):
                offsets = ", ".join(f"{(t - start) * 1000:.3f}" for t in times[i : j + 1])
                print(f"{key}: {j - i + 1} grants within {(times[j] - start) * 1000:.3f} ms: [{offsets}] ms")
                return
            j += 1


async def main_async(seconds: float, rate: float, burst: int) -> bool:
    limits = {"accuracy:*": {"rate": rate, "burst": burst}}
    async with own_servers(NAME) as (amqp_url, database_url):
        with limiter_process(amqp_url, database_url, limits):
            limiters = [
                await RecordingLimiter.connect(amqp_url, client=f"bench-{i}", timeout_s=5)
                for i in range(CLIENTS_PER_KEY * len(KEYS))
            ]
            grants: dict[str, list[float]] = {key: [] for key in KEYS}
            scheduled: dict[str, list[float]] = {key: [] for key in KEYS}
            start = time.time()
            deadline = start + seconds

            async def worker(limiter: RecordingLimiter, key: str) -> None:
                while True:
                    await limiter.acquire(key)
                    now = time.time()
                    if now > deadline:
                        return
                    grants[key].append(now)
                    assert limiter.due_at is not None
                    scheduled[key].append(limiter.due_at)

            try:
                tasks = [
                    asyncio.create_task(worker(limiter, KEYS[i % len(KEYS)])) for i, limiter in enumerate(limiters)
                ]
                await asyncio.wait_for(asyncio.gather(*tasks), timeout=seconds + 30)
            finally:
                for limiter in limiters:
                    with contextlib.suppress(Exception):
                        await limiter.close()
    duration = deadline - start
    allowed = len(KEYS) * (burst + rate * duration)
    granted = sum(len(times) for times in grants.values())
    excess = max(over_limit(times, rate, burst) for times in scheduled.values())
    if excess:
        for key, times in scheduled.items():
            _show_worst(key, times, rate, burst)
    observed = max(over_limit(times, rate, burst) for times in grants.values())
    for key, times in grants.items():
        print(f"{key}: {len(times)} grants in {duration:.1f} s (allowed {burst + rate * duration:.0f}); worst "
              f"window excess: {over_limit(scheduled[key], rate, burst)} as scheduled by the limiter, "
              f"{over_limit(times, rate, burst)} as observed by the clients")
    return bench_line(
        NAME, figure=granted / allowed, ceiling=1.0, target=TARGET,
        extra={"over_limit": excess, "observed_over_limit": observed, "granted": granted,
               "allowed": f"{allowed:.0f}", "clients": len(KEYS) * CLIENTS_PER_KEY},
        extra_ok=excess == 0 and observed == 0,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=20.0, help="calls per second allowed per key")
    parser.add_argument("--burst", type=int, default=5, help="bucket size per key")
    args = parser.parse_args()
    sys.exit(0 if asyncio.run(main_async(args.seconds, args.rate, args.burst)) else 1)


if __name__ == "__main__":
    main()
