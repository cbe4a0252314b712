"""peloton-sync's own settings (same `FERRY_` prefix as every ferry setting).

`FERRY_PELOTON_TOKEN_KEY` encrypts the stored Peloton tokens (a Fernet key; several, comma-separated,
to rotate: the first encrypts, all decrypt). `FERRY_PELOTON_SEED_CONNECTION` stores one connection at
start-up when it is missing (the demo uses it with the sandbox's fake tokens).
"""

from __future__ import annotations

import json

from pydantic import Field, SecretStr

from ferry.settings import FerrySettings


class PelotonSettings(FerrySettings):
    """Settings of `ferry-peloton-sync` (and of `ferry peloton-sync connect ...`)."""

    peloton_token_key: SecretStr | None = Field(
        None,
        description=(
            "Fernet key(s) encrypting stored tokens, comma-separated (the first encrypts). Make one with "
            "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`."
        ),
    )
    peloton_auth_url: str = Field(
        "https://auth.onepeloton.com/oauth/token",
        description="Auth0 token endpoint for `grant_type=refresh_token` (form-encoded).",
    )
    peloton_client_id: str | None = Field(
        None, description="The OAuth client id sent with token refreshes (Peloton's web client's)."
    )
    peloton_page_limit: int = Field(50, ge=1, le=100, description="Classes asked for per archived-list page.")
    peloton_refresh_margin_s: float = Field(
        300.0, ge=0, description="An access token expiring within this many seconds is refreshed before use."
    )
    peloton_max_inline_wait_s: float = Field(
        120.0, ge=0, le=3600,
        description="A rate-limit wait longer than this parks the step (freeing the worker) instead of sleeping.",
    )
    peloton_retries: int = Field(4, ge=0, le=10, description="Retries of a 5xx, timeout or connection error.")
    peloton_retry_initial_s: float = Field(1.0, ge=0, description="First backoff of those retries (doubles).")
    peloton_limiter_timeout_s: float = Field(
        2.0, gt=0, le=60, description="How long to wait for one answer of the rate limiter before asking again."
    )
    peloton_seed_connection: SecretStr | None = Field(
        None,
        description=(
            'A connection stored at start-up if missing, JSON: {"username", "email", "access_token", '
            '"refresh_token"} (the local demo uses the sandbox\'s fake tokens).'
        ),
    )

    def secret_values(self) -> list[str]:
        found = super().secret_values()
        if self.peloton_token_key is not None:
            found += [k.strip() for k in self.peloton_token_key.get_secret_value().split(",") if k.strip()]
        if self.peloton_seed_connection is not None:
            try:
                seed = json.loads(self.peloton_seed_connection.get_secret_value())
            except ValueError:
                seed = {}
            if isinstance(seed, dict):
                found += [str(seed[k]) for k in ("access_token", "refresh_token") if seed.get(k)]
        return [s for s in found if len(s) >= 4]
