"""The sandbox's mutable side: per-account quotas, secondary-limit pauses, fault dice, counters.

Quotas belong to the ACCOUNT (every token of an account draws on one window), like GitHub's
primary limit. A limit "episode" (one exhausted window, one secondary pause) is noticed by the
client with its first 403/429; `after_notice` counts requests that still arrived for that
account during the same episode, i.e. requests a well-behaved fleet would not have sent.
"""

from __future__ import annotations

import math
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from ferry_sandbox.config import AccountConfig, SandboxConfig

ANONYMOUS = "(anonymous)"


@dataclass
class Counters:
    """What one account's requests met (all requests that authenticated as the account)."""

    requests: int = 0
    ok: int = 0
    not_modified: int = 0
    client_errors: int = 0
    injected_errors: int = 0
    primary_limited: int = 0
    secondary_limited: int = 0
    after_notice: int = 0


@dataclass
class Quota:
    """One account's primary window and secondary pause."""

    limit: int
    window_s: float
    used: int = 0
    reset_at: float = 0.0
    primary_noticed: bool = False
    secondary_until: float = 0.0
    secondary_retry_after: bool = True
    secondary_status: int = 403
    secondary_noticed: bool = False
    seen: int = 0
    counters: Counters = field(default_factory=Counters)

    def roll(self, now: float) -> None:
        if now >= self.reset_at:
            self.used, self.reset_at, self.primary_noticed = 0, now + self.window_s, False

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    def headers(self) -> dict[str, str]:
        return {
            "x-ratelimit-limit": str(self.limit), "x-ratelimit-remaining": str(self.remaining),
            "x-ratelimit-used": str(self.used), "x-ratelimit-reset": str(math.ceil(self.reset_at)),
            "x-ratelimit-resource": "core",
        }


@dataclass(frozen=True)
class Caller:
    """Who a request authenticated as."""

    login: str
    user_id: int


class SandboxState:
    """Config plus everything that changes while the sandbox serves."""

    def __init__(self, config: SandboxConfig, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.quotas: dict[str, Quota] = {}
        self.bad_credentials = 0
        self.log: deque[dict[str, Any]] = deque(maxlen=20_000)
        self._dice = random.Random(config.seed)  # noqa: S311 - fault dice, not crypto
        self.config = config
        self.apply(config)

    def apply(self, config: SandboxConfig) -> None:
        """Switch to a new config; quotas of accounts that stay keep their window and counters."""
        self.config = config
        self._tokens = {t: a for a in config.accounts for t in a.tokens}
        for account in config.accounts:
            quota = self.quotas.setdefault(account.login, Quota(account.limit, account.window_s))
            quota.limit, quota.window_s = account.limit, account.window_s
        anon = self.quotas.setdefault(ANONYMOUS, Quota(config.anonymous_limit, config.anonymous_window_s))
        anon.limit, anon.window_s = config.anonymous_limit, config.anonymous_window_s

    def reset(self) -> None:
        """Forget quotas, pauses, counters and the request log."""
        self.quotas.clear()
        self.bad_credentials = 0
        self.log.clear()
        self.apply(self.config)

    def authenticate(self, authorization: str | None) -> Caller | Literal[False] | None:
        """The caller for an Authorization header: Caller, None (anonymous) or False (bad credentials)."""
        if not authorization:
            return None
        scheme, _, token = authorization.strip().partition(" ")
        account: AccountConfig | None = self._tokens.get(token.strip())
        if scheme.lower() not in ("bearer", "token") or account is None or token in self.config.faults.revoked_tokens:
            self.bad_credentials += 1
            return False
        return Caller(account.login, account.user_id)

    def quota(self, login: str) -> Quota:
        return self.quotas[login]

    def inject_error(self) -> bool:
        faults = self.config.faults
        if faults.fail_next > 0:
            self.config = self.config.merged({"faults": {"fail_next": faults.fail_next - 1}})
            return True
        return faults.error_rate > 0 and self._dice.random() < faults.error_rate

    def secondary_tripped(self, quota: Quota, now: float) -> bool:
        """Is this request answered with a secondary limit? (Starts a pause every Nth request.)"""
        faults = self.config.faults
        if now < quota.secondary_until:
            if quota.secondary_noticed:
                quota.counters.after_notice += 1
            quota.secondary_noticed = True
            return True
        quota.seen += 1
        if faults.secondary_every and quota.seen % faults.secondary_every == 0:
            self.pause(quota, faults.secondary_pause_s, faults.secondary_retry_after, faults.secondary_status, now)
            quota.secondary_noticed = True
            return True
        return False

    def pause(self, quota: Quota, seconds: float, retry_after: bool, status: int, now: float | None = None) -> None:
        """Put an account under a secondary limit for `seconds`."""
        start = self.clock() if now is None else now
        quota.secondary_until = start + seconds
        quota.secondary_retry_after, quota.secondary_status, quota.secondary_noticed = retry_after, status, False

    def primary_exhausted(self, quota: Quota) -> bool:
        if quota.remaining > 0:
            return False
        if quota.primary_noticed:
            quota.counters.after_notice += 1
        quota.primary_noticed = True
        return True

    def record(self, login: str | None, path: str, status: int, started: float, query: str = "") -> None:
        self.log.append({"t": started, "account": login, "path": path, "query": query, "status": status})

    def stats(self) -> dict[str, Any]:
        now = self.clock()
        accounts = {}
        for login, quota in self.quotas.items():
            expired = now >= quota.reset_at  # a window that ran out shows as fresh, without starting a new one
            used = 0 if expired else quota.used
            accounts[login] = {
                **asdict(quota.counters), "quota_limit": quota.limit, "quota_used": used,
                "quota_remaining": max(0, quota.limit - used), "quota_reset": None if expired else quota.reset_at,
                "secondary_until": quota.secondary_until if quota.secondary_until > now else None,
            }
        total = sum(a["requests"] for a in accounts.values()) + self.bad_credentials
        return {"accounts": accounts, "bad_credentials": self.bad_credentials, "total": total}
