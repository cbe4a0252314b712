"""Structured logs for every ferry process: JSON for machines, console for people.

Every record carries `service` (the service's one name). Secrets never reach the
output: values under secret-sounding keys are masked, known secret values (tokens,
URL passwords from the settings) are replaced wherever they appear, and
`scheme://user:password@host` URLs lose their password. Standard-library loggers
(FastStream, uvicorn, aio-pika) go through the same pipeline, in both formats.

Tracebacks are rendered as plain text, never with frame locals (a local may hold a DSN with
its password, or a token), and the rendered text is scrubbed like every other value. JSON lines
carry no terminal colour codes (uvicorn's `color_message` is dropped).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any

import structlog

from ferry.settings import FerrySettings

MASK = "***"
_SECRET_KEY = re.compile(r"(token|password|passwd|secret|authorization|api[_-]?key|cookie)", re.I)
_URL_PASSWORD = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@/\s]+)@", re.I)
_BEARER = re.compile(r"(?i)\b(bearer|token)\s+[A-Za-z0-9_\-.=:+/]{8,}")
_GITHUB_TOKEN = re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})\b")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class Redactor:
    """Masks secrets in log event dicts (a structlog processor)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def scrub(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        text = _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
        text = _BEARER.sub(lambda m: f"{m.group(1)} {MASK}", text)
        return _GITHUB_TOKEN.sub(MASK, text)

    def _clean(self, key: str, value: Any) -> Any:
        if _SECRET_KEY.search(key) and value not in (None, "", False):
            return MASK
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, dict):
            return {k: self._clean(str(k), v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._clean(key, v) for v in value]
        if isinstance(value, BaseException):
            return self.scrub(repr(value))
        return value

    def __call__(self, _logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        for key, value in list(event.items()):
            event[key] = self._clean(key, value)
        return event


def _scrub_rendered(redactor: Redactor) -> Any:
    # Tracebacks are rendered to text after the dict processors ran: scrub the final line too.
    def processor(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        for key in ("exception", "stack"):
            if isinstance(event.get(key), str):
                event[key] = redactor.scrub(event[key])
        return event

    return processor


def _scrub_text(redactor: Redactor) -> Any:
    # The console renderer's output is one string (tracebacks included): scrub all of it.
    def processor(_logger: Any, _name: str, line: str) -> str:
        return redactor.scrub(line)

    return processor


def _drop_colour_key(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """`color_message` repeats `event` with colour codes: the console renderer colours by itself."""
    event.pop("color_message", None)
    return event


def _drop_colour(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """No terminal colour codes in JSON: uvicorn's `color_message` goes, and codes in strings."""
    event.pop("color_message", None)
    for key, value in list(event.items()):
        if isinstance(value, str) and "\x1b[" in value:
            event[key] = _ANSI.sub("", value)
    return event


def configure_logging(service: str, settings: FerrySettings | None = None) -> structlog.stdlib.BoundLogger:
    """Configure structlog and stdlib logging for one process; returns its logger."""
    settings = settings or FerrySettings()
    redactor = Redactor(settings.secret_values())
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.stdlib.ExtraAdder(),
        redactor,
    ]
    renderer: Any
    if settings.log_format == "json":
        renderer = structlog.processors.JSONRenderer()
        final: list[Any] = [
            structlog.processors.format_exc_info, _scrub_rendered(redactor), _drop_colour, renderer,
        ]
    else:
        # Plain tracebacks: the default (rich) one prints every frame's locals.
        renderer = structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
        final = [_drop_colour_key, renderer, _scrub_text(redactor)]

    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *final],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    for noisy in ("aiormq", "aio_pika", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # Libraries that install their own handlers (uvicorn's dictConfig, FastStream's default
    # logger) would print past the scrubbing formatter: every line goes through the root's.
    for library in ("uvicorn", "uvicorn.error", "uvicorn.access", "faststream", "faststream.access"):
        own = logging.getLogger(library)
        own.handlers.clear()
        own.setLevel(logging.NOTSET)
        own.propagate = True
    structlog.contextvars.bind_contextvars(service=service)
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(service)
    return logger
