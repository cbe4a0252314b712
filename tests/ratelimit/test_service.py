"""The rate limiter over the real broker and database: sharing, pauses, fail-over, failing closed."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from ferry.contracts.ratelimit import UpstreamFeedback
from ferry.ratelimit import Limiter, WaitTooLong
from tests.ratelimit.conftest import clients, limiter_in_process, limits_env, over_limit, timer
from tests.support.infra import Infra, free_port
from tests.support.processes import ServiceProcess

pytestmark = pytest.mark.timeout(60)


async def test_two_clients_share_one_keys_rate(infra: Infra) -> None:
    rate, burst = 20.0, 2
    async with limiter_in_process(infra, {"shared:*": {"rate": rate, "burst": burst}}), clients(
        infra, "worker-a", "worker-b"
    ) as (a, b):
        grants: dict[str, list[float]] = {"worker-a": [], "worker-b": []}

        async def work(limiter: Limiter, name: str) -> None:
            for _ in range(12):
                await limiter.acquire("shared:repo")
                grants[name].append(time.monotonic())

        elapsed = timer()
        await asyncio.gather(work(a, "worker-a"), work(b, "worker-b"))
        took = elapsed()

    everything = grants["worker-a"] + grants["worker-b"]
    # 24 calls at 20/s after a burst of 2 need at least 1.1 s, whoever makes them.
    assert took >= (24 - burst) / rate - 0.02
    assert took < 3.0
    assert over_limit(everything, rate, burst, jitter_s=0.02) == 0
    # First come, first served: neither worker starves.
    assert len(grants["worker-a"]) == len(grants["worker-b"]) == 12


async def test_secondary_limit_pauses_the_key_for_every_client(infra: Infra) -> None:
    rules = {"gh:*": {"rate": 1.0, "burst": 1}}
    async with limiter_in_process(infra, rules, first_pause_s=1.0, max_pause_s=4.0), clients(
        infra, "worker-a", "worker-b"
    ) as (a, b):
        assert await b.acquire("gh:alice") < 0.1  # the burst
        # b's next call is reserved 1 s ahead; while it sleeps, a's call meets a secondary limit.
        waiting = asyncio.create_task(b.acquire("gh:alice"))
        await asyncio.sleep(0.3)
        reported = time.monotonic()
        await a.feedback(UpstreamFeedback(key="gh:alice", status=403, secondary=True, retry_after_s=2.0))
        await waiting
        # b did not go when its reservation came due (0.7 s later) but after the pause (2 s).
        assert time.monotonic() - reported >= 1.95
        assert time.monotonic() - reported < 3.0

        # Another key is not affected.
        assert await a.acquire("gh:bob") < 0.1

        # No Retry-After: the configured first pause (1 s here, 60 s by default), doubling on a repeat.
        reported = time.time()
        await a.feedback(UpstreamFeedback(key="gh:bob", status=429))
        until, seen = await paused_until(b, "gh:bob")
        assert reported + 1.0 <= until <= seen + 1.0
        await asyncio.sleep(until - time.time() + 0.05)
        reported = time.time()
        await a.feedback(UpstreamFeedback(key="gh:bob", status=403, secondary=True))
        until, seen = await paused_until(b, "gh:bob")
        assert reported + 2.0 <= until <= seen + 2.0


async def test_a_client_reporting_a_pause_of_days_pauses_the_key_no_longer_than_the_limiters_cap(
    infra: Infra,
) -> None:
    # A worker passes on what its upstream said (a Retry-After of five days, a reset a week away); the
    # limiter's own FERRY_UPSTREAM_MAX_WAIT_S (here 120 s) bounds the fleet-wide pause either way.
    five_days, week = 5 * 86400.0, 7 * 86400.0
    async with limiter_in_process(infra, {"gh:*": {"rate": 10, "burst": 10}}, upstream_max_wait_s=120), clients(
        infra, "reporter", "other"
    ) as (reporter, other):
        reported = time.time()
        await reporter.feedback(UpstreamFeedback(key="gh:alice", status=429, retry_after_s=five_days))
        await reporter.feedback(
            UpstreamFeedback(key="gh:bob", status=403, limit=5000, remaining=0, reset_at=reported + week)
        )
        alice, seen_alice = await paused_until(other, "gh:alice")
        bob, seen_bob = await paused_until(other, "gh:bob")
    assert reported + 119 <= alice <= seen_alice + 120
    assert reported + 119 <= bob <= seen_bob + 120


async def paused_until(limiter: Limiter, key: str) -> tuple[float, float]:
    """(end of the key's pause, when it was seen) once the limiter reports the key paused."""
    for _ in range(100):
        paused: WaitTooLong | None = None
        try:
            await limiter.acquire(key, 0, max_wait_s=0)  # tokens=0: only asks about a pause
        except WaitTooLong as exc:
            paused = exc
        if paused is not None and paused.paused_until is not None:
            return paused.paused_until, time.time()
        await asyncio.sleep(0.05)
    raise AssertionError(f"{key} never paused")


def _limiter_process(infra: Infra, tmp_path: Path, name: str, env: dict[str, str]) -> ServiceProcess:
    port = free_port()
    process = ServiceProcess("ferry-rate-limiter", infra.env(**env), port, tmp_path / f"{name}.log")
    process.start()
    return process


@pytest.mark.slow
async def test_standby_takes_over_keeping_the_pause_and_the_bucket_level(infra: Infra, tmp_path: Path) -> None:
    env = limits_env({"drain:*": {"rate": 0.01, "burst": 5}, "gh:*": {"rate": 10, "burst": 10}})
    first = _limiter_process(infra, tmp_path, "first", env)
    standby: ServiceProcess | None = None
    try:
        await asyncio.to_thread(first.wait_ready)
        standby = _limiter_process(infra, tmp_path, "standby", env)  # consumes second: the standby
        await asyncio.to_thread(standby.wait_ready)
        async with clients(infra, "worker", timeout_s=0.5) as (limiter,):
            drained_at = time.time()
            for _ in range(5):  # empty the bucket
                assert await limiter.acquire("drain:k") < 0.1
            async with httpx.AsyncClient() as http:
                assert (await http.get(f"{first.url}/readyz")).json()["active"] is True
                assert (await http.get(f"{standby.url}/readyz")).json()["active"] is False
            reported = time.time()
            await limiter.feedback(UpstreamFeedback(key="gh:alice", status=403, secondary=True, retry_after_s=30))
            await asyncio.sleep(0.5)  # saved: pauses at once, levels within 150 ms

            first.kill()  # SIGKILL: no hand-over, the standby must carry on from Postgres

            with pytest.raises(WaitTooLong) as paused:
                await limiter.acquire("gh:alice", max_wait_s=1)
            assert paused.value.paused_until is not None
            assert paused.value.paused_until >= reported + 29.9  # the pause is still in force, unshortened
            checked_at = time.time()
            with pytest.raises(WaitTooLong) as drained:
                await limiter.acquire("drain:k", max_wait_s=0.1)
            # Refilled at 0.01/s since it was emptied, not reset to the full burst of 5: the next token
            # is 100 s after the bucket was emptied (the killed owner's lease had to expire first).
            assert drained.value.wait_s == pytest.approx(100 - (checked_at - drained_at), abs=0.3)
            assert await limiter.acquire("gh:bob") < 0.5  # other keys are served as usual
        assert "rate limiter active: buckets loaded" in standby.logs()
    finally:
        first.stop()
        if standby is not None:
            standby.stop()


@pytest.mark.slow
async def test_client_fails_closed_while_no_limiter_runs(infra: Infra, tmp_path: Path) -> None:
    states: list[bool] = []
    async with clients(infra, "worker", timeout_s=0.3, on_waiting=states.append) as (limiter,):
        call = asyncio.create_task(limiter.acquire("gh:alice"))
        await asyncio.sleep(1.5)
        assert not call.done()  # never let through unthrottled
        assert limiter.waiting_since is not None
        assert states == [True]

        process = _limiter_process(infra, tmp_path, "late", limits_env({}))
        try:
            started = time.monotonic()
            await asyncio.wait_for(call, timeout=20)
            assert time.monotonic() - started < 15
            assert states == [True, False]
            assert limiter.waiting_since is None
        finally:
            process.stop()


async def test_graceful_hand_over_keeps_every_reservation(infra: Infra) -> None:
    rules = {"slow:*": {"rate": 0.1, "burst": 3}}
    async with (
        clients(infra, "worker", timeout_s=1.0) as (limiter,),
        limiter_in_process(infra, rules) as active,
        limiter_in_process(infra, rules) as standby,
    ):
        for _ in range(3):
            assert await limiter.acquire("slow:k") < 0.1
        assert active.owner
        assert not standby.owner
        # A reservation queued on the active replica, 10 s ahead...
        with pytest.raises(WaitTooLong):
            await limiter.acquire("slow:k", max_wait_s=0.1)
        await active.stop()  # stops consuming, saves, unlocks: the standby takes over at once
        # ...is still there on the standby: the next one queues behind it (about 20 s), not at 10 s.
        with pytest.raises(WaitTooLong) as queued:
            await limiter.acquire("slow:k", max_wait_s=0.1)
        assert standby.owner
        assert 19.0 < queued.value.wait_s <= 20.0
