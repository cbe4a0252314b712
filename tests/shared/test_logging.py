"""No secret reaches the logs: known values, secret-named keys, URL passwords, bearer and GitHub tokens."""

from __future__ import annotations

import json
import logging

import pytest

from ferry.logging import configure_logging
from ferry.settings import FerrySettings

TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"


@pytest.fixture
def json_logs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FERRY_GITHUB_TOKENS", f"{TOKEN},other-secret-token")
    monkeypatch.setenv("FERRY_API_TOKEN", "s3cret-api-token")
    monkeypatch.setenv("FERRY_AMQP_URL", "amqp://ferry:rabbit-pass@broker:5672/")
    monkeypatch.setenv("FERRY_LOG_FORMAT", "json")


def test_secrets_are_masked_everywhere(json_logs: None, capsys: pytest.CaptureFixture[str]) -> None:
    log = configure_logging("telemetry-janitor", FerrySettings())
    log.info("calling with other-secret-token", url="amqp://ferry:rabbit-pass@broker:5672/", api_token="x" * 10)
    log.warning("header was", headers={"Authorization": "Bearer s3cret-api-token"}, text=f"token {TOKEN}")
    logging.getLogger("some.library").error("stdlib says postgresql://app:db-pass-123@db/app")
    try:
        raise RuntimeError(f"boom with {TOKEN}")
    except RuntimeError:
        log.exception("failed")
    out = capsys.readouterr().err
    for secret in (TOKEN, "other-secret-token", "s3cret-api-token", "rabbit-pass", "db-pass-123", "x" * 10):
        assert secret not in out, secret
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert len(lines) == 4
    assert all(line["service"] == "telemetry-janitor" for line in lines)
    assert lines[0]["url"] == "amqp://ferry:***@broker:5672/"


def test_settings_never_print_secrets(json_logs: None) -> None:
    settings = FerrySettings()
    text = repr(settings) + str(settings.model_dump())
    assert "rabbit-pass" not in text
    assert TOKEN not in text
    assert [t.get_secret_value() for t in settings.github_tokens] == [TOKEN, "other-secret-token"]


LOCAL_ONLY = "value-held-only-in-a-local-7f3a"
"""Not a known secret nor secret-shaped: it can only reach the output if frame locals are rendered."""


def _fail_with_secrets() -> None:
    api_token = "s3cret-api-token"  # noqa: F841 - a known secret, held in a local
    dsn = "postgresql://app:dsn-pass-in-local@db/app"  # noqa: F841
    held = LOCAL_ONLY  # noqa: F841
    raise RuntimeError(f"could not connect with {TOKEN} as rabbit-pass")  # secrets in the message


@pytest.mark.parametrize("log_format", ["json", "console"])
def test_tracebacks_are_scrubbed_and_show_no_locals_in_every_format(
    json_logs: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], log_format: str
) -> None:
    monkeypatch.setenv("FERRY_LOG_FORMAT", log_format)
    log = configure_logging("gh-seeder", FerrySettings())
    try:
        _fail_with_secrets()
    except RuntimeError:
        log.exception("crawl failed", url="amqp://ferry:rabbit-pass@broker:5672/")
    try:
        _fail_with_secrets()
    except RuntimeError:
        logging.getLogger("faststream").exception("handler raised")
    out = capsys.readouterr().err
    assert out.count("Traceback (most recent call last)") == 2, out
    assert "RuntimeError: could not connect with" in out
    assert "_fail_with_secrets" in out
    for secret in (TOKEN, "rabbit-pass", "s3cret-api-token", "dsn-pass-in-local", LOCAL_ONLY):
        assert secret not in out, f"{secret} in {log_format} output:\n{out}"


def test_json_lines_carry_no_colour_codes(json_logs: None, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("status", FerrySettings())
    # How uvicorn logs: the plain message, and a coloured copy in `color_message`.
    logging.getLogger("uvicorn.error").info(
        "Uvicorn running on %s", "http://0.0.0.0:8000",
        extra={"color_message": "Uvicorn running on \x1b[1m%s\x1b[0m"},
    )
    logging.getLogger("some.library").warning("\x1b[31mred\x1b[0m text")
    out = capsys.readouterr().err
    assert "\x1b" not in out
    first, second = (json.loads(line) for line in out.splitlines())
    assert first["event"] == "Uvicorn running on http://0.0.0.0:8000"
    assert "color_message" not in first
    assert second["event"] == "red text"


def test_console_lines_are_scrubbed_too(
    json_logs: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FERRY_LOG_FORMAT", "console")
    log = configure_logging("telemetry-janitor", FerrySettings())
    log.info("calling with other-secret-token", url="amqp://ferry:rabbit-pass@broker:5672/", api_token="x" * 10)
    logging.getLogger("uvicorn.error").info("ready", extra={"color_message": "\x1b[1mready\x1b[0m"})
    out = capsys.readouterr().err
    for secret in ("other-secret-token", "rabbit-pass", "x" * 10):
        assert secret not in out, secret
    assert "amqp://ferry:***@broker:5672/" in out
    assert "color_message" not in out
    assert len(out.splitlines()) == 2
