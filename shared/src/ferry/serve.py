"""The console-script shape every ferry service shares.

    ferry-<service>            serve: the service's ASGI app under uvicorn on FERRY_HTTP_PORT
    ferry-<service> migrate    apply the service's migrations and exit
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import uvicorn

from ferry.logging import configure_logging
from ferry.settings import FerrySettings


def serve(
    service: str,
    settings: FerrySettings,
    *,
    app: Callable[[], Any],
    migrate: Callable[[], Coroutine[Any, Any, list[str]]],
    argv: Sequence[str] | None = None,
) -> None:
    """Run `ferry-<service>` with `argv` (default: the command line); exit 2 on unknown arguments."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args != ["migrate"]:
        print(f"usage: ferry-{service} [migrate]", file=sys.stderr)
        raise SystemExit(2)
    log = configure_logging(service, settings)
    if args == ["migrate"]:
        applied = asyncio.run(migrate())
        log.info("migrations up to date", applied=applied)
        return
    uvicorn.run(
        app(), host=settings.http_host, port=settings.http_port, log_config=None, access_log=False, lifespan="on"
    )
