"""asset-sync's owner tokens reach the service wherever it is deployed: from the ferry Secret by key
in the manifests (the local overlay's example holds a value the service accepts), and from the
environment in compose."""

from __future__ import annotations

import pytest

from ferry_asset_sync.settings import AssetSyncSettings
from tests.test_deploy_files import BASE, DEPLOY, compose, containers, load_yaml_documents

OWNER_TOKENS = "FERRY_ASSET_SYNC_OWNER_TOKENS"


def _env_file(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line.strip() and not line.startswith("#"))


def test_the_deployment_reads_owner_tokens_from_the_secret_by_key_if_present() -> None:
    (deployment,) = [d for d in load_yaml_documents(BASE / "asset-sync.yaml") if d["kind"] == "Deployment"]
    (container,) = containers(deployment)
    (entry,) = [e for e in container["env"] if e["name"] == OWNER_TOKENS]
    # optional: a cluster without owner tokens still runs, every asset pulled with the pool
    assert entry["valueFrom"]["secretKeyRef"] == {"name": "ferry-secrets", "key": OWNER_TOKENS, "optional": True}


def test_the_example_secret_holds_a_value_the_service_accepts(monkeypatch: pytest.MonkeyPatch) -> None:
    values = _env_file((DEPLOY / "overlays" / "local" / "secret.example.env").read_text())
    monkeypatch.setenv(OWNER_TOKENS, values[OWNER_TOKENS])
    assert AssetSyncSettings().asset_sync_owner_tokens == {}
    monkeypatch.setenv(OWNER_TOKENS, '{"dana": "ghp_example"}')  # the format the example's comment shows
    assert AssetSyncSettings().asset_sync_owner_tokens["dana"].get_secret_value() == "ghp_example"


def test_compose_passes_owner_tokens_and_unsets_an_empty_value() -> None:
    service = compose()["services"]["asset-sync"]
    assert service["environment"][OWNER_TOKENS] == "${" + OWNER_TOKENS + ":-}"
    # an empty string is not JSON: the entrypoint drops it so the setting's default ({}) applies
    assert f'[ -n "$${{{OWNER_TOKENS}}}" ] || unset {OWNER_TOKENS};' in " ".join(service["entrypoint"])
