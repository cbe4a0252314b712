"""`ferry-rate-limiter`: run the limiter; `ferry-rate-limiter migrate`: apply its migrations and exit."""

from __future__ import annotations

from collections.abc import Sequence

from ferry.serve import serve
from ferry_rate_limiter import SERVICE
from ferry_rate_limiter.app import create_app, prepare_database
from ferry_rate_limiter.settings import RateLimiterSettings


def main(argv: Sequence[str] | None = None) -> None:
    settings = RateLimiterSettings()
    serve(SERVICE, settings, app=lambda: create_app(settings), migrate=lambda: prepare_database(settings), argv=argv)


if __name__ == "__main__":
    main()
