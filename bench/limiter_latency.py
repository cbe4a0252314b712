"""limiter_latency: p99 of an acquire round trip at 1,000 acquires/s, against bare request/reply.

FIGURE: `AmqpLimiter.acquire()` on a key with room to spare (so it is exactly one round trip)
answered by the `ferry-rate-limiter` process. CEILING: a bare aio-pika request/reply to an echo
process (same broker, direct reply-to, one persistent reply consumer, manual acks, no confirms).
Both are paced open-loop at the same rate, alternating in slices so that both see the same load
on this shared machine. Target: p99(figure) / p99(ceiling) <= 2.

    uv run python -m bench.limiter_latency [--rate 1000] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import aio_pika
import aio_pika.abc
import asyncpg
import httpx

from bench._common import ADMIN_DATABASE_URL, AMQP_URL, bench_line
from ferry.ratelimit import AmqpLimiter

NAME = "limiter_latency"
TARGET = 2.0
ECHO_QUEUE = "bench.echo"
BIN = Path(sys.executable).parent


# -- shared with bench.limiter_accuracy: own vhost, own database, the limiter as a process ------


def _with_path(url: str, path: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=path))


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(ADMIN_DATABASE_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def isolated(name: str) -> AsyncIterator[tuple[str, str]]:
    """(amqp_url, database_url) of a fresh vhost and database, removed afterwards."""
    vhost = f"ferry-bench-{name.replace('_', '-')}-{uuid.uuid4().hex[:8]}"
    database = f"ferry_bench_{name}"
    await _admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    await _admin(f'CREATE DATABASE "{database}"')
    _rabbitmqctl("add_vhost", vhost)
    try:
        _rabbitmqctl("set_permissions", "-p", vhost, urlsplit(AMQP_URL).username or "guest", ".*", ".*", ".*")
        yield _with_path(AMQP_URL, "/" + quote(vhost, safe="")), _with_path(ADMIN_DATABASE_URL, "/" + database)
    finally:
        _rabbitmqctl("delete_vhost", vhost)
        await _admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def limiter_process(amqp_url: str, database_url: str, limits: dict[str, dict[str, float]]) -> Iterator[None]:
    """`ferry-rate-limiter` running (ready) with these limits; terminated at exit."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FERRY_")}
    env.update(
        FERRY_AMQP_URL=amqp_url, FERRY_DATABASE_URL=database_url, FERRY_HTTP_PORT=str(port),
        FERRY_LOG_FORMAT="json", FERRY_LOG_LEVEL="WARNING", FERRY_RATE_LIMITS=json.dumps(limits),
    )
    process = subprocess.Popen([str(BIN / "ferry-rate-limiter")], env=env, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"ferry-rate-limiter exited with {process.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("ferry-rate-limiter not ready after 60 s")
            time.sleep(0.1)
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# -- the ceiling: a bare echo over direct reply-to -------------------------------------------------


async def echo_server(amqp_url: str) -> None:
    """Answer every request on `bench.echo` with its own body (runs until killed)."""
    connection = await aio_pika.connect_robust(amqp_url)
    channel = await connection.channel(publisher_confirms=False)
    await channel.set_qos(prefetch_count=1000)
    queue = await channel.declare_queue(ECHO_QUEUE, durable=True)

    async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        await channel.default_exchange.publish(
            aio_pika.Message(message.body, correlation_id=message.correlation_id),
            routing_key=message.reply_to or "", mandatory=False,
        )
        await message.ack()

    await queue.consume(on_message)
    await asyncio.Future()


class EchoClient:
    """Bare request/reply: one channel, one reply consumer on direct reply-to, futures by id."""

    def __init__(self, channel: aio_pika.abc.AbstractChannel) -> None:
        self.channel = channel
        self.pending: dict[str, asyncio.Future[bytes]] = {}

    @classmethod
    async def connect(cls, connection: aio_pika.abc.AbstractConnection) -> EchoClient:
        client = cls(await connection.channel(publisher_confirms=False))
        await client.channel.declare_queue(ECHO_QUEUE, durable=True)
        replies = await client.channel.get_queue("amq.rabbitmq.reply-to", ensure=False)
        await replies.consume(client._on_reply, no_ack=True)
        return client

    async def _on_reply(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        future = self.pending.pop(message.correlation_id or "", None)
        if future is not None and not future.done():
            future.set_result(message.body)

    async def request(self, body: bytes) -> bytes:
        correlation_id = uuid.uuid4().hex
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.pending[correlation_id] = future
        await self.channel.default_exchange.publish(
            aio_pika.Message(body, correlation_id=correlation_id, reply_to="amq.rabbitmq.reply-to"),
            routing_key=ECHO_QUEUE, mandatory=False,
        )
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
    async with isolated(NAME) as (amqp_url, database_url):
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
