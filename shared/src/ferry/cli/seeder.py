"""`ferry gh-seeder seed ...`: crawl GitHub pull requests with checkpoints (docs/github.md).

`--project` names a preset of FERRY_GH_SEEDER_PROJECTS; where the seeder's package is installed
(its image, the uv workspace) the CLI reads the presets with the seeder's own settings and refuses
an unknown name before publishing, listing the known ones. Elsewhere the seeder refuses it.
"""

from __future__ import annotations

import importlib
from typing import Annotated, Any

import typer

from ferry.cli.context import Deps, guard, load_settings
from ferry.cli.flags import ModelFlags
from ferry.cli.job_flags import JobFlags, with_job_flags
from ferry.cli.submit import build_options
from ferry.contracts import SeedOptions

SERVICE = "gh-seeder"
_F = ModelFlags(SeedOptions)


def check_project(project: str | None) -> None:
    """Refuse (exit 2) a `--project` that is no preset of the seeder's settings, naming the presets."""
    if project is None:
        return
    try:
        seeder_settings: Any = importlib.import_module("ferry_gh_seeder.settings")
    except ImportError:
        return  # the CLI alone cannot know the worker's presets; the seeder refuses an unknown one
    projects: dict[str, list[str]] = load_settings(seeder_settings.SeederSettings).gh_seeder_projects
    if project in projects or project.lower() in projects:  # the seeder's own lookup
        return
    known = ", ".join(sorted(projects)) or "(none configured)"
    raise typer.BadParameter(
        f"{project!r} is not a project preset; FERRY_GH_SEEDER_PROJECTS has: {known}", param_hint="'--project'"
    )


def register(app: typer.Typer, deps: Deps) -> None:
    sub = typer.Typer(name=SERVICE, help="Crawl GitHub pull requests with checkpoints.", no_args_is_help=True)
    app.add_typer(sub)

    @sub.command("seed")
    @guard
    @with_job_flags
    def seed(
        job: JobFlags,
        project: Annotated[str | None, _F.option("project")] = _F.default("project"),
        repo: Annotated[str | None, _F.option("repo")] = _F.default("repo"),
        checkpoint_file: Annotated[str | None, _F.option("checkpoint_file")] = _F.default("checkpoint_file"),
        max_prs: Annotated[int | None, _F.option("max_prs")] = _F.default("max_prs"),
        days_back: Annotated[int | None, _F.option("days_back")] = _F.default("days_back"),
        dry_run: Annotated[bool, _F.option("dry_run")] = _F.default("dry_run"),
    ) -> int:
        """Crawl pull requests, reviews, commits and files (replaces seed_real_projects)."""
        options = build_options(
            SeedOptions,
            project=project,
            repo=repo,
            checkpoint_file=checkpoint_file,
            max_prs=max_prs,
            days_back=days_back,
            dry_run=dry_run,
        )
        check_project(options.project)
        return job.submit(deps, SERVICE, "seed", options)
