"""`ferry gh-seeder seed ...`: crawl GitHub pull requests with checkpoints (docs/github.md).

`--project` names a preset of FERRY_GH_SEEDER_PROJECTS; where the seeder's package is installed
(its image, the uv workspace) the CLI reads the presets with the seeder's own settings and refuses
an unknown name before publishing, listing the known ones. Elsewhere the seeder refuses it.
"""

from __future__ import annotations

import importlib
from typing import Annotated, Any

import typer

from ferry.cli.context import Deps, Output, guard, load_settings
from ferry.cli.janitor import JobIdOption, JsonFlag, WaitFlag
from ferry.cli.schedules import ScheduleFlag, TzFlag
from ferry.cli.submit import build_options, submit
from ferry.contracts import SeedOptions

SERVICE = "gh-seeder"


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
    def seed(
        project: Annotated[
            str | None, typer.Option("--project", help="A preset of repositories (FERRY_GH_SEEDER_PROJECTS).")
        ] = None,
        repo: Annotated[str | None, typer.Option("--repo", help="One repository, OWNER/NAME.")] = None,
        checkpoint_file: Annotated[
            str | None,
            typer.Option(
                "--checkpoint-file",
                help="seed_real_projects' JSON checkpoint: read at start, rewritten as the crawl goes; a name "
                "relative to the worker's checkpoint directory (FERRY_GH_SEEDER_CHECKPOINT_DIR), no '..'.",
            ),
        ] = None,
        max_prs: Annotated[int | None, typer.Option("--max-prs", help="At most N pull requests per repo.")] = None,
        days_back: Annotated[
            int | None, typer.Option("--days-back", help="Only pull requests created in the last N days.")
        ] = None,
        dry_run: Annotated[bool, typer.Option("--dry-run", help="List and count; fetch nothing else.")] = False,
        wait: WaitFlag = False,
        json_output: JsonFlag = False,
        job_id: JobIdOption = None,
        schedule: ScheduleFlag = None,
        tz: TzFlag = "UTC",
    ) -> None:
        """Crawl pull requests, reviews, commits and files (replaces seed_real_projects)."""
        output = Output(json_mode=json_output)
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
        code = submit(
            deps, output, deps.load_settings(), service=SERVICE, command="seed", options=options, job_id=job_id,
            wait=wait, schedule=schedule, timezone=tz,
        )
        raise typer.Exit(code)
