"""A pool of GitHub tokens, grouped by the account each one authenticates as.

GitHub's primary quota belongs to the ACCOUNT, not the token: every token of one account draws
on the same 5,000 requests/hour. So the pool asks each token's login once (GET /user), files the
token under the rate-limiter key `github:<login>`, and spreads calls over ACCOUNTS. Two tokens of
one account add no capacity; the pool says so in the log.

A pool only adds capacity across distinct accounts or GitHub Apps that the operator is entitled
to use. GitHub's terms of service forbid sharing tokens to exceed its rate limits ("You may not
share API tokens to exceed GitHub's rate limitations"): do not collect other people's tokens to
crawl faster.

A token GitHub refuses (401 Bad credentials) leaves the pool; the others carry on. Tokens are
known by their label ("token #2") in logs and errors; the secret itself is never shown.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import structlog
from pydantic import SecretStr

from ferry.github.errors import NoUsableTokens

log = structlog.get_logger("ferry.github")


@dataclass(eq=False)
class Token:
    """One token of the pool; `login` is known once resolved."""

    label: str
    secret: str = field(repr=False)
    login: str | None = None

    @property
    def key(self) -> str:
        """The rate-limiter key of this token's account."""
        return f"github:{self.login}"

    def describe(self) -> str:
        return f"{self.label} (account {self.login})" if self.login else self.label


@dataclass(frozen=True)
class TokenRemoved:
    """A token left the pool (for the caller's error event)."""

    label: str
    login: str | None
    reason: str
    remaining_tokens: int


class TokenPool:
    """Tokens grouped by account, with what this process knows about each account's limits."""

    def __init__(self, tokens: Iterable[str | SecretStr], *,
                 on_removed: Callable[[TokenRemoved], None] | None = None) -> None:
        secrets = [t.get_secret_value() if isinstance(t, SecretStr) else t for t in tokens]
        secrets = list(dict.fromkeys(s.strip() for s in secrets if s and s.strip()))  # same token twice: once
        if not secrets:
            raise NoUsableTokens("no GitHub token configured (set FERRY_GITHUB_TOKENS, comma-separated)")
        self.tokens = [Token(f"token #{i}", s) for i, s in enumerate(secrets, 1)]
        self.removed: list[TokenRemoved] = []
        self._on_removed = on_removed
        self._blocked: dict[str, tuple[float, str]] = {}  # key -> (until, why)
        self._strikes: dict[str, int] = {}
        self._turn = itertools.count()

    @property
    def resolved(self) -> bool:
        return all(t.login is not None for t in self.tokens)

    def unresolved(self) -> list[Token]:
        return [t for t in self.tokens if t.login is None]

    def accounts(self) -> dict[str, list[Token]]:
        """Live tokens by account login (resolved tokens only)."""
        grouped: dict[str, list[Token]] = {}
        for token in self.tokens:
            if token.login is not None:
                grouped.setdefault(token.login, []).append(token)
        return grouped

    def assign(self, token: Token, login: str) -> None:
        """Record the account a token authenticates as; warn when the account is already in the pool."""
        token.login = login
        others = [t.label for t in self.tokens if t is not token and t.login == login]
        if others:
            log.warning(
                "github tokens share one account",
                account=login, tokens=[*others, token.label],
                detail=f"{', '.join([*others, token.label])} all belong to account {login}: tokens of one account "
                "share one rate limit, so the extra ones add no capacity",
            )

    def remove(self, token: Token, reason: str) -> TokenRemoved:
        """Take a refused token out of the pool; raises NoUsableTokens when none is left."""
        if token in self.tokens:
            self.tokens.remove(token)
        event = TokenRemoved(token.label, token.login, reason, len(self.tokens))
        self.removed.append(event)
        log.error("github token removed from the pool", token=token.describe(), reason=reason,
                  tokens_left=len(self.tokens))
        if self._on_removed is not None:
            self._on_removed(event)
        self.check_usable()
        return event

    def check_usable(self) -> None:
        if not self.tokens:
            refused = ", ".join(f"{r.label}: {r.reason}" for r in self.removed)
            raise NoUsableTokens(f"no usable GitHub token left ({refused}); check FERRY_GITHUB_TOKENS")

    def choose(self, account: str | None = None) -> Token:
        """A token of the account that can call soonest (round robin among equals)."""
        self.check_usable()
        groups = self.accounts()
        if account is not None:
            if account not in groups:
                raise NoUsableTokens(f"no usable GitHub token of account {account} in the pool")
            groups = {account: groups[account]}
        turn = next(self._turn)
        logins = sorted(groups)
        order = logins[turn % len(logins):] + logins[: turn % len(logins)]
        login = min(order, key=lambda name: self.blocked_until(f"github:{name}"))
        tokens = groups[login]
        return tokens[turn % len(tokens)]

    def block(self, key: str, until: float, why: str) -> None:
        """This process will not call `key` before `until` (a rate limit it was told about)."""
        current = self._blocked.get(key)
        if current is None or until > current[0]:
            self._blocked[key] = (until, why)

    def blocked_until(self, key: str) -> float:
        return self._blocked.get(key, (0.0, ""))[0]

    def blocked_reason(self, key: str) -> str:
        return self._blocked.get(key, (0.0, ""))[1]

    def strike(self, key: str, *, count: bool = True) -> int:
        """Count a secondary limit on `key` (unless `count` is False); returns how many in a row."""
        self._strikes[key] = self._strikes.get(key, 0) + (1 if count else 0)
        return max(1, self._strikes[key])

    def clear_strikes(self, key: str) -> None:
        self._strikes.pop(key, None)
