"""The Peloton sandbox as `ferry-sandbox` serves it (under /peloton, beside the GitHub fake), and as the
real API behaves: newest first, date filters ignored, 401 on an expired token, the token refresh."""

from __future__ import annotations

import httpx

from ferry_sandbox.config import default_config
from ferry_sandbox.main import create_sandbox_app
from ferry_sandbox.peloton import default_peloton_config

DEMO = default_peloton_config().accounts[0]
AUTH = {"Authorization": f"Bearer {DEMO.access_token}", "Peloton-Platform": "web"}


async def test_ferry_sandbox_serves_peloton_under_its_prefix_and_github_beside_it() -> None:
    transport = httpx.ASGITransport(app=create_sandbox_app(default_config()))
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as http:
        me = await http.get("/peloton/api/me", headers=AUTH)
        assert me.status_code == 200, me.text
        assert me.json()["username"] == "ferry_demo"
        assert (await http.get("/peloton/api/me")).status_code == 401
        first = (await http.get("/peloton/api/v2/ride/archived", headers=AUTH,
                                params={"browse_category": "cycling", "limit": 5})).json()
        filtered = (await http.get("/peloton/api/v2/ride/archived", headers=AUTH, params={
            "browse_category": "cycling", "limit": 5, "start_date": "2024-01-01", "end_date": "2024-01-31"})).json()
        assert filtered["data"] == first["data"]  # date filters ignored, as Peloton does
        times = [r["original_air_time"] for r in first["data"]]
        assert times == sorted(times, reverse=True)
        assert first["show_next"] is True
        assert first["page_count"] == -(-first["total"] // 5)
        assert (await http.get("/_sandbox/config")).status_code == 200  # GitHub's fake is still at /

        token = await http.post("/peloton/oauth/token", data={
            "grant_type": "refresh_token", "client_id": "ferry", "refresh_token": DEMO.refresh_token})
        assert token.status_code == 200
        fresh = token.json()
        assert fresh["refresh_token"] != DEMO.refresh_token  # refresh tokens rotate
        reused = await http.post("/peloton/oauth/token", data={
            "grant_type": "refresh_token", "client_id": "ferry", "refresh_token": DEMO.refresh_token})
        assert reused.status_code == 403
        await http.post("/peloton/_sandbox/expire", json={"username": "ferry_demo"})
        expired = await http.get("/peloton/api/me", headers={"Authorization": f"Bearer {fresh['access_token']}"})
        assert expired.status_code == 401
