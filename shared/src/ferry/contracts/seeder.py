"""Options of `gh-seeder.seed` (replaces the `seed_real_projects` management command)."""

from __future__ import annotations

import re
from typing import Self

from pydantic import Field, field_validator, model_validator

from ferry.contracts.base import Options

_OWNER = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")
_NAME = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
_PROJECT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def check_repo(value: str) -> str:
    """`OWNER/NAME` with GitHub's spelling rules, or ValueError saying what is wrong."""
    owner, slash, name = value.strip().partition("/")
    if not slash or not _OWNER.match(owner) or not _NAME.match(name) or name in {".", ".."}:
        raise ValueError(f"{value!r} is not a repository in the form OWNER/NAME (e.g. posthog/posthog)")
    return f"{owner}/{name}"


def check_checkpoint_name(value: str) -> str:
    """A checkpoint file's name relative to the worker's checkpoint directory, or ValueError.

    Only the name is checked here (before anything is published); the worker also refuses a name
    that leads out of the directory through a symbolic link."""
    name = value.strip()
    parts = name.split("/")
    if not name or "\x00" in name or "\\" in name:
        raise ValueError(f"{value!r} is not a checkpoint file name")
    if name.startswith(("/", "~")):
        raise ValueError(f"{value!r}: give a name relative to the checkpoint directory, not an absolute path")
    if ".." in parts:
        raise ValueError(f"{value!r}: '..' is not allowed in a checkpoint file name")
    if parts[-1] in {"", "."}:
        raise ValueError(f"{value!r} names a folder, not a checkpoint file")
    return "/".join(p for p in parts if p not in {"", "."})


class SeedOptions(Options):
    """Crawl the pull requests of a project's repositories (or of one repository).

    Exactly one of `project` (`--project`) and `repo` (`--repo`) is given.
    """

    project: str | None = Field(
        None,
        description=(
            "`--project`: a preset from the seeder's FERRY_GH_SEEDER_PROJECTS setting (e.g. posthog), "
            "naming the repositories to crawl."
        ),
    )
    repo: str | None = Field(None, description="`--repo`: one repository to crawl, as OWNER/NAME.")
    checkpoint_file: str | None = Field(
        None,
        max_length=4096,
        description=(
            "`--checkpoint-file`: a JSON checkpoint in seed_real_projects' format (repo, fetched_pr_numbers, "
            "last_updated, total_prs_found, completed), read when the job starts (its pull requests are not "
            "fetched again) and rewritten as the crawl goes. A relative name (no `..`) inside the worker's "
            "checkpoint directory (FERRY_GH_SEEDER_CHECKPOINT_DIR); with several repositories each gets its own "
            "file, `<stem>.<owner>__<name><suffix>`."
        ),
    )
    max_prs: int | None = Field(
        None,
        ge=1,
        le=1_000_000,
        description="`--max-prs`: crawl at most this many pull requests per repository, newest first.",
    )
    days_back: int | None = Field(
        None, ge=1, le=36_500, description="`--days-back`: only pull requests created in the last N days."
    )
    dry_run: bool = Field(False, description="List and count the pull requests; fetch and store nothing else.")

    @field_validator("project")
    @classmethod
    def _valid_project(cls, value: str | None) -> str | None:
        if value is not None and not _PROJECT.match(value):
            raise ValueError(f"{value!r} is not a project name (letters, digits, '.', '_', '-')")
        return value

    @field_validator("checkpoint_file")
    @classmethod
    def _valid_checkpoint_file(cls, value: str | None) -> str | None:
        return None if value is None else check_checkpoint_name(value)

    @field_validator("repo")
    @classmethod
    def _valid_repo(cls, value: str | None) -> str | None:
        return None if value is None else check_repo(value)

    @model_validator(mode="after")
    def _project_or_repo(self) -> Self:
        if (self.project is None) == (self.repo is None):
            given = "both were given" if self.project is not None else "neither was given"
            raise ValueError(f"give exactly one of --project (project) or --repo (repo); {given}")
        return self
