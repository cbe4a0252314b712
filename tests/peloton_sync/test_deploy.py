"""peloton-sync's deploy files: its secrets come from the one ferry Secret as every service's do, and
the local demo (Kubernetes overlay, Procfile, compose) uses the same development key and the Peloton
sandbox's own demo connection."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]
from cryptography.fernet import Fernet

from ferry_sandbox.peloton import default_peloton_config

ROOT = Path(__file__).resolve().parents[2]
LOCAL = ROOT / "deploy" / "overlays" / "local"


def _env_file(path: Path) -> dict[str, str]:
    lines = [line for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


def _container() -> dict[str, Any]:
    deployment = yaml.safe_load((ROOT / "deploy" / "base" / "peloton-sync.yaml").read_text())
    container: dict[str, Any] = deployment["spec"]["template"]["spec"]["containers"][0]
    return container


def test_the_token_key_comes_from_ferry_secrets_by_key_and_no_other_secret_is_mounted() -> None:
    container = _container()
    assert [e for e in container["envFrom"] if "secretRef" in e] == [], "no whole Secret in the environment"
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"] if "valueFrom" in e}
    assert {r["name"] for r in refs.values()} == {"ferry-secrets"}
    assert refs["FERRY_PELOTON_TOKEN_KEY"]["key"] == "FERRY_PELOTON_TOKEN_KEY"
    assert refs["FERRY_PELOTON_TOKEN_KEY"].get("optional") is not True  # the pod does not start without it
    assert refs["FERRY_PELOTON_SEED_CONNECTION"]["optional"] is True  # only the local demo has one


def test_the_local_demo_has_one_development_key_and_the_sandboxs_demo_connection() -> None:
    secrets = _env_file(LOCAL / "secret.example.env")
    key = secrets["FERRY_PELOTON_TOKEN_KEY"]
    Fernet(key.encode())  # a well-formed Fernet key
    for where in ("Procfile", "compose.yaml"):
        assert key in (ROOT / where).read_text(), f"{where} uses another development key"
    demo = default_peloton_config().accounts[0]
    seed = json.loads(secrets["FERRY_PELOTON_SEED_CONNECTION"])
    assert seed == {"username": demo.username, "email": demo.email, "access_token": demo.access_token,
                    "refresh_token": demo.refresh_token}
    config = (LOCAL / "kustomization.yaml").read_text()
    assert re.search(r"FERRY_PELOTON_CLIENT_ID=\S+", config)

