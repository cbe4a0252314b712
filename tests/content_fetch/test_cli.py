"""`ferry content-fetch fetch`: bad flags are refused before anything is sent (exit 2, the flag named);
`--schedule HH:MM` makes a daily schedule in the status service instead of running now."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from ferry.cli.main import create_app
from tests.cli.conftest import declare_queues, published
from tests.status.conftest import TOKEN
from tests.support.infra import Infra
from tests.support.processes import running_service

FERRY = Path(sys.executable).parent / "ferry"


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


def test_schedule_creates_a_daily_schedule_in_the_status_service_and_runs_nothing_now(
    infra: Infra, tmp_path: Path
) -> None:
    declare_queues(infra, "content-fetch")  # a command published now would wait here
    with running_service("ferry-status", infra, tmp_path, FERRY_API_TOKEN=TOKEN) as status:
        env = infra.env(FERRY_STATUS_URL=status.url, FERRY_API_TOKEN=TOKEN)
        done = subprocess.run([str(FERRY), "content-fetch", "fetch", "--type", "mcq", "--timeout", "120",
                               "--schedule", "14:30", "--json"], env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        created = json.loads(done.stdout)
        listed = httpx.get(f"{status.url}/schedules", timeout=10).json()
    assert (created["service"], created["command"], created["schedule"], created["timezone"]) == (
        "content-fetch", "fetch", "14:30", "UTC")
    assert created["options"] == {"type": "mcq", "timeout_s": 120, "dry_run": False}
    assert created["next_run_local"].endswith("14:30:00+00:00")
    items = listed["items"] if isinstance(listed, dict) else listed
    assert [s["schedule_id"] for s in items] == [created["schedule_id"]]
    assert published(infra, "content-fetch") == []
