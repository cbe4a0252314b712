"""gh-seeder.seed's options: --project or --repo (exactly one), OWNER/NAME, limits."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from ferry.contracts.seeder import SeedOptions
from ferry_gh_seeder.errors import UnknownProject
from ferry_gh_seeder.jobs import resolve_repos, within_limits
from ferry_gh_seeder.settings import DEFAULT_PROJECTS, SeederSettings


def test_exactly_one_of_project_and_repo_naming_both_flags() -> None:
    for options in ({}, {"project": "posthog", "repo": "posthog/posthog"}):
        with pytest.raises(ValidationError, match=r"--project .*--repo"):
            SeedOptions(**options)
    assert SeedOptions(project="posthog").repo is None
    assert SeedOptions(repo=" posthog/posthog-js ").repo == "posthog/posthog-js"


@pytest.mark.parametrize("bad", ["posthog", "posthog/", "/posthog", "a/b/c", "-bad/repo", "a/..", "a b/c"])
def test_a_repository_must_be_owner_slash_name(bad: str) -> None:
    with pytest.raises(ValidationError, match="OWNER/NAME"):
        SeedOptions(repo=bad)


def test_limits_are_checked() -> None:
    with pytest.raises(ValidationError, match="max_prs"):
        SeedOptions(repo="a/b", max_prs=0)
    with pytest.raises(ValidationError, match="extra"):
        SeedOptions.model_validate({"repo": "a/b", "unknown_flag": 1})


def test_projects_come_from_settings_and_the_defaults_match_the_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    assert DEFAULT_PROJECTS["posthog"] == ["posthog/posthog", "posthog/posthog-js"]
    monkeypatch.setenv("FERRY_GH_SEEDER_PROJECTS", '{"acme": ["acme/one", "acme/two", "acme/one"]}')
    projects = SeederSettings().gh_seeder_projects
    assert resolve_repos(SeedOptions(project="acme"), projects) == ["acme/one", "acme/two"]
    assert resolve_repos(SeedOptions(repo="x/y"), projects) == ["x/y"]
    with pytest.raises(UnknownProject, match=r"unknown project 'nope'.*acme"):
        resolve_repos(SeedOptions(project="nope"), projects)
    monkeypatch.setenv("FERRY_GH_SEEDER_PROJECTS", '{"acme": ["not-a-repo"]}')
    with pytest.raises(ValidationError, match="OWNER/NAME"):
        SeederSettings()


def test_max_prs_and_days_back_cut_the_listing_newest_first() -> None:
    page = [{"number": n, "created_at": f"2025-06-{30 - i:02d}T12:00:00Z"} for i, n in enumerate(range(50, 40, -1))]
    assert within_limits(page, 0, since=None, max_prs=None) == (page, True)
    assert within_limits(page, 0, since=None, max_prs=4) == (page[:4], False)
    assert within_limits(page, 95, since=None, max_prs=100) == (page[:5], False)
    assert within_limits(page, 0, since=None, max_prs=10) == (page, False)  # exactly full: nothing more to list
    assert within_limits(page, 0, since=None, max_prs=11) == (page, True)
    since = datetime(2025, 6, 27, tzinfo=UTC)
    kept, more = within_limits(page, 0, since=since, max_prs=None)
    assert [p["number"] for p in kept] == [50, 49, 48, 47]  # created on 27 June at noon, or later
    assert more is False
