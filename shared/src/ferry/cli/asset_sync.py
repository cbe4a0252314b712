"""`ferry asset-sync ...`: pull assets' READMEs from GitHub and clean them; get assets in.

`pull-and-clean` mirrors `pull_and_clean_assets`: the same flags, defaults and meanings as its
options model (`PullAndCleanOptions`); a bad `--asset-type`, `--status`, `--lang`, `--delay` or
`--batch-size` is refused (exit 2, naming the allowed values) before anything is published.

`import FILE`, `add` and `set-variable` write to the service's tables directly (they need
`ferry-asset-sync` installed and FERRY_DATABASE_URL): an import is one transaction, so a file with
a bad row imports nothing, and every bad row is reported with its line number.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ferry.cli.context import Deps, Output, guard, service_package
from ferry.cli.errors import Refused
from ferry.cli.flags import JsonFlag, ModelFlags, checked, metavar, one_of
from ferry.cli.job_flags import JobFlags, with_job_flags
from ferry.cli.submit import build_options, print_report
from ferry.contracts.asset_sync import AssetStatus, AssetType, PullAndCleanOptions, check_lang

SERVICE = "asset-sync"
COMMAND = "pull-and-clean"
_F = ModelFlags(PullAndCleanOptions)
_TYPES = [t.value for t in AssetType]  # for `add`, which writes a row directly (no options model)
_STATUSES = [s.value for s in AssetStatus]
_lang = checked(check_lang)


def _admin() -> Any:
    """The service's admin module (only where ferry-asset-sync is installed)."""
    return service_package("ferry_asset_sync.admin", service=SERVICE, what="assets")


def register(app: typer.Typer, deps: Deps) -> None:
    """Add `ferry asset-sync` and its commands to `app`."""
    sub = typer.Typer(help="Pull assets' READMEs from GitHub and clean them.", no_args_is_help=True)
    app.add_typer(sub, name=SERVICE)

    @sub.command(COMMAND)
    @guard
    @with_job_flags
    def pull_and_clean(
        job: JobFlags,
        all: Annotated[bool, _F.option("all")] = _F.default("all"),
        asset_type: Annotated[str | None, _F.option("asset_type")] = _F.default("asset_type"),
        status: Annotated[str | None, _F.option("status")] = _F.default("status"),
        lang: Annotated[str | None, _F.option("lang", check=_lang)] = _F.default("lang"),
        delay: Annotated[float, _F.option("delay")] = _F.default("delay"),
        batch_size: Annotated[int, _F.option("batch_size")] = _F.default("batch_size"),
        dry_run: Annotated[bool, _F.option("dry_run")] = _F.default("dry_run"),
        force: Annotated[bool, _F.option("force")] = _F.default("force"),
    ) -> int:
        """Pull assets from GitHub and clean their READMEs (replaces pull_and_clean_assets)."""
        options = build_options(
            PullAndCleanOptions, all=all, asset_type=asset_type, status=status, lang=lang, delay=delay,
            batch_size=batch_size, dry_run=dry_run, force=force,
        )
        return job.submit(deps, SERVICE, COMMAND, options, on_result=print_report)

    @sub.command("import")
    @guard
    def import_assets(
        file: Annotated[Path, typer.Argument(help="JSON lines (.jsonl/.json) or CSV (.csv) of assets, one a line.")],
        file_format: Annotated[
            str | None,
            typer.Option("--format", callback=one_of(["jsonl", "csv"]), help="jsonl or csv (default: by extension)."),
        ] = None,
        json_output: JsonFlag = False,
    ) -> None:
        """Upsert assets by slug from a file; a bad row imports nothing and names its line."""
        output = Output(json_mode=json_output)
        admin = _admin()
        if not file.is_file():
            raise Refused(f"no such file: {file}")
        try:
            report = admin.import_file(file, file_format)
        except admin.ImportRefused as exc:
            raise Refused(str(exc)) from None
        if output.json_mode:
            output.emit_json({"inserted": report.inserted, "updated": report.updated, "file": str(file)})
        else:
            output.say(f"Imported {report.inserted + report.updated} assets from {file}: "
                       f"{report.inserted} new, {report.updated} updated")

    @sub.command("add")
    @guard
    def add(
        slug: Annotated[str, typer.Option("--slug", help="The asset's unique slug.")],
        readme_url: Annotated[
            str | None, typer.Option("--readme-url", help="github.com/{org}/{repo}/blob/{branch}/{path}")
        ] = None,
        title: Annotated[str | None, typer.Option("--title", help="Title (default: the slug).")] = None,
        lang: Annotated[str | None, typer.Option("--lang", callback=_lang, help="Two-letter language code.")] = None,
        asset_type: Annotated[
            str, typer.Option("--asset-type", callback=one_of(_TYPES), metavar=metavar(_TYPES), help="Asset type.")
        ] = AssetType.LESSON.value,
        status: Annotated[
            str, typer.Option("--status", callback=one_of(_STATUSES), metavar=metavar(_STATUSES), help="Status.")
        ] = AssetStatus.NOT_STARTED.value,
        owner: Annotated[
            str | None, typer.Option("--owner", help="Owner whose GitHub token pulls it.")
        ] = None,
        json_output: JsonFlag = False,
    ) -> None:
        """Add (or update, by slug) one asset."""
        output = Output(json_mode=json_output)
        admin = _admin()
        row = {"slug": slug, "readme_url": readme_url, "title": title, "lang": lang, "asset_type": asset_type,
               "status": status, "owner": owner}
        try:
            report = admin.import_rows([{k: v for k, v in row.items() if v is not None}])
        except admin.ImportRefused as exc:
            raise Refused(str(exc)) from None
        verb = "Added" if report.inserted else "Updated"
        if output.json_mode:
            output.emit_json({"slug": slug, "inserted": bool(report.inserted)})
        else:
            output.say(f"{verb} asset {slug}")

    @sub.command("set-variable")
    @guard
    def set_variable(
        key: Annotated[str, typer.Argument(help="The variable's name, as a README writes it: {% name %}.")],
        value: Annotated[str | None, typer.Argument(help="Its value (leave out to give only a --default).")] = None,
        default: Annotated[
            str | None, typer.Option("--default", help="Used when the variable has no value.")
        ] = None,
        lang: Annotated[
            str | None, typer.Option("--lang", callback=_lang, help="Only for assets of this language (default: all).")
        ] = None,
        json_output: JsonFlag = False,
    ) -> None:
        """Define (or redefine) a content variable, replaced in READMEs when they are cleaned."""
        output = Output(json_mode=json_output)
        admin = _admin()
        try:
            admin.set_variable(key, value, default_value=default, lang=lang)
        except admin.ImportRefused as exc:
            raise Refused(str(exc)) from None
        if output.json_mode:
            output.emit_json({"key": key, "value": value, "default_value": default, "lang": lang})
        else:
            output.say(f"Content variable {key} set" + (f" for {lang}" if lang else " for every language"))
