"""The seeder's own settings (same `FERRY_` prefix as every ferry setting).

`FERRY_GH_SEEDER_PROJECTS` is JSON: project name -> list of `OWNER/NAME`, e.g.
`{"posthog": ["posthog/posthog", "posthog/posthog-js"]}`. The defaults name the repositories
the GitHub sandbox (`ferry-sandbox`) serves, so `--project posthog` works offline.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from pydantic import Field, field_validator

from ferry.contracts.seeder import check_repo
from ferry.settings import FerrySettings

DEFAULT_PROJECTS: dict[str, list[str]] = {
    "posthog": ["posthog/posthog", "posthog/posthog-js"],
    "demo": ["ferry-demo/tiny"],
}


class SeederSettings(FerrySettings):
    """Settings of `ferry-gh-seeder`, on top of every service's `FERRY_*` settings."""

    gh_seeder_projects: dict[str, list[str]] = Field(
        default_factory=lambda: {k: list(v) for k, v in DEFAULT_PROJECTS.items()},
        description="Project presets for --project: JSON object of name -> list of OWNER/NAME.",
    )
    gh_seeder_account_concurrency: int = Field(
        1,
        ge=1,
        le=16,
        description=(
            "Requests one replica has in flight at once per GitHub account (GitHub asks for serial "
            "requests; the fleet-wide rate is the rate limiter's)."
        ),
    )
    gh_seeder_max_inline_wait_s: float = Field(
        5.0,
        ge=0,
        le=600,
        description="A rate-limit wait longer than this parks the step (freeing the worker) instead of sleeping.",
    )
    gh_seeder_checkpoint_every_s: float = Field(
        5.0, ge=0, description="How often, at most, a worker rewrites a --checkpoint-file while crawling."
    )
    gh_seeder_checkpoint_dir: Path = Field(
        default_factory=lambda: Path(tempfile.gettempdir()) / "ferry-gh-seeder-checkpoints",
        description=(
            "The only directory --checkpoint-file names may point into (relative names, no '..', no symbolic "
            "link out); made when missing."
        ),
    )
    gh_seeder_limiter_timeout_s: float = Field(
        2.0, gt=0, le=60, description="How long to wait for one answer of the rate limiter before asking again."
    )

    @field_validator("gh_seeder_projects")
    @classmethod
    def _valid_projects(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        checked: dict[str, list[str]] = {}
        for name, repos in value.items():
            if not repos:
                raise ValueError(f"project {name!r} names no repositories")
            checked[name] = [check_repo(r) for r in repos]
        return checked
