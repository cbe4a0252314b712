"""Unacknowledged counts from RabbitMQ's management API, against a loopback fake of it.

CI's broker runs without the management plugin, so the fake answers as the plugin's
`GET /api/queues/<vhost>` does: HTTP basic auth, the vhost percent-encoded in the path, `columns`
choosing the fields, 401 for a wrong user, 404 for an unknown vhost.
"""

from __future__ import annotations

import base64
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from ferry_status.dashboard import management
from ferry_status.dashboard.settings import DashboardSettings
from tests.support.asgi import serve_asgi

QUEUES = {"ferry-prod": [
    {"name": "telemetry-janitor.steps", "messages_unacknowledged": 4, "messages_ready": 10, "consumers": 2},
    {"name": "ferry.dead-letters", "messages_unacknowledged": 0, "messages_ready": 3, "consumers": 0},
]}


def fake_management_api(user: str, password: str) -> tuple[FastAPI, list[str]]:
    app, paths = FastAPI(), []
    expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    @app.get("/api/queues/{vhost:path}")
    async def queues(vhost: str, request: Request) -> Any:
        paths.append(request.url.path)
        if request.headers.get("authorization") != expected:
            return JSONResponse({"error": "not_authorised", "reason": "Login failed"}, status_code=401)
        if vhost not in QUEUES:
            return JSONResponse({"error": "Object Not Found", "reason": "Not Found"}, status_code=404)
        columns = request.query_params.get("columns", "").split(",")
        return [{k: v for k, v in q.items() if not columns[0] or k in columns} for q in QUEUES[vhost]]

    return app, paths


def settings_for(api: str, **extra: Any) -> DashboardSettings:
    return DashboardSettings(amqp_url="amqp://ops:amqp-pass-91@broker:5672/ferry-prod",
                             dashboard_rabbitmq_api_url=api, **extra)


async def test_unacked_counts_are_read_with_the_amqp_credentials_for_the_amqp_vhost() -> None:
    app, paths = fake_management_api("ops", "amqp-pass-91")
    async with serve_asgi(app) as url:
        got = await management.unacked(settings_for(url + "/"))
    assert got.problem == ""
    assert got.counts == {"telemetry-janitor.steps": 4, "ferry.dead-letters": 0}
    assert paths == ["/api/queues/ferry-prod"]
    assert "amqp-pass-91" not in got.source
    assert got.source == url


async def test_a_management_user_of_its_own_and_a_refusal_say_so_without_the_password() -> None:
    app, _ = fake_management_api("monitor", "mon-pass-77")
    async with serve_asgi(app) as url:
        own = await management.unacked(settings_for(url, dashboard_rabbitmq_api_user="monitor",
                                                    dashboard_rabbitmq_api_password="mon-pass-77"))
        wrong = await management.unacked(settings_for(url, dashboard_rabbitmq_api_user="monitor",
                                                      dashboard_rabbitmq_api_password="not-it-12"))
    assert own.counts["telemetry-janitor.steps"] == 4
    assert wrong.counts == {}
    assert "refused the configured user (HTTP 401)" in wrong.problem
    assert "not-it-12" not in wrong.problem
    assert "amqp-pass-91" not in wrong.problem


async def test_an_unknown_vhost_is_reported_not_shown_as_zeros() -> None:
    app, _ = fake_management_api("ops", "amqp-pass-91")
    async with serve_asgi(app) as url:
        got = await management.unacked(DashboardSettings(amqp_url="amqp://ops:amqp-pass-91@broker:5672/elsewhere",
                                                         dashboard_rabbitmq_api_url=url))
    assert got.counts == {}
    assert "answered HTTP 404" in got.problem
