"""Issue 9.1: `ferry schedules add|list|pause|resume|delete` as a person runs them, against a real
`ferry-status` process (its scheduler, the real broker and database)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.status.conftest import TOKEN
from tests.support.infra import Infra
from tests.support.processes import running_service

FERRY = Path(sys.executable).parent / "ferry"


def ferry(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(FERRY), *args], env=env, capture_output=True, text=True, timeout=60)


def test_add_list_pause_resume_delete(infra: Infra, tmp_path: Path) -> None:
    with running_service("ferry-status", infra, tmp_path, FERRY_API_TOKEN=TOKEN) as status:
        env = infra.env(FERRY_STATUS_URL=status.url, FERRY_API_TOKEN=TOKEN)
        added = ferry(env, "schedules", "add", "telemetry-janitor", "clear", "--schedule", "14:30",
                      "--tz", "Europe/Madrid", "-o", "status=DONE", "--json")
        assert added.returncode == 0, added.stderr
        schedule = json.loads(added.stdout)
        assert schedule["options"]["status"] == "DONE"
        sid = schedule["schedule_id"]

        listed = ferry(env, "schedules", "list")
        assert listed.returncode == 0, listed.stderr
        assert sid in listed.stdout
        assert "14:30:00 CE" in listed.stdout  # the next run in Madrid's local time (CET or CEST)
        assert "Europe/Madrid" in listed.stdout

        paused = ferry(env, "schedules", "pause", sid)
        assert paused.returncode == 0, paused.stderr
        assert "next run paused" in paused.stdout
        assert ferry(env, "schedules", "resume", sid).returncode == 0
        assert ferry(env, "schedules", "delete", sid).returncode == 0
        assert sid not in ferry(env, "schedules", "list").stdout
        assert TOKEN not in status.logs()


def test_bad_values_are_refused_before_anything_is_sent(infra: Infra) -> None:
    # No status service at this URL: a refusal must come before any request.
    env = infra.env(FERRY_STATUS_URL="http://127.0.0.1:9", FERRY_API_TOKEN=TOKEN)
    bad_option = ferry(env, "schedules", "add", "telemetry-janitor", "clear", "--schedule", "14:30",
                       "-o", "status=SOMETIMES")
    assert bad_option.returncode == 2
    assert "--status" in bad_option.stderr
    bad_overlap = ferry(env, "schedules", "add", "telemetry-janitor", "clear", "--schedule", "14:30",
                        "--overlap", "queue")
    assert bad_overlap.returncode == 2
    assert "--overlap" in bad_overlap.stderr
    no_token = ferry(infra.env(FERRY_STATUS_URL="http://127.0.0.1:9"), "schedules", "add", "telemetry-janitor",
                     "clear", "--schedule", "14:30")
    assert no_token.returncode == 2
    assert "FERRY_API_TOKEN" in no_token.stderr


def test_a_schedule_with_its_own_notifications_keeps_the_webhook_secret(infra: Infra, tmp_path: Path) -> None:
    hook = "https://hooks.example.com/services/T0/B0/s3cr3t-path"
    with running_service("ferry-status", infra, tmp_path, FERRY_API_TOKEN=TOKEN) as status:
        env = infra.env(FERRY_STATUS_URL=status.url, FERRY_API_TOKEN=TOKEN)
        added = ferry(env, "schedules", "add", "telemetry-janitor", "clear", "--schedule", "03:00",
                      "--notify-on", "FAILED", "--notify-on", "rejected", "--notify-url", hook, "--json")
        assert added.returncode == 0, added.stderr
        schedule = json.loads(added.stdout)
        assert schedule["notify_on"] == ["failed", "rejected"]
        assert "hooks.example.com" in schedule["notify_url"]
        assert "s3cr3t-path" not in added.stdout

        silent = ferry(env, "schedules", "add", "telemetry-janitor", "clear", "--schedule", "04:00",
                       "--notify-on", "none", "--json")
        assert silent.returncode == 0, silent.stderr
        assert json.loads(silent.stdout)["notify_on"] == []
        listed = ferry(env, "schedules", "list", "--json")
        assert "s3cr3t-path" not in listed.stdout
        assert "s3cr3t-path" not in status.logs()


def test_bad_zones_and_notification_flags_are_refused_before_anything_is_sent(infra: Infra) -> None:
    env = infra.env(FERRY_STATUS_URL="http://127.0.0.1:9", FERRY_API_TOKEN=TOKEN)
    add = ("schedules", "add", "telemetry-janitor", "clear", "--schedule", "14:30")
    for extra, flag, said in [
        (("--tz", "Mars/Olympus_Mons"), "--tz", "not an IANA time zone"),
        (("--notify-on", "sometimes"), "--notify-on", "completed"),
        (("--notify-on", "none", "--notify-on", "failed"), "--notify-on", "cannot be combined"),
        (("--notify-url", "ftp://hooks.example.com/x"), "--notify-url", "http(s) URL"),
    ]:
        refused = ferry(env, *add, *extra)
        assert refused.returncode == 2, (extra, refused.stderr)
        assert flag in refused.stderr, (extra, refused.stderr)
        assert said in refused.stderr, (extra, refused.stderr)
        assert "127.0.0.1:9" not in refused.stderr  # refused before any request to the status service
