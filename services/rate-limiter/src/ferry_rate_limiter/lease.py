"""The owner lease: which replica may serve and save the buckets, until when, fenced by an epoch.

One row, `rate_limiter.owner_lease`, names the holder, its `epoch` and a `deadline` (Postgres's
clock). A replica takes the lease when it is free or its deadline has passed, adding one to the
epoch; it renews it (moving the deadline) inside the same transaction as every save, and on a
heartbeat when there is nothing to save. A renewal names the epoch it holds, so once another
replica has taken over, the old holder's next save finds no row to renew and is rolled back
(`LeaseLost`): two replicas never write the same buckets. The row lock taken by the renewal holds
until the save commits, so a take-over cannot slip in between the check and the writes.

Why not a session advisory lock: a paused process (SIGSTOP, a frozen VM) keeps its session, and
with it the lock, until TCP keepalive notices, hours later; the whole fleet waits meanwhile. A
lease expires by itself.

Locally the holder trusts its lease for `trust_s` after a renewal began, a little less than the
deadline Postgres set; past that (a resumed process: the monotonic clock ran on while it was
stopped) it renews before answering anything, and learns it lost the lease if it did.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ferry.db import Conn
from ferry_rate_limiter.store import SCHEMA


class LeaseLost(Exception):
    """Another replica holds the owner lease now: stop serving and never save."""


class LeaseBusy(Exception):
    """The lease is held by a live replica (it did not hand over or expire in time)."""


_TAKE = f"""
UPDATE "{SCHEMA}".owner_lease
   SET holder = $1, epoch = epoch + 1, heartbeat_at = clock_timestamp(),
       deadline = clock_timestamp() + make_interval(secs => $2)
 WHERE name = 'buckets' AND (holder IS NULL OR deadline < clock_timestamp())
RETURNING epoch
"""
_RENEW = f"""
UPDATE "{SCHEMA}".owner_lease
   SET heartbeat_at = clock_timestamp(), deadline = clock_timestamp() + make_interval(secs => $3)
 WHERE name = 'buckets' AND holder = $1 AND epoch = $2
"""
_RELEASE = f"""
UPDATE "{SCHEMA}".owner_lease SET holder = NULL, deadline = clock_timestamp()
 WHERE name = 'buckets' AND holder = $1 AND epoch = $2
"""


class OwnerLease:
    """This replica's side of the lease: take, renew (fencing every save), release."""

    def __init__(self, holder: str, ttl_s: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.holder = holder
        self.ttl_s = ttl_s
        self.trust_s = ttl_s * 0.8  # our clock and Postgres's may drift a little: stop trusting early
        self.heartbeat_s = ttl_s / 5
        self.epoch: int | None = None
        self._clock = clock
        self._renewed_at = float("-inf")  # when the last successful renewal began (monotonic)

    @property
    def held(self) -> bool:
        return self.epoch is not None

    def trusted(self) -> bool:
        """Held, and renewed recently enough that no other replica can have taken it."""
        return self.epoch is not None and self._clock() - self._renewed_at < self.trust_s

    def heartbeat_due(self) -> bool:
        return self.epoch is not None and self._clock() - self._renewed_at >= self.heartbeat_s

    async def try_take(self, conn: Conn) -> bool:
        """Take the lease if it is free or expired; True when this replica holds it now."""
        began = self._clock()
        epoch = await conn.fetchval(_TAKE, self.holder, self.ttl_s)
        if epoch is None:
            return False
        self.epoch, self._renewed_at = int(epoch), began
        return True

    async def renew(self, conn: Conn) -> None:
        """Move the deadline on (inside a save's transaction: it fences the writes); LeaseLost if taken."""
        if self.epoch is None:
            raise LeaseLost("this replica does not hold the owner lease")
        began = self._clock()
        status = await conn.execute(_RENEW, self.holder, self.epoch, self.ttl_s)
        if status != "UPDATE 1":
            lost, self.epoch = self.epoch, None
            raise LeaseLost(f"the owner lease (epoch {lost}) was taken over by another replica")
        self._renewed_at = began

    async def release(self, conn: Conn) -> None:
        """Give the lease up at once (a graceful hand-over: the standby need not wait for the deadline)."""
        if self.epoch is not None:
            epoch, self.epoch = self.epoch, None
            await conn.execute(_RELEASE, self.holder, epoch)

    def forget(self) -> None:
        """Consider the lease lost without telling Postgres (it was taken, or is about to expire)."""
        self.epoch = None
