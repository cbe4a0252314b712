"""A paused owner (SIGSTOP): the standby takes over within the bound; resumed, the old one writes nothing."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import asyncpg
import httpx
import pytest

from ferry.contracts.ratelimit import UpstreamFeedback
from ferry.ratelimit import WaitTooLong
from tests.ratelimit.conftest import clients, limits_env
from tests.support.infra import Infra, free_port
from tests.support.processes import ServiceProcess

pytestmark = [pytest.mark.timeout(120), pytest.mark.slow]


def _process(infra: Infra, tmp_path: Path, name: str, env: dict[str, str]) -> ServiceProcess:
    process = ServiceProcess("ferry-rate-limiter", infra.env(**env), free_port(), tmp_path / f"{name}.log")
    process.start()
    return process


async def _wait_for(check: object, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():  # type: ignore[operator]
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{what} did not happen within {timeout:g} s")


async def test_standby_takes_over_from_a_paused_owner_which_then_writes_nothing(
    infra: Infra, tmp_path: Path
) -> None:
    env = limits_env({"drain:*": {"rate": 0.01, "burst": 5}, "gh:*": {"rate": 10, "burst": 10}})
    # The first owner saves levels only every 5 s, so it holds unsaved reservations when it is paused.
    first = _process(infra, tmp_path, "first", {**env, "FERRY_RATE_LIMITER_SAVE_MS": "5000"})
    standby: ServiceProcess | None = None
    stopped = False
    db = await asyncpg.connect(infra.database_url)
    try:
        await asyncio.to_thread(first.wait_ready)
        standby = _process(infra, tmp_path, "standby", env)
        await asyncio.to_thread(standby.wait_ready)
        async with clients(infra, "worker", timeout_s=0.5) as (limiter,):
            drained_at = time.time()
            for _ in range(5):
                assert await limiter.acquire("drain:k") < 0.1
            reported = time.time()
            await limiter.feedback(UpstreamFeedback(key="gh:alice", status=403, secondary=True, retry_after_s=600))

            async def saved() -> bool:
                level = await db.fetchval("SELECT level FROM rate_limiter.buckets WHERE key = 'drain:k'")
                paused = await db.fetchval("SELECT paused_until FROM rate_limiter.buckets WHERE key = 'gh:alice'")
                return level is not None and level < 1 and paused is not None

            await _wait_for(saved, "the first owner's save")
            old_epoch = await db.fetchval("SELECT epoch FROM rate_limiter.owner_lease")
            for _ in range(3):  # reserved just after a save: unsaved when the owner is paused
                assert await limiter.acquire("late:k", rate=0.01, burst=3) < 0.1

            first.kill(signal.SIGSTOP, wait=False)
            stopped = True
            paused_at = time.monotonic()

            with pytest.raises(WaitTooLong) as paused:
                await limiter.acquire("gh:alice", max_wait_s=1)
            took = time.monotonic() - paused_at
            assert took < 30, f"the standby answered only after {took:.1f} s"
            assert paused.value.paused_until is not None
            assert paused.value.paused_until >= reported + 599.9
            checked_at = time.time()
            with pytest.raises(WaitTooLong) as drained:
                await limiter.acquire("drain:k", max_wait_s=0.1)
            assert drained.value.wait_s == pytest.approx(100 - (checked_at - drained_at), abs=0.5)
            async with httpx.AsyncClient() as http:
                assert (await http.get(f"{standby.url}/readyz")).json()["active"] is True
            new_epoch = await db.fetchval("SELECT epoch FROM rate_limiter.owner_lease")
            assert new_epoch == old_epoch + 1

            first.kill(signal.SIGCONT, wait=False)
            stopped = False
            await _wait_for(lambda: _logged(first, "lost the owner lease"), "the resumed owner noticing", 60)
            # Its unsaved reservations were never written, and no row carries its epoch after the take-over.
            assert await db.fetchval("SELECT count(*) FROM rate_limiter.buckets WHERE key = 'late:k'") == 0
            assert await db.fetchval("SELECT epoch FROM rate_limiter.owner_lease") == new_epoch
            assert await limiter.acquire("gh:bob") < 0.5  # the standby serves on
            with pytest.raises(WaitTooLong):
                await limiter.acquire("gh:alice", max_wait_s=1)
    finally:
        await db.close()
        if stopped:
            first.kill(signal.SIGCONT, wait=False)
        first.stop()
        if standby is not None:
            standby.stop()


async def _logged(process: ServiceProcess, text: str) -> bool:
    return text in process.logs()
