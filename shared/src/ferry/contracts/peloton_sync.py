"""Options of `peloton-sync.sync-class-library` (replaces the `sync_class_library` management command)."""

from __future__ import annotations

import re
from typing import Self

from pydantic import Field, field_validator, model_validator

from ferry.contracts.base import Options

DEFAULT_DISCIPLINES = "cycling,running"
_DISCIPLINE = re.compile(r"^[a-z][a-z_]{1,39}$")
_USERNAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
FIRST_YEAR = 2012
"""Peloton's first classes aired in 2012; an earlier --year cannot match anything."""
LAST_YEAR = 2100


def split_disciplines(value: str) -> list[str]:
    """`"Cycling, running,cycling"` -> `["cycling", "running"]`, or ValueError naming the bad part."""
    found: list[str] = []
    for part in value.split(","):
        name = part.strip().lower()
        if not name:
            continue
        if not _DISCIPLINE.match(name):
            raise ValueError(
                f"{part.strip()!r} is not a discipline name (lower-case letters and '_', e.g. cycling, running, "
                "walking, yoga, strength, stretching, meditation)"
            )
        if name not in found:
            found.append(name)
    if not found:
        raise ValueError("give at least one discipline, comma-separated (e.g. cycling,running)")
    return found


class SyncClassLibraryOptions(Options):
    """Sync Peloton's class library (archived rides) into peloton-sync's tables."""

    disciplines: str = Field(
        DEFAULT_DISCIPLINES,
        max_length=500,
        description=(
            "Comma-separated fitness disciplines to sync (cycling, running, walking, yoga, strength, stretching, "
            "meditation). Cycling syncs Power Zone classes only."
        ),
    )
    year: int | None = Field(
        None, ge=FIRST_YEAR, le=LAST_YEAR, description="Only classes first aired in this year (UTC), e.g. 2025."
    )
    month: int | None = Field(
        None, ge=1, le=12, description="Only classes first aired in this month (1-12); needs --year."
    )
    limit: int | None = Field(None, ge=1, le=1_000_000, description="Sync at most this many classes (for testing).")
    dry_run: bool = Field(False, description="Preview what would be synced; write nothing and fetch no details.")
    username: str | None = Field(
        None, description="Use this Peloton connection (by leaderboard name); default: the first active one."
    )
    delay: float = Field(0.5, ge=0, le=60, description="Seconds between API calls, to avoid rate limiting.")

    @field_validator("disciplines")
    @classmethod
    def _valid_disciplines(cls, value: str) -> str:
        return ",".join(split_disciplines(value))

    @field_validator("username")
    @classmethod
    def _valid_username(cls, value: str | None) -> str | None:
        if value is not None and not _USERNAME.match(value):
            raise ValueError(f"{value!r} is not a Peloton leaderboard name (letters, digits, '.', '_', '-')")
        return value

    @model_validator(mode="after")
    def _month_needs_year(self) -> Self:
        if self.month is not None and self.year is None:
            raise ValueError("--month (month) requires --year (year) to be specified")
        return self

    @property
    def discipline_list(self) -> list[str]:
        return split_disciplines(self.disciplines)
