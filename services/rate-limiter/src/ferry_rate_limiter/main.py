"""`ferry-rate-limiter`: run the limiter; `ferry-rate-limiter migrate`: apply its migrations and exit."""

from __future__ import annotations

import asyncio
import sys

import uvicorn

from ferry.logging import configure_logging
from ferry_rate_limiter import SERVICE
from ferry_rate_limiter.app import create_app, prepare_database
from ferry_rate_limiter.settings import RateLimiterSettings

USAGE = "usage: ferry-rate-limiter [migrate]"


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args and args != ["migrate"]:
        print(USAGE, file=sys.stderr)
        raise SystemExit(2)
    settings = RateLimiterSettings()
    log = configure_logging(SERVICE, settings)
    if args == ["migrate"]:
        applied = asyncio.run(prepare_database(settings))
        log.info("migrations up to date", applied=applied)
        return
    uvicorn.run(
        create_app(settings), host=settings.http_host, port=settings.http_port, log_config=None,
        access_log=False, lifespan="on",
    )


if __name__ == "__main__":
    main()
