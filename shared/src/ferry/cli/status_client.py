"""A small synchronous client of the status service's HTTP API (FERRY_STATUS_URL).

The transport can be injected (an `httpx.MockTransport` in tests); by default it is real HTTP.
Connection failures and 5xx answers become `StatusUnreachable` (exit 3), naming
FERRY_STATUS_URL; a 404 for a job becomes `None` (a job the service has not heard of yet).
"""

from __future__ import annotations

from types import TracebackType
from typing import Any
from uuid import UUID

import httpx

from ferry.cli.errors import StatusApiError, StatusUnreachable
from ferry.cli.publish import safe_url

Job = dict[str, Any]
"""A job as `GET /jobs/{job_id}` returns it."""


class StatusClient:
    """Reads jobs and their events from the status service."""

    def __init__(self, base_url: str, *, transport: httpx.BaseTransport | None = None, timeout_s: float = 10.0):
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, transport=transport, timeout=timeout_s)

    def __enter__(self) -> StatusClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _get(self, path: str, params: dict[str, Any] | None = None) -> httpx.Response:
        try:
            response = self._http.get(path, params=params)
        except httpx.HTTPError as exc:
            raise StatusUnreachable(
                f"cannot reach the status service at {safe_url(self.base_url)} (set FERRY_STATUS_URL): "
                f"{type(exc).__name__}"
            ) from None
        if response.status_code >= 500:
            raise StatusUnreachable(
                f"the status service at {safe_url(self.base_url)} (FERRY_STATUS_URL) answered "
                f"{response.status_code}: {_detail(response)}"
            )
        return response

    def job(self, job_id: UUID) -> Job | None:
        """The job, or None when the status service has not heard of it (yet)."""
        response = self._get(f"/jobs/{job_id}")
        if response.status_code == 404:
            return None
        _raise_for_status(response)
        job: Job = response.json()
        return job

    def events(self, job_id: UUID, after_seq: int = -1) -> list[dict[str, Any]]:
        """The job's events with `seq > after_seq`, in order."""
        response = self._get(f"/jobs/{job_id}/events", params={"after_seq": after_seq})
        if response.status_code == 404:
            return []
        _raise_for_status(response)
        body = response.json()  # a JSON list of one page (the `cli` helper follows the Link pages)
        items: list[dict[str, Any]] = body if isinstance(body, list) else body.get("items", [])
        return items

    def jobs(
        self, *, service: str | None = None, status: str | None = None, limit: int = 50, offset: int = 0,
        id_prefix: str | None = None,
    ) -> dict[str, Any]:
        """A page of recent jobs, newest first: `{"items": [...], "total": n, ...}`."""
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if id_prefix:
            params["id_prefix"] = id_prefix
        if service:
            params["service"] = service
        if status:
            params["status"] = status
        response = self._get("/jobs", params=params)
        _raise_for_status(response)
        page: dict[str, Any] = response.json()
        return page


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if isinstance(body, dict) and "detail" in body:
        return str(body["detail"])[:500]
    return str(body)[:500]


def _raise_for_status(response: httpx.Response) -> None:
    if response.status_code >= 400:
        raise StatusApiError(f"the status service refused the request ({response.status_code}): {_detail(response)}")
