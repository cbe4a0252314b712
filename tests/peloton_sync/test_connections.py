"""`ferry peloton-sync connect / connections list / disconnect`, and the key the tokens are stored with."""

from __future__ import annotations

import asyncio
import json

import asyncpg
import pytest
from cryptography.fernet import Fernet

from ferry.service import create_app as create_service_app
from ferry_peloton_sync.errors import TokenKeyError
from ferry_peloton_sync.main import spec
from ferry_peloton_sync.settings import PelotonSettings
from tests.cli.conftest import Ferry
from tests.peloton_sync.harness import KEY
from tests.support.infra import Infra

ACCESS = "plt_cli_access_token_aaaaaaaaaaaaaaaa"
REFRESH = "plt_cli_refresh_token_bbbbbbbbbbbbbbb"


def _table(infra: Infra) -> list[dict[str, object]]:
    async def go() -> list[dict[str, object]]:
        conn = await asyncpg.connect(infra.database_url)
        try:
            return [dict(r) for r in await conn.fetch("SELECT * FROM peloton_sync.peloton_connection")]
        finally:
            await conn.close()

    return asyncio.run(go())


def test_connect_stores_tokens_encrypted_and_lists_them_without_tokens(ferry: Ferry, infra: Infra) -> None:
    env = {"FERRY_PELOTON_TOKEN_KEY": KEY}
    result = ferry("peloton-sync", "connect", "--username", "rider_one", "--email", "r@ferry.invalid",
                   input=f"{ACCESS}\n{REFRESH}\n", env=env)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Connected rider_one (r@ferry.invalid), with a refresh token; access token valid")
    assert ACCESS not in result.output
    rows = _table(infra)
    assert len(rows) == 1
    dump = json.dumps(rows, default=str)
    assert ACCESS not in dump
    assert REFRESH not in dump
    assert Fernet(KEY.encode()).decrypt(str(rows[0]["access_token_enc"]).encode()).decode() == ACCESS

    listed = ferry("peloton-sync", "connections", "list", "--json", env=env)
    assert listed.exit_code == 0, listed.output
    [row] = json.loads(listed.output)
    assert row["username"] == "rider_one"
    assert row["is_active"] is True
    assert row["has_refresh_token"] is True
    assert ACCESS not in listed.output

    answer = json.dumps({"access_token": ACCESS + "2", "refresh_token": REFRESH + "2", "expires_in": 60})
    again = ferry("peloton-sync", "connect", "--username", "rider_two", input=answer, env=env)
    assert again.exit_code == 0, again.output
    assert len(_table(infra)) == 2

    gone = ferry("peloton-sync", "disconnect", "--username", "rider_two", env=env)
    assert gone.exit_code == 0
    assert [r["username"] for r in _table(infra)] == ["rider_one"]
    missing = ferry("peloton-sync", "disconnect", "--username", "rider_two", env=env)
    assert missing.exit_code == 2
    assert "no Peloton connection named 'rider_two'" in missing.output


def test_connect_refuses_a_missing_or_wrong_key_and_empty_tokens(ferry: Ferry, infra: Infra) -> None:
    none = ferry("peloton-sync", "connect", "--username", "rider_one", input=f"{ACCESS}\n")
    assert none.exit_code == 2
    assert "FERRY_PELOTON_TOKEN_KEY is not set" in none.output
    bad = ferry("peloton-sync", "connect", "--username", "rider_one", input=f"{ACCESS}\n",
                env={"FERRY_PELOTON_TOKEN_KEY": "not-a-key"})
    assert bad.exit_code == 2
    assert "key 1 is not a Fernet key" in bad.output
    empty = ferry("peloton-sync", "connect", "--username", "rider_one", input="\n",
                  env={"FERRY_PELOTON_TOKEN_KEY": KEY})
    assert empty.exit_code == 2
    assert "no access token given" in empty.output
    assert ferry("peloton-sync", "connect", "--username", "rider_one", input=f"{ACCESS}\n",
                 env={"FERRY_PELOTON_TOKEN_KEY": KEY}).exit_code == 0
    other = Fernet.generate_key().decode()
    wrong = ferry("peloton-sync", "connect", "--username", "rider_two", input=f"{ACCESS}\n",
                  env={"FERRY_PELOTON_TOKEN_KEY": other})
    assert wrong.exit_code == 2
    assert "cannot decrypt the tokens of rider_one" in wrong.output
    rotated = ferry("peloton-sync", "connect", "--username", "rider_two", input=f"{ACCESS}\n",
                    env={"FERRY_PELOTON_TOKEN_KEY": f"{other},{KEY}"})
    assert rotated.exit_code == 0, rotated.output


async def _start(infra: Infra, key: str | None) -> None:
    settings = PelotonSettings(amqp_url=infra.amqp_url, database_url=infra.database_url, peloton_token_key=key)
    app = create_service_app(spec(), settings)
    async with app.router.lifespan_context(app):
        pass


async def test_the_service_does_not_start_without_its_key_or_with_another(infra: Infra, ferry: Ferry) -> None:
    with pytest.raises(TokenKeyError, match="FERRY_PELOTON_TOKEN_KEY is not set"):
        await _start(infra, None)
    await asyncio.to_thread(ferry, "peloton-sync", "connect", "--username", "rider_one", input=f"{ACCESS}\n",
                            env={"FERRY_PELOTON_TOKEN_KEY": KEY})
    with pytest.raises(TokenKeyError, match="cannot decrypt the tokens of rider_one"):
        await _start(infra, Fernet.generate_key().decode())
    await _start(infra, KEY)
