"""`ferry content-fetch fetch`: bad flags are refused before anything is sent (exit 2, the flag named)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from ferry.cli.main import create_app


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--type", "news"], "'news' is not one of both, mcq, current_affairs"),
        (["--timeout", "0"], "0 is not in the range 1<=x<=86400"),
        (["--schedule", "25:00"], "is not a time of day as HH:MM"),
        (["--schedule", "2pm"], "is not a time of day as HH:MM"),
    ],
)
def test_bad_flags_are_refused_before_publishing(monkeypatch: pytest.MonkeyPatch, args: list[str],
                                                 expected: str) -> None:
    # An unreachable broker and status service: had anything been sent, the exit would be 3, not 2.
    monkeypatch.setenv("FERRY_AMQP_URL", "amqp://guest:guest@127.0.0.1:1/")
    monkeypatch.setenv("FERRY_STATUS_URL", "http://127.0.0.1:1")
    result = CliRunner().invoke(create_app(), ["content-fetch", "fetch", *args])
    assert result.exit_code == 2, result.output
    assert expected in " ".join(result.output.split())
