"""Options of `asset-sync.pull-and-clean` (replaces the registry's `pull_and_clean_assets` command),
and the asset vocabulary (types, statuses) of the registry application it works with."""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import Field, field_validator

from ferry.contracts.base import Options

_LANG = re.compile(r"^[a-z]{2}$")


class AssetType(StrEnum):
    """`--asset-type` values: the registry's asset types."""

    PROJECT = "PROJECT"
    STARTER = "STARTER"
    EXERCISE = "EXERCISE"
    QUIZ = "QUIZ"
    LESSON = "LESSON"
    VIDEO = "VIDEO"
    ARTICLE = "ARTICLE"


class AssetStatus(StrEnum):
    """`--status` values: the registry's asset (publication) statuses."""

    NOT_STARTED = "NOT_STARTED"
    PLANNING = "PLANNING"
    WRITING = "WRITING"
    DRAFT = "DRAFT"
    OPTIMIZED = "OPTIMIZED"
    PUBLISHED = "PUBLISHED"


class SyncStatus(StrEnum):
    """An asset's `sync_status` and `cleaning_status`, as the registry sets them."""

    PENDING = "PENDING"
    ERROR = "ERROR"
    OK = "OK"
    WARNING = "WARNING"
    NEEDS_RESYNC = "NEEDS_RESYNC"


def check_lang(value: str) -> str:
    """A two-letter language code (`en`, `es`, `it`...), lower-cased; ValueError otherwise."""
    lowered = value.strip().lower()
    if not _LANG.match(lowered):
        raise ValueError(f"{value!r} is not a two-letter language code (e.g. en, es, it)")
    return lowered


class PullAndCleanOptions(Options):
    """Pull assets' READMEs from GitHub and clean them, in batches, throttled."""

    all: bool = Field(False, description="Process all assets instead of just those needing updates.")
    asset_type: AssetType | None = Field(
        None, description="Only assets of this type (PROJECT, STARTER, EXERCISE, QUIZ, LESSON, VIDEO, ARTICLE)."
    )
    status: AssetStatus | None = Field(
        None,
        description="Only assets with this status (NOT_STARTED, PLANNING, WRITING, DRAFT, OPTIMIZED, PUBLISHED).",
    )
    lang: str | None = Field(None, description="Only assets in this language (a two-letter code: en, es, it...).")
    delay: float = Field(
        1.0, ge=0, le=60, description="Seconds between GitHub calls of this job, fleet-wide; batches wait 2x this."
    )
    batch_size: int = Field(10, ge=1, le=1000, description="Assets per batch.")
    dry_run: bool = Field(False, description="List the assets that would be processed; change nothing, call nothing.")
    force: bool = Field(
        False,
        description="Process assets synced in the last 24 hours too, and let front matter overwrite their fields.",
    )

    @field_validator("lang")
    @classmethod
    def _valid_lang(cls, value: str | None) -> str | None:
        return None if value is None else check_lang(value)
