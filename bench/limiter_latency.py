"""limiter_latency: p99 of an acquire round trip at 1,000 acquires/s, against bare request/reply.

FIGURE: `AmqpLimiter.acquire()` on a key with room to spare (so it is exactly one round trip)
answered by the `ferry-rate-limiter` process. CEILING: a bare request/reply to an echo
process (same broker, direct reply-to, one persistent reply consumer, manual acks, no confirms, both
ends on aio-pika's transport channel like the limiter's hot path).
Both are paced open-loop at the same rate, alternating in slices so that both see the same load
on this shared machine. Target: p99(figure) / p99(ceiling) <= 2.

    uv run python -m bench.limiter_latency [--rate 1000] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import cast

import aio_pika
import aio_pika.abc
import aiormq
import aiormq.abc
from aiormq import spec

from bench._common import bench_line
from bench._servers import own_servers, running
from ferry.ratelimit import AmqpLimiter

NAME = "limiter_latency"
TARGET = 2.0
ECHO_QUEUE = "bench.echo"


@contextlib.contextmanager
def limiter_process(amqp_url: str, database_url: str, limits: dict[str, dict[str, float]]) -> Iterator[None]:
    """`ferry-rate-limiter` running (ready) with these limits; stopped at exit."""
    env = {"FERRY_AMQP_URL": amqp_url, "FERRY_DATABASE_URL": database_url, "FERRY_RATE_LIMITS": json.dumps(limits)}
    with running("ferry-rate-limiter", env):
        yield


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# -- the ceiling: a bare echo over direct reply-to -------------------------------------------------
# Both ends talk to aio-pika's transport channel (aiormq) directly, as the limiter's hot path does:
# the ceiling is the least a request/reply over this broker can cost, not aio-pika's message objects.


async def echo_server(amqp_url: str) -> None:
    """Answer every request on `bench.echo` with its own body (runs until killed)."""
    connection = await aio_pika.connect_robust(amqp_url)
    channel = await connection.channel(publisher_confirms=False)
    await channel.set_qos(prefetch_count=1000)
    await channel.declare_queue(ECHO_QUEUE, durable=True)
    transport = cast(aiormq.Channel, await channel.get_underlay_channel())

    async def on_message(message: aiormq.abc.DeliveredMessage) -> None:
        properties = spec.Basic.Properties(correlation_id=message.header.properties.correlation_id)
        reply_to = message.header.properties.reply_to or ""
        await transport.basic_publish(message.body, routing_key=reply_to, properties=properties, wait=False)
        await transport.basic_ack(message.delivery_tag)

    await transport.basic_consume(ECHO_QUEUE, on_message)
    await asyncio.Future()


class EchoClient:
    """Bare request/reply: one channel, one reply consumer on direct reply-to, futures by id."""

    def __init__(self, transport: aiormq.Channel) -> None:
        self.transport = transport
        self.pending: dict[str, asyncio.Future[bytes]] = {}
        self.ids = itertools.count()

    @classmethod
    async def connect(cls, connection: aio_pika.abc.AbstractConnection) -> EchoClient:
        channel = await connection.channel(publisher_confirms=False)
        await channel.declare_queue(ECHO_QUEUE, durable=True)
        client = cls(cast(aiormq.Channel, await channel.get_underlay_channel()))
        await client.transport.basic_consume("amq.rabbitmq.reply-to", client._on_reply, no_ack=True)
        return client

    async def _on_reply(self, message: aiormq.abc.DeliveredMessage) -> None:
        future = self.pending.pop(message.header.properties.correlation_id or "", None)
        if future is not None and not future.done():
            future.set_result(message.body)

    async def request(self, body: bytes) -> bytes:
        correlation_id = str(next(self.ids))
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.pending[correlation_id] = future
        properties = spec.Basic.Properties(correlation_id=correlation_id, reply_to="amq.rabbitmq.reply-to")
        await self.transport.basic_publish(body, routing_key=ECHO_QUEUE, properties=properties, wait=False)
        return await asyncio.wait_for(future, 10)


# -- pacing ------------------------------------------------------------------------------------------


async def paced(call: Callable[[], Awaitable[object]], rate: float, seconds: float) -> list[float]:
    """Start `call` `rate` times a second for `seconds` (open loop); the round trips in seconds."""
    latencies: list[float] = []
    tasks: set[asyncio.Task[None]] = set()

    async def one() -> None:
        started = time.perf_counter()
        await call()
        latencies.append(time.perf_counter() - started)

    total = int(rate * seconds)
    t0 = time.perf_counter()
    sent = 0
    while sent < total:
        due = min(total, int((time.perf_counter() - t0) * rate) + 1)
        while sent < due:
            task = asyncio.create_task(one())
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            sent += 1
        await asyncio.sleep(max(0.0, t0 + sent / rate - time.perf_counter()))
    await asyncio.gather(*tasks)
    return latencies


async def main_async(rate: float, seconds: float, slices: int) -> bool:
    async with own_servers(NAME) as (amqp_url, database_url):
        echo = subprocess.Popen([sys.executable, "-m", "bench.limiter_latency", "--echo-server", amqp_url])
        try:
            with limiter_process(amqp_url, database_url, {"bench:*": {"rate": 1e9, "burst": 1_000_000_000}}):
                connection = await aio_pika.connect(amqp_url)
                limiter = await AmqpLimiter.connect(amqp_url, client="bench", timeout_s=10)
                try:
                    bare = await EchoClient.connect(connection)
                    body = b'{"v":1,"key":"bench:k","tokens":1,"rate":null,"burst":null,"client":"bench"}'
                    await paced(lambda: bare.request(body), rate, 1)  # warm up both paths
                    await paced(lambda: limiter.acquire("bench:k"), rate, 1)
                    bare_ms: list[float] = []
                    limiter_ms: list[float] = []
                    for _ in range(slices):  # alternate, so both see the same background load
                        bare_ms += await paced(lambda: bare.request(body), rate, seconds / slices)
                        limiter_ms += await paced(lambda: limiter.acquire("bench:k"), rate, seconds / slices)
                finally:
                    await limiter.close()
                    await connection.close()
        finally:
            echo.terminate()
            echo.wait(timeout=30)
    p99_limiter, p99_bare = percentile(limiter_ms, 0.99) * 1000, percentile(bare_ms, 0.99) * 1000
    p50_limiter, p50_bare = percentile(limiter_ms, 0.5) * 1000, percentile(bare_ms, 0.5) * 1000
    print(f"limiter acquire: {len(limiter_ms)} round trips, p50 {p50_limiter:.2f} ms, p99 {p99_limiter:.2f} ms")
    print(f"bare request/reply: {len(bare_ms)} round trips, p50 {p50_bare:.2f} ms, p99 {p99_bare:.2f} ms")
    return bench_line(
        NAME, figure=p99_limiter, ceiling=p99_bare, target=TARGET, higher_is_better=False,
        extra={"p50_limiter_ms": f"{p50_limiter:.2f}", "p50_bare_ms": f"{p50_bare:.2f}", "rate": f"{rate:g}/s"},
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rate", type=float, default=1000.0, help="requests per second (both paths)")
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds of measurement per path")
    parser.add_argument("--slices", type=int, default=4, help="alternations between the two paths")
    parser.add_argument("--echo-server", metavar="AMQP_URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.echo_server:
        asyncio.run(echo_server(args.echo_server))
        return
    sys.exit(0 if asyncio.run(main_async(args.rate, args.seconds, args.slices)) else 1)


if __name__ == "__main__":
    main()
