"""asset-sync's own settings (same `FERRY_` prefix as every ferry setting).

`FERRY_ASSET_SYNC_TABLE` is the assets table, with the registry application's field names, in the
database of FERRY_DATABASE_URL: ferry's own (`asset_sync.registry_asset`, made by the migrations) or
an application's (`public.registry_asset`), which must exist and is never altered; asset-sync keeps
its own state (ETags, resolved branches, job snapshots) in its `asset_sync` schema beside it, in the
same database, so each asset's update commits with its step's checkpoint.

`FERRY_ASSET_SYNC_OWNER_TOKENS` (JSON, a secret) maps an asset's `owner` to that owner's GitHub
token: an asset with an owner listed there is pulled with the owner's token, any other with the
pool of FERRY_GITHUB_TOKENS.

`FERRY_ASSET_SYNC_INTERNAL_LINK_URL` is where the registry application serves an asset's private
files with its owner's credentials (its `API_URL` followed by `/asset/internal-link`): when set, a
cleaned README of an asset with an owner links its own repository's files there
(docs/asset-sync.md, cleaning step 3). Unset: those links stay as written (tokens still removed).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator

from ferry.db import TableName, qualified
from ferry.settings import FerrySettings

DEFAULT_TABLE = "asset_sync.registry_asset"


class AssetSyncSettings(FerrySettings):
    """Settings of `ferry-asset-sync`, on top of every service's `FERRY_*` settings."""

    asset_sync_table: TableName = Field(
        DEFAULT_TABLE,
        description="`schema.table` with the registry's asset fields, in the database of FERRY_DATABASE_URL.",
    )
    asset_sync_owner_tokens: dict[str, SecretStr] = Field(
        default_factory=dict, description="Asset owner -> that owner's GitHub token, JSON (a secret)."
    )
    asset_sync_max_inline_wait_s: float = Field(
        5.0, ge=0, le=600,
        description="A rate-limit wait longer than this parks the step (freeing the worker) instead of sleeping.",
    )
    asset_sync_limiter_timeout_s: float = Field(
        2.0, gt=0, le=60, description="How long to wait for one answer of the rate limiter before asking again."
    )

    asset_sync_internal_link_url: str | None = Field(
        None,
        description="The registry's internal-link URL (its API_URL + /asset/internal-link); unset: private links "
        "of an asset's own repository are left as written.",
    )

    @field_validator("asset_sync_internal_link_url")
    @classmethod
    def _valid_link_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            raise ValueError(f"expected an http(s) URL without query or fragment, got {value!r}")
        return value.strip().rstrip("/")

    @property
    def table_sql(self) -> str:
        return qualified(self.asset_sync_table)

    def secret_values(self) -> list[str]:
        return [*super().secret_values(), *(t.get_secret_value() for t in self.asset_sync_owner_tokens.values())]
