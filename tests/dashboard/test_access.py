"""Logging in, roles, CSRF and secrets, as a person (and an attacker's page) meets them."""

from __future__ import annotations

from uuid import uuid4

import httpx
import pytest

from ferry.contracts import EventType
from tests.dashboard.conftest import GITHUB_TOKEN, PASSWORDS, SECRET_KEY, TOKEN, Dashboard, event
from tests.support.infra import free_port

MANAGEMENT_PASSWORD = "rabbit-management-pass-3e1f"
NOTHING_LISTENS = free_port()


def test_nobody_logged_in_is_sent_to_the_login_page_and_staff_get_in(dashboard: Dashboard) -> None:
    page = dashboard.page()
    page.goto("/ui/queues")
    assert page.url.endswith("/ui/login?next=/ui/queues")
    page.get_by_role("heading", name="Log in to ferry").wait_for()
    dashboard.shot(page, "login")
    page.get_by_label("User name").fill("admin")
    page.get_by_label("Password").fill(PASSWORDS["admin"])
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Queues").wait_for()  # back where they were going
    assert "admin (staff)" in page.locator("header").inner_text()

    cookie = next(c for c in page.context.cookies() if c["name"] == "ferry_session")
    assert cookie["httpOnly"]
    assert cookie["sameSite"] == "Lax"

    page.get_by_role("button", name="Log out").click()
    page.get_by_role("heading", name="Log in to ferry").wait_for()
    page.goto("/")
    assert "/ui/login" in page.url


def test_a_wrong_password_is_refused_and_repeated_failures_are_rate_limited(dashboard: Dashboard) -> None:
    page = dashboard.login("admin", "not-the-password")
    assert page.get_by_role("alert").inner_text() == "Wrong user name or password."
    assert "/ui/login" in page.url
    for _ in range(4):
        page.get_by_label("Password").fill("still-wrong")
        page.get_by_role("button", name="Log in").click()
    page.get_by_label("Password").fill(PASSWORDS["admin"])  # now right, but too late
    page.get_by_role("button", name="Log in").click()
    assert "too many failed logins" in page.get_by_role("alert").inner_text()
    dashboard.shot(page, "rate-limited")
    assert "/ui/login" in page.url


def test_a_user_without_a_role_gets_403_and_a_viewer_can_start_nothing(dashboard: Dashboard) -> None:
    page = dashboard.login("nobody")
    page.get_by_role("heading", name="Not allowed (403)").wait_for()
    assert "nobody has no access" in page.get_by_role("alert").inner_text()

    viewer = dashboard.login("viewer")
    viewer.get_by_role("heading", name="Jobs", exact=True).wait_for()
    assert viewer.get_by_text("You are a viewer").is_visible()
    viewer.locator("summary", has_text="telemetry-janitor clear").click()
    assert viewer.get_by_role("button", name="Start telemetry-janitor clear").is_disabled()
    # Even a hand-made request with the viewer's own valid CSRF token is refused.
    token = viewer.locator("input[name=csrf_token]").first.get_attribute("value")
    response = viewer.request.post("/ui/start", form={
        "csrf_token": token or "", "_service": "telemetry-janitor", "_command": "clear", "dry_run": "on"})
    assert response.status == 403
    assert "only staff may do this; viewer is a viewer" in response.text()
    assert dashboard.commands("telemetry-janitor") == []


def test_a_post_without_the_csrf_token_is_refused_and_publishes_nothing(dashboard: Dashboard) -> None:
    page = dashboard.login("admin")
    page.get_by_role("heading", name="Jobs", exact=True).wait_for()
    form = {"_service": "telemetry-janitor", "_command": "clear", "dry_run": "on"}
    missing = page.request.post("/ui/start", form=form)
    wrong = page.request.post("/ui/start", form={**form, "csrf_token": "forged"})
    assert missing.status == wrong.status == 403
    assert "CSRF token missing or wrong" in missing.text()
    logout = page.request.post("/ui/logout")
    assert logout.status == 403
    page.reload()
    assert "admin (staff)" in page.locator("header").inner_text()  # still logged in
    assert dashboard.commands("telemetry-janitor") == []


# The management API is configured, with a password, where nothing answers (RabbitMQ's management
# plugin is not enabled here): the queues page says so, and names the address without credentials.
@pytest.mark.parametrize("dashboard", [{
    "FERRY_DASHBOARD_RABBITMQ_API_URL": f"http://127.0.0.1:{NOTHING_LISTENS}",
    "FERRY_DASHBOARD_RABBITMQ_API_USER": "monitor", "FERRY_DASHBOARD_RABBITMQ_API_PASSWORD": MANAGEMENT_PASSWORD,
}], indirect=True)
def test_no_secret_appears_on_any_page(dashboard: Dashboard) -> None:
    job_id = uuid4()
    dashboard.publish(
        event(job_id, 0, EventType.ACCEPTED, detail={"options": {"status": "ERROR", "dry_run": True},
                                                     "requested_by": "cli:ops"}),
        event(job_id, 1, EventType.FAILED, message="boom", detail={"error": "database went away"}),
    )
    dashboard.job_when(job_id, lambda j: j["status"] == "failed")
    page = dashboard.login("admin")
    seen = []
    for path in ("/", f"/ui/jobs/{job_id}", "/ui/queues", "/ui/export.csv", "/ui/export.json",
                 "/ui/live/overview", f"/ui/live/jobs/{job_id}"):
        response = page.request.get(path)
        assert response.status == 200, path
        seen.append(response.text())
    page.goto(f"/ui/jobs/{job_id}")
    seen.append(page.content())
    page.goto("/ui/queues")
    note = page.locator("[data-field=unacked-note]").inner_text()
    assert "Unacknowledged counts need RabbitMQ's management API; it did not answer at " \
        f"http://127.0.0.1:{NOTHING_LISTENS}" in note
    assert page.locator("tr[data-queue='status.events'] [data-field=ready]").inner_text().isdigit()  # AMQP's count
    seen.append(page.content())
    secrets = [TOKEN, SECRET_KEY, GITHUB_TOKEN, MANAGEMENT_PASSWORD, *PASSWORDS.values()]
    for text in seen:
        for secret in secrets:
            assert secret not in text
        assert "argon2" not in text  # no password hash either
    # The bearer-token API is unchanged for programs.
    refused = httpx.post(f"{dashboard.url}/jobs/{job_id}/cancel", timeout=10)
    assert refused.status_code == 401
