"""The overview's filters and exports, the queue page's dead letters, and an accessibility check
of the main pages (every control labelled, badges readable: text and WCAG AA contrast)."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import aio_pika
import pytest
from playwright.sync_api import Page, expect

from ferry import topology
from ferry.contracts import EventType
from tests.dashboard.conftest import Dashboard, event, eventually, in_thread

# For each visible control: its accessible name, or a complaint. For each badge: its text and the
# contrast ratio of its text against its background (WCAG 2 relative luminance).
AUDIT = """() => {
  const problems = [];
  const visible = e => e.offsetParent !== null || e.getClientRects().length > 0;
  for (const e of document.querySelectorAll("input:not([type=hidden]), select, textarea")) {
    const named = (e.labels && e.labels.length) || e.getAttribute("aria-label") || e.getAttribute("aria-labelledby");
    if (!named) problems.push("no label: " + e.outerHTML.slice(0, 120));
  }
  for (const e of document.querySelectorAll("button, a")) {
    if (visible(e) && !(e.innerText || "").trim() && !e.getAttribute("aria-label")) {
      problems.push("no text: " + e.outerHTML.slice(0, 120));
    }
  }
  for (const e of document.querySelectorAll("progress")) {
    if (!e.getAttribute("aria-label")) problems.push("progress without a label");
  }
  if (!document.documentElement.lang) problems.push("no lang on <html>");
  const lum = c => {
    const [r, g, b] = c.match(/[\\d.]+/g).slice(0, 3).map(Number).map(v => v / 255)
      .map(v => v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4));
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const badges = [];
  for (const e of document.querySelectorAll(".badge")) {
    const s = getComputedStyle(e);
    const [a, b] = [lum(s.color), lum(s.backgroundColor)].sort((x, y) => y - x);
    badges.push({text: e.innerText.trim(), cls: e.className, ratio: (a + 0.05) / (b + 0.05)});
  }
  return {problems, badges};
}"""


def _audit(page: Page, where: str) -> list[dict[str, object]]:
    result = page.evaluate(AUDIT)
    assert result["problems"] == [], f"{where}: {result['problems']}"
    for badge in result["badges"]:
        status = str(badge["cls"]).removeprefix("badge badge-")
        assert status in str(badge["text"]), f"{where}: a badge says its status in words: {badge}"
        assert float(badge["ratio"]) >= 4.5, f"{where}: badge contrast below WCAG AA: {badge}"
    badges: list[dict[str, object]] = result["badges"]
    return badges


def _jobs_in_every_status(dashboard: Dashboard) -> dict[str, UUID]:
    ids = {}
    finals = {"completed": EventType.COMPLETED, "failed": EventType.FAILED, "cancelled": EventType.CANCELLED,
              "rejected": EventType.REJECTED}
    events = []
    for status, kind in finals.items():
        ids[status] = job_id = uuid4()
        events += [event(job_id, 0, EventType.STARTED, total=4), event(job_id, 1, kind, total=4, processed=4,
                                                                        succeeded=4, message=f"{status} job")]
    ids["running"] = uuid4()
    events.append(event(ids["running"], 0, EventType.PROGRESS, total=4, processed=1, succeeded=1))
    ids["pending"] = uuid4()
    events.append(event(ids["pending"], 0, EventType.ACCEPTED, service="gh-seeder", command="seed",
                        detail={"requested_by": "cli:carol", "options": {"repo": "posthog/posthog"}}))
    dashboard.publish(*events)
    for status, job_id in ids.items():
        dashboard.job_when(job_id, lambda j, s=status: j["status"] == s)  # type: ignore[misc]
    return ids


def test_the_main_pages_are_labelled_and_their_badges_readable(dashboard: Dashboard) -> None:
    ids = _jobs_in_every_status(dashboard)
    page = dashboard.page()
    page.goto("/ui/login")
    _audit(page, "login")
    page = dashboard.login("admin")
    for summary in page.locator("details > summary").all():
        summary.click()
    badges = _audit(page, "overview")
    assert {str(b["cls"]).removeprefix("badge badge-") for b in badges} >= set(ids)
    dashboard.shot(page, "overview-every-status")
    page.goto(f"/ui/jobs/{ids['failed']}")
    _audit(page, "job page")
    page.goto("/ui/queues")
    _audit(page, "queues")


def test_filters_search_and_exports_show_the_same_jobs(dashboard: Dashboard) -> None:
    ids = _jobs_in_every_status(dashboard)
    page = dashboard.login("admin")
    expect(page.locator("[data-stat=total]")).to_have_text("6")
    expect(page.locator("[data-stat=failed]")).to_have_text("1")

    page.get_by_label("Status", exact=True).select_option("failed")
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("table.jobs tbody tr")
    expect(rows).to_have_count(1)
    assert rows.first.get_attribute("data-job-id") == str(ids["failed"])

    page.goto("/")
    page.get_by_label("Started by").fill("carol")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    assert rows.first.get_attribute("data-job-id") == str(ids["pending"])

    page.goto("/")
    page.get_by_label("Job id").fill(str(ids["cancelled"])[:8])
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    assert rows.first.get_attribute("data-job-id") == str(ids["cancelled"])

    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    page.goto(f"/?since={tomorrow}")
    expect(page.get_by_text("No jobs match.")).to_be_visible()
    page.goto("/?since=yesterday")
    expect(page.get_by_role("alert")).to_have_text("since 'yesterday' is not a date (YYYY-MM-DD)")

    page.goto("/?service=telemetry-janitor")
    expect(rows).to_have_count(5)
    with page.expect_download() as download:
        page.get_by_role("link", name="Export CSV").click()
    exported = list(csv.DictReader(io.StringIO(download.value.path().read_text(encoding="utf-8"))))
    assert sorted(r["job_id"] for r in exported) == sorted(str(v) for k, v in ids.items() if k != "pending")
    assert {r["service"] for r in exported} == {"telemetry-janitor"}
    as_json = json.loads(page.request.get("/ui/export.json?status=completed").text())
    assert [j["job_id"] for j in as_json] == [str(ids["completed"])]
    assert as_json[0]["processed"] == 4


def test_page_size_is_twenty(dashboard: Dashboard) -> None:
    dashboard.publish(*(event(uuid4(), 0, EventType.COMPLETED, total=1, processed=1, succeeded=1) for _ in range(25)))
    eventually(lambda: dashboard.api_job_count() == 25, what="25 jobs")
    page = dashboard.login("admin")
    rows = page.locator("table.jobs tbody tr")
    expect(rows).to_have_count(20)
    expect(page.get_by_text("25 jobs · page 1 of 2")).to_be_visible()
    page.get_by_role("link", name="older →").click()
    expect(rows).to_have_count(5)


def _dead_letter(dashboard: Dashboard, routing_key: str, reason: str, body: bytes) -> None:
    async def run() -> None:
        connection = await aio_pika.connect(dashboard.infra.amqp_url)
        async with connection:
            channel = await connection.channel(publisher_confirms=True)
            await topology.declare_base(channel)
            dlx = await topology.declare_exchange(channel, topology.DLX)
            message = aio_pika.Message(body, headers={"x-ferry-reason": reason}, message_id=str(uuid4()),
                                       delivery_mode=aio_pika.DeliveryMode.PERSISTENT)
            await dlx.publish(message, routing_key=routing_key)

    in_thread(run())


def test_staff_republish_and_discard_dead_letters(dashboard: Dashboard) -> None:
    _dead_letter(dashboard, "telemetry-janitor.clear", "invalid command: status 'SOME' is not allowed",
                 b'{"job_id": "x", "options": {"status": "SOME"}}')
    _dead_letter(dashboard, "gh-seeder.seed", "unreadable JSON", b"not json")
    viewer = dashboard.login("viewer")
    viewer.goto("/ui/queues")
    expect(viewer.get_by_role("heading", name="Dead letters (2)")).to_be_visible()
    expect(viewer.get_by_role("button", name="Republish")).to_have_count(0)  # viewers only look

    page = dashboard.login("admin")
    page.goto("/ui/queues")
    letters = page.locator("article.dead-letter")
    expect(letters).to_have_count(2)
    expect(letters.first).to_contain_text("reason: invalid command: status 'SOME' is not allowed")
    janitor = page.locator("tr[data-queue='telemetry-janitor.commands']")
    expect(janitor.locator("[data-field=ready]")).to_have_text("0")
    expect(janitor.locator("[data-field=unacked]")).to_have_text("not known")
    expect(page.locator("[data-field=unacked-note]")).to_contain_text(  # no management API configured
        "Unacknowledged counts need RabbitMQ's management API, which is not configured here")
    dashboard.shot(page, "queues")
    letters.filter(has_text="telemetry-janitor.clear").get_by_role("button", name="Republish").click()
    expect(page.get_by_role("status")).to_have_text("Dead letter republished")
    letters.filter(has_text="gh-seeder.seed").get_by_role("button", name="Discard").click()
    expect(page.get_by_role("status")).to_have_text("Dead letter discarded")
    expect(page.get_by_text("No dead letters.")).to_be_visible()
    back = dashboard.commands("telemetry-janitor")
    assert [(m.routing_key, m.body) for m in back] == [
        ("telemetry-janitor.clear", b'{"job_id": "x", "options": {"status": "SOME"}}')]
    assert dashboard.commands("gh-seeder") == []


@pytest.mark.parametrize("dashboard", [{"FERRY_STATUS_STALLED_AFTER_S": "1"}], indirect=True)
def test_stalled_and_pending_jobs_are_badged_and_filtered(dashboard: Dashboard) -> None:
    quiet, waiting, done = uuid4(), uuid4(), uuid4()
    dashboard.publish(
        event(quiet, 0, EventType.STARTED, total=10),
        event(quiet, 1, EventType.PROGRESS, total=10, processed=3, succeeded=3, message="3 of 10"),
        event(waiting, 0, EventType.ACCEPTED, detail={"requested_by": "cli:ops", "options": {"status": "ERROR"}}),
        event(done, 0, EventType.COMPLETED, total=1, processed=1, succeeded=1),
    )
    dashboard.job_when(quiet, lambda j: j["status"] == "stalled")  # the status service's own verdict
    dashboard.job_when(waiting, lambda j: j["status"] == "pending")
    page = dashboard.login("admin")
    expect(page.locator("[data-stat=stalled]")).to_have_text("1")
    expect(page.locator("[data-stat=pending]")).to_have_text("1")
    rows = page.locator("table.jobs tbody tr")
    for status, job_id in (("stalled", quiet), ("pending", waiting)):
        page.goto("/")
        page.get_by_label("Status", exact=True).select_option(status)
        page.get_by_role("button", name="Filter").click()
        expect(rows).to_have_count(1)
        assert rows.first.get_attribute("data-job-id") == str(job_id)
        expect(rows.first.locator(".badge")).to_have_text(re.compile(status))
        for summary in page.locator("details > summary").all():
            summary.click()  # the audit reads every control, the start forms' too
        _audit(page, f"overview filtered by {status}")
    dashboard.shot(page, "pending-filtered")
    page.goto(f"/ui/jobs/{quiet}")
    expect(page.locator("#live .badge")).to_have_text(re.compile("stalled"))
    expect(page.locator("[data-field=stalled]")).to_contain_text("sent no event")
    dashboard.shot(page, "stalled-job")
    page.get_by_role("button", name="Cancel job").click()  # a stalled job can still be stopped
    expect(page.get_by_role("status")).to_have_text(re.compile("Cancel requested"))
    assert [c.routing_key for c in dashboard.commands("telemetry-janitor")] == ["telemetry-janitor.cancel"]
