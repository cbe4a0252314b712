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
