"""Reading the tokens a user hands to `ferry peloton-sync connect` (never from the command line).

Accepted: Auth0's JSON answer (`access_token`, `refresh_token`, `expires_in`), or the access token and
the refresh token on two lines. The expiry is, first found: `--expires-in`, the access token's JWT
`exp` claim (read, not verified: Peloton verifies it), the JSON's `expires_in`, else 48 hours (the
lifetime Peloton's access tokens have).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

DEFAULT_LIFETIME = timedelta(hours=48)


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str | None
    expires_at: datetime

    def __repr__(self) -> str:  # never show the tokens
        refresh = "yes" if self.refresh_token else "no"
        return f"Tokens(expires_at={self.expires_at.isoformat()}, refresh_token={refresh})"


def jwt_expiry(token: str) -> datetime | None:
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        return datetime.fromtimestamp(float(claims["exp"]), UTC)
    except (ValueError, KeyError, TypeError):
        return None


def tokens_from_answer(answer: dict[str, Any], *, now: datetime | None = None,
                       expires_in_s: float | None = None) -> Tokens:
    """Tokens from an OAuth token answer (a refresh's, or the JSON a user pasted)."""
    now = now or datetime.now(UTC)
    access = str(answer.get("access_token") or "").strip()
    if not access:
        raise ValueError("no access token given (the JSON has no access_token)")
    refresh = str(answer.get("refresh_token") or "").strip() or None
    expires = _expiry(access, expires_in_s if expires_in_s is not None else answer.get("expires_in"), now)
    return Tokens(access, refresh, expires)


def _expiry(access: str, expires_in: Any, now: datetime) -> datetime:
    if expires_in is not None:
        try:
            return now + timedelta(seconds=float(expires_in))
        except (TypeError, ValueError):
            raise ValueError(f"expires_in must be a number of seconds, not {expires_in!r}") from None
    return jwt_expiry(access) or now + DEFAULT_LIFETIME


def read_tokens(text: str, *, expires_in_s: float | None = None, now: datetime | None = None) -> Tokens:
    """Parse what `connect` read from its prompt or stdin; ValueError says what is missing."""
    now = now or datetime.now(UTC)
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            answer = json.loads(stripped)
        except ValueError:
            raise ValueError("the tokens look like JSON but do not parse as JSON") from None
        if not isinstance(answer, dict):
            raise ValueError("the JSON must be an object with access_token (and refresh_token)")
        if expires_in_s is None and jwt_expiry(str(answer.get("access_token") or "")) is not None:
            answer = {k: v for k, v in answer.items() if k != "expires_in"}  # the token's own exp wins
        return tokens_from_answer(answer, now=now, expires_in_s=expires_in_s)
    lines = [line.strip() for line in stripped.splitlines()]
    if not lines or not lines[0]:
        raise ValueError("no access token given: type it at the prompt, or pipe it (and the refresh token on a "
                         "second line) to stdin")
    if any(" " in line for line in lines[:2]):
        raise ValueError("a token cannot contain spaces: give only the token (no 'Bearer ')")
    refresh = lines[1] if len(lines) > 1 and lines[1] else None
    return Tokens(lines[0], refresh, _expiry(lines[0], expires_in_s, now))
