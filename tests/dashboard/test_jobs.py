"""Starting, watching and handling jobs from the dashboard, in Chromium, against a real status
service (and, for the dry run, a real telemetry janitor)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from uuid import UUID, uuid4

from playwright.sync_api import Page, expect

from ferry.contracts import EventType
from tests.dashboard.conftest import Dashboard, event, eventually
from tests.support.processes import running_service

JOB_URL = re.compile(r"/ui/jobs/([0-9a-f-]{36})$")
OPTIONS = {"status": "ERROR", "dry_run": True, "batch_size": 500}


def _job_id(page: Page) -> UUID:
    match = JOB_URL.search(page.url)
    assert match, page.url
    return UUID(match.group(1))


def _start(page: Page, service: str, command: str, **fields: str) -> None:
    page.goto("/")
    page.locator("summary", has_text=f"{service} {command}").click()
    form = page.get_by_role("form", name=f"Start {service} {command}")
    for name, value in fields.items():
        box = form.get_by_label(name.replace("_", " "), exact=True)
        if value in ("on", "off"):
            box.set_checked(value == "on")
        elif box.evaluate("e => e.tagName") == "SELECT":
            box.select_option(value)
        else:
            box.fill(value)
    form.get_by_role("button", name=f"Start {service} {command}").click()


def _running_job(dashboard: Dashboard, total: int = 100, processed: int = 10) -> UUID:
    job_id = uuid4()
    dashboard.publish(
        event(job_id, 0, EventType.ACCEPTED, detail={"options": OPTIONS, "requested_by": "cli:ops"}),
        event(job_id, 1, EventType.STARTED, total=total, message="Found 100 records"),
        event(job_id, 2, EventType.PROGRESS, total=total, processed=processed, succeeded=processed,
              message=f"Deleted {processed}/{total}"),
    )
    dashboard.job_when(job_id, lambda j: j["processed"] == processed)
    return job_id


def test_a_janitor_dry_run_started_from_its_form_finishes_live(dashboard: Dashboard, tmp_path: Path) -> None:
    with running_service("ferry-telemetry-janitor", dashboard.infra, tmp_path, ready_timeout=60):
        page = dashboard.login("admin")
        _start(page, "telemetry-janitor", "seed-demo", rows="3000")
        seeded = _job_id(page)
        dashboard.job_when(seeded, lambda j: j["status"] == "completed", timeout=60)

        _start(page, "telemetry-janitor", "clear", status="ERROR", dry_run="on")
        job_id = _job_id(page)
        assert job_id != seeded
        page.evaluate("window.stillTheSamePage = true")
        dashboard.shot(page, "dry-run-started")
        live = page.locator("#live")
        expect(live.locator(".badge")).to_have_text(re.compile("completed"), timeout=30_000)
        expect(live.locator("progress")).to_have_attribute("value", "100.0")
        expect(live.locator(".pct")).to_have_text("100%")
        assert page.evaluate("window.stillTheSamePage") is True  # it changed without a reload
        dashboard.shot(page, "dry-run-completed")

        job = dashboard.api_job(job_id)
        assert job is not None
        assert job["options"]["dry_run"] is True
        assert job["requested_by"] == "dashboard:admin"
        assert job["total"] == dashboard.sql_count_webhooks("ERROR") > 0  # counted them all
        assert dashboard.sql_count_webhooks() == 3000  # and deleted nothing
        summary = page.get_by_role("region", name="Summary")
        assert "dry_run" in summary.inner_text()

        page.goto("/")
        row = page.locator(f"tr[data-job-id='{job_id}']")
        expect(row.locator(".badge")).to_have_text(re.compile("completed"))
        assert "dashboard:admin" in row.inner_text()


def test_cancelling_a_running_job_and_watching_it_stop(dashboard: Dashboard) -> None:
    job_id = _running_job(dashboard)
    page = dashboard.login("admin")
    page.goto(f"/ui/jobs/{job_id}")
    live = page.locator("#live")
    expect(live.locator(".badge")).to_have_text(re.compile("running"))
    expect(live.locator(".pct")).to_have_text("10%")
    dashboard.shot(page, "running")
    page.get_by_role("button", name="Cancel job").click()
    expect(page.get_by_role("status")).to_have_text(re.compile("Cancel requested"))

    commands = eventually(lambda: dashboard.commands("telemetry-janitor"), what="the cancel command")
    assert [c.routing_key for c in commands] == ["telemetry-janitor.cancel"]
    body = json.loads(commands[0].body)
    assert body["job_id"] == str(job_id)
    assert body["requested_by"] == "dashboard:admin"

    page.evaluate("window.stillTheSamePage = true")
    dashboard.publish(event(job_id, 3, EventType.CANCELLED, total=100, processed=10, succeeded=10,
                            message="Cancelled after 10 of 100"))
    expect(live.locator(".badge")).to_have_text(re.compile("cancelled"), timeout=15_000)
    assert page.evaluate("window.stillTheSamePage") is True
    expect(page.get_by_role("region", name="Operator actions")).to_contain_text("admin cancel")
    dashboard.shot(page, "cancelled")


def test_rerunning_a_failed_job_starts_a_linked_job_with_the_same_options(dashboard: Dashboard) -> None:
    old = uuid4()
    dashboard.publish(
        event(old, 0, EventType.ACCEPTED, detail={"options": OPTIONS, "requested_by": "cli:ops"}),
        event(old, 1, EventType.FAILED, message="database went away", detail={"error": "database went away"}),
    )
    dashboard.job_when(old, lambda j: j["status"] == "failed")
    page = dashboard.login("admin")
    page.goto(f"/ui/jobs/{old}")
    expect(page.locator("#live .badge")).to_have_text(re.compile("failed"))
    expect(page.locator("[data-field=error]")).to_have_text("database went away")
    page.get_by_role("button", name="Re-run with the same options").click()
    new = _job_id(page)
    assert new != old
    expect(page.get_by_text(f"Re-run of {old}", exact=True)).to_be_visible()
    expect(page.locator("#live .badge")).to_have_text(re.compile("pending"))
    dashboard.shot(page, "rerun")

    commands = dashboard.commands("telemetry-janitor")
    assert [c.routing_key for c in commands] == ["telemetry-janitor.clear"]
    body = json.loads(commands[0].body)
    assert body["job_id"] == str(new)
    assert {k: body["options"][k] for k in OPTIONS} == OPTIONS
    page.goto(f"/ui/jobs/{old}")
    expect(page.get_by_role("region", name="Operator actions")).to_contain_text(f"admin rerun → {new}")


def test_a_bad_value_shows_its_error_and_publishes_nothing(dashboard: Dashboard) -> None:
    page = dashboard.login("admin")
    _start(page, "telemetry-janitor", "clear", batch_size="0")
    form = page.get_by_role("form", name="Start telemetry-janitor clear")
    expect(form.get_by_role("alert")).to_have_text(re.compile("batch_size: Input should be greater than or equal to 1"))
    expect(form.get_by_label("batch size", exact=True)).to_have_value("0")  # what they typed is kept
    dashboard.shot(page, "bad-value")
    assert page.url.endswith("/ui/start")
    form.get_by_label("batch size", exact=True).fill("many")
    form.get_by_role("button", name="Start telemetry-janitor clear").click()
    expect(page.get_by_role("form", name="Start telemetry-janitor clear").get_by_role("alert")).to_contain_text(
        "batch_size: Input should be a valid integer")
    assert dashboard.commands("telemetry-janitor") == []
    assert dashboard.api_job_count() == 0


def test_marking_a_job_failed_and_clearing_its_error_are_recorded(dashboard: Dashboard) -> None:
    job_id = _running_job(dashboard)
    page = dashboard.login("admin")
    page.goto(f"/ui/jobs/{job_id}")
    page.get_by_label("Reason (recorded with your name)").fill("stuck since the broker outage")
    page.get_by_role("button", name="Mark failed").click()
    expect(page.locator("#live .badge")).to_have_text(re.compile("failed"), timeout=15_000)
    expect(page.locator("[data-field=error]")).to_have_text("marked failed by admin: stuck since the broker outage")
    events = page.get_by_role("region", name=re.compile("Events"))
    expect(events).to_contain_text("Marked failed by admin: stuck since the broker outage")

    page.get_by_role("button", name="Clear error message").click()
    expect(page.get_by_role("status")).to_have_text("Error message cleared")
    expect(page.locator("[data-field=error]")).to_have_count(0)
    audit = page.get_by_role("region", name="Operator actions")
    expect(audit).to_contain_text("admin mark failed (stuck since the broker outage)")
    expect(audit).to_contain_text("admin clear error")
    dashboard.shot(page, "marked")
    job = dashboard.api_job(job_id)
    assert job is not None
    assert job["status"] == "failed"
    assert job["error"] is None


def test_the_content_fetch_buttons_start_a_fetch_of_each_type(dashboard: Dashboard) -> None:
    page = dashboard.login("admin")
    started = {}
    for label, fetch_type in (("Fetch both", "both"), ("MCQ only", "mcq"),
                              ("Current affairs only", "current_affairs")):
        page.goto("/")
        page.get_by_role("region", name="Start a job").get_by_role("button", name=label, exact=True).click()
        started[fetch_type] = job_id = _job_id(page)
        expect(page.get_by_role("status")).to_have_text(f"Started content-fetch ({fetch_type}): job {job_id}")
        expect(page.locator("#live .badge")).to_have_text(re.compile("pending"))
        expect(page.get_by_role("region", name="Options")).to_contain_text(fetch_type)
    dashboard.shot(page, "content-fetch-started")

    commands = dashboard.commands("content-fetch")
    assert [c.routing_key for c in commands] == ["content-fetch.fetch"] * 3
    bodies = [json.loads(c.body) for c in commands]
    assert {b["options"]["type"]: b["job_id"] for b in bodies} == {k: str(v) for k, v in started.items()}
    assert {b["requested_by"] for b in bodies} == {"dashboard:admin"}
    page.goto("/?service=content-fetch")
    expect(page.locator("table.jobs tbody tr")).to_have_count(3)

    viewer = dashboard.login("viewer")
    expect(viewer.get_by_role("button", name="Fetch both")).to_have_count(0)  # viewers start nothing
