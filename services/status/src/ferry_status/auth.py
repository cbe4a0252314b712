"""Bearer-token protection of the mutating endpoints (FERRY_API_TOKEN)."""

from __future__ import annotations

import hmac

from fastapi import HTTPException, Request, status
from pydantic import SecretStr

UNSET = "FERRY_API_TOKEN is not set: mutating endpoints are disabled"


def check_bearer(authorization: str | None, token: SecretStr | None) -> None:
    """Raise the HTTP error a request with this `Authorization` header deserves, if any."""
    if token is None or not token.get_secret_value():
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=UNSET)
    scheme, _, given = (authorization or "").partition(" ")
    expected = token.get_secret_value().encode()
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, detail="missing or wrong bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )


API_CALLER = "api"
"""Who a request bearing FERRY_API_TOKEN is (recorded as the `requested_by` of the jobs it starts)."""


def require_token(request: Request) -> str:
    """FastAPI dependency: the request carries `Authorization: Bearer <FERRY_API_TOKEN>`; returns
    the caller's identity."""
    check_bearer(request.headers.get("authorization"), request.app.state.settings.api_token)
    return API_CALLER
