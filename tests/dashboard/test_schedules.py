"""Schedules on the dashboard, in Chromium: a bad time, zone or option is shown next to its field
and nothing is saved; a good one is listed with its next run in its own time zone, the same
schedule the API and `ferry schedules list` show; staff pause, resume and delete it."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from playwright.sync_api import expect

from tests.dashboard.conftest import Dashboard

MADRID = ZoneInfo("Europe/Madrid")


def _api_schedules(dashboard: Dashboard) -> list[dict[str, Any]]:
    schedules: list[dict[str, Any]] = httpx.get(f"{dashboard.url}/schedules", timeout=10).json()
    return schedules


def _next_madrid_1430() -> set[str]:
    """The next 14:30 in Madrid as the page writes it (either side of a minute boundary)."""
    shown = set()
    for now in (datetime.now(MADRID), datetime.now(MADRID) + timedelta(minutes=1)):
        due = now.replace(hour=14, minute=30, second=0, microsecond=0)
        if due <= now:
            due = (due + timedelta(days=1)).replace(hour=14, minute=30)
        shown.add(due.strftime("%Y-%m-%d %H:%M %Z"))
    return shown


def test_staff_add_pause_resume_and_delete_a_schedule(dashboard: Dashboard) -> None:
    page = dashboard.login("admin")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Schedules").click()
    expect(page.get_by_text("No schedules yet.")).to_be_visible()
    page.locator("summary", has_text="telemetry-janitor clear").click()
    form = page.get_by_role("form", name="Schedule telemetry-janitor clear")
    form.get_by_label("Run at (required)").fill("25:00")
    form.get_by_label("Time zone").fill("Mars/Olympus")
    form.get_by_label("batch size", exact=True).fill("0")
    form.get_by_role("button", name="Add schedule for telemetry-janitor clear").click()

    form = page.get_by_role("form", name="Schedule telemetry-janitor clear")
    alerts = form.get_by_role("alert")
    expect(alerts).to_have_count(3)
    expect(alerts.nth(0)).to_have_text(re.compile(r"schedule: '25:00' is neither HH:MM nor a cron expression"))
    expect(alerts.nth(1)).to_have_text(re.compile(r"time zone: 'Mars/Olympus' is not an IANA time zone"))
    expect(alerts.nth(2)).to_have_text(re.compile("batch_size: Input should be greater than or equal to 1"))
    expect(form.get_by_label("Time zone")).to_have_value("Mars/Olympus")  # what they typed is kept
    dashboard.shot(page, "schedule-refused")
    assert _api_schedules(dashboard) == []

    form.get_by_label("Run at (required)").fill("*/5 * *")
    form.get_by_label("Time zone").fill("Europe/Madrid")
    form.get_by_label("batch size", exact=True).fill("500")
    form.get_by_role("button", name="Add schedule for telemetry-janitor clear").click()
    expect(page.get_by_role("form", name="Schedule telemetry-janitor clear").get_by_role("alert")).to_have_text(
        re.compile(r"schedule: '\*/5 \* \*' is neither HH:MM nor a cron expression"))
    assert _api_schedules(dashboard) == []

    form = page.get_by_role("form", name="Schedule telemetry-janitor clear")
    form.get_by_label("Run at (required)").fill("14:30")
    form.get_by_label("status", exact=True).select_option("ERROR")
    form.get_by_label("dry run", exact=True).check()
    form.get_by_role("button", name="Add schedule for telemetry-janitor clear").click()
    expect(page.get_by_role("status")).to_contain_text(
        "Schedule added: telemetry-janitor clear at 14:30 (Europe/Madrid)")

    [made] = _api_schedules(dashboard)
    assert made["created_by"] == "dashboard:admin"
    assert made["cron"] == "30 14 * * *"
    assert made["timezone"] == "Europe/Madrid"
    assert made["options"]["status"] == "ERROR"
    assert made["options"]["dry_run"] is True
    assert made["options"]["batch_size"] == 500
    row = page.locator(f"tr[data-schedule-id='{made['schedule_id']}']")
    next_run = row.locator("[data-field=next-run]")
    assert next_run.inner_text() in _next_madrid_1430()  # local time, with CET or CEST
    listed = dashboard.ferry("schedules", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [s["schedule_id"] for s in json.loads(listed.stdout)] == [made["schedule_id"]]  # the CLI's too
    dashboard.shot(page, "schedule-added")

    row.get_by_role("button", name=re.compile("^Pause schedule")).click()
    expect(page.get_by_role("status")).to_have_text("Schedule paused")
    expect(next_run).to_have_text(re.compile("paused"))
    assert _api_schedules(dashboard)[0]["paused"] is True
    row.get_by_role("button", name=re.compile("^Resume schedule")).click()
    expect(page.get_by_role("status")).to_have_text("Schedule resumed")
    assert next_run.inner_text() in _next_madrid_1430()
    assert _api_schedules(dashboard)[0]["paused"] is False

    viewer = dashboard.login("viewer")
    viewer.goto("/ui/schedules")
    expect(viewer.locator(f"tr[data-schedule-id='{made['schedule_id']}']")).to_contain_text("14:30")
    expect(viewer.get_by_role("button", name=re.compile("schedule"))).to_have_count(0)  # viewers only look
    token = viewer.locator("input[name=csrf_token]").first.get_attribute("value") or ""
    refused = viewer.request.post(f"/ui/schedules/{made['schedule_id']}/delete", form={"csrf_token": token})
    assert refused.status == 403
    unsigned = page.request.post(f"/ui/schedules/{made['schedule_id']}/delete")
    assert unsigned.status == 403  # no CSRF token
    assert len(_api_schedules(dashboard)) == 1

    row.get_by_role("button", name=re.compile("^Delete schedule")).click()
    expect(page.get_by_role("status")).to_have_text("Schedule deleted")
    expect(page.get_by_text("No schedules yet.")).to_be_visible()
    assert _api_schedules(dashboard) == []
