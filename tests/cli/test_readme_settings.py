"""README.md's Settings table names real settings, and every setting every process reads (issue 14.13)."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic_settings import BaseSettings

from ferry.ratelimit.config import RateLimitSettings
from ferry.settings import FerrySettings
from ferry_asset_sync.settings import AssetSyncSettings
from ferry_content_fetch.settings import ContentFetchSettings
from ferry_gh_seeder.settings import SeederSettings
from ferry_peloton_sync.settings import PelotonSettings
from ferry_status.dashboard.settings import DashboardSettings
from ferry_status.settings import StatusSettings
from ferry_telemetry_janitor.settings import JanitorSettings

ROOT = Path(__file__).resolve().parents[2]
MODELS: list[type[BaseSettings]] = [
    FerrySettings, RateLimitSettings, AssetSyncSettings, ContentFetchSettings, SeederSettings, PelotonSettings,
    DashboardSettings, StatusSettings, JanitorSettings,
]
NOT_A_MODEL = {"FERRY_SANDBOX_PORT"}  # read by the dev-only sandbox's argument parser


def table_names() -> set[str]:
    text = (ROOT / "README.md").read_text()
    table = text.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    names: set[str] = set()
    for row in table.splitlines():
        if row.startswith("| `FERRY_"):
            first = row.split("|")[1]
            stems = re.findall(r"`(FERRY_[A-Z0-9_]+)`", first)
            names.update(stems)
            # `FERRY_X_USER` / `_PASSWORD`: the suffix replaces the first name's last word
            names.update(stems[0].rsplit("_", 1)[0] + s for s in re.findall(r"`(_[A-Z0-9_]+)`", first))
    return names


def env_names(model: type[BaseSettings]) -> set[str]:
    return {f"FERRY_{name.upper()}" for name in model.model_fields}


def test_every_name_in_the_table_is_a_setting() -> None:
    known = set().union(*(env_names(m) for m in MODELS)) | NOT_A_MODEL
    assert table_names() - known == set()


def test_every_setting_every_process_reads_is_in_the_table() -> None:
    missing = (env_names(FerrySettings) | env_names(RateLimitSettings)) - table_names()
    assert missing == set()
