"""Getting assets in: `ferry asset-sync import FILE` and `ferry asset-sync add` (run where the service is
installed, against FERRY_DATABASE_URL and FERRY_ASSET_SYNC_TABLE), and the content variables READMEs
are cleaned with: `ferry asset-sync set-variable`.

Every row is validated first; one bad row (its line number and what is wrong) refuses the whole
file. The rows are then upserted by slug in one transaction: all of them or none. Only the fields
a row gives are written, so re-importing a file never clears what a pull filled in.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ferry.contracts.asset_sync import AssetStatus, AssetType, check_lang
from ferry.db import connect, migrate_database, migrations_in, schema_name
from ferry_asset_sync import SERVICE, variables
from ferry_asset_sync.assets import AssetTable
from ferry_asset_sync.errors import TableNotFound
from ferry_asset_sync.settings import AssetSyncSettings

_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
MAX_ERRORS_SHOWN = 20


class ImportRefused(Exception):
    """The file (or row) cannot be imported; nothing was written."""


@dataclass(frozen=True)
class ImportReport:
    inserted: int
    updated: int


class AssetRow(BaseModel):
    """One asset to import: the registry's field names."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    slug: str = Field(description="Unique slug (letters, digits, '.', '_', '-').")
    title: str | None = Field(None, max_length=200)
    lang: str | None = None
    asset_type: AssetType | None = None
    status: AssetStatus | None = None
    readme_url: str | None = Field(None, max_length=255)
    description: str | None = None
    owner: str | None = Field(None, max_length=150)
    external: bool | None = None

    @field_validator("slug")
    @classmethod
    def _valid_slug(cls, value: str) -> str:
        if not _SLUG.match(value):
            raise ValueError(f"{value!r} is not a slug (letters, digits, '.', '_', '-'; at most 200)")
        return value

    @field_validator("lang")
    @classmethod
    def _valid_lang(cls, value: str | None) -> str | None:
        return None if value is None else check_lang(value)


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:3]:
        where = ".".join(str(p) for p in error["loc"]) or "row"
        parts.append(f"{where}: {str(error['msg']).removeprefix('Value error, ')}")
    return "; ".join(parts)


def parse_rows(text: str, file_format: str) -> list[AssetRow]:
    """Validated rows; ImportRefused listing every bad line (1-based, as an editor shows them)."""
    rows: list[AssetRow] = []
    errors: list[str] = []
    for line_no, raw in _records(text, file_format, errors):
        try:
            rows.append(AssetRow.model_validate(raw))
        except ValidationError as exc:
            errors.append(f"line {line_no}: {_describe(exc)}")
    seen: dict[str, int] = {}
    for index, row in enumerate(rows):
        if row.slug in seen:
            errors.append(f"slug {row.slug!r} appears twice (rows {seen[row.slug] + 1} and {index + 1})")
        seen.setdefault(row.slug, index)
    if errors:
        shown = errors[:MAX_ERRORS_SHOWN]
        more = f" (and {len(errors) - len(shown)} more)" if len(errors) > len(shown) else ""
        raise ImportRefused(f"nothing imported: {len(errors)} bad row(s){more}: " + " | ".join(shown))
    if not rows:
        raise ImportRefused("nothing imported: the file holds no assets")
    return rows


def _records(text: str, file_format: str, errors: list[str]) -> Iterable[tuple[int, dict[str, Any]]]:
    if file_format == "csv":
        reader = csv.DictReader(io.StringIO(text))
        for record in reader:
            if None in record:
                errors.append(f"line {reader.line_num}: more values than the header has columns")
                continue
            yield reader.line_num, {k.strip(): (v if v != "" else None) for k, v in record.items() if k}
        return
    for line_no, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            errors.append(f"line {line_no}: not JSON ({exc.msg})")
            continue
        if not isinstance(value, dict):
            errors.append(f"line {line_no}: expected a JSON object, got {type(value).__name__}")
            continue
        yield line_no, value


def guess_format(path: Path, given: str | None) -> str:
    if given:
        return given
    if path.suffix.lower() == ".csv":
        return "csv"
    if path.suffix.lower() in (".jsonl", ".json", ".ndjson"):
        return "jsonl"
    raise ImportRefused(f"cannot tell the format of {path.name}: name it .jsonl or .csv, or pass --format")


async def upsert(conn: Any, table: AssetTable, rows: list[AssetRow]) -> ImportReport:
    inserted = updated = 0
    async with conn.transaction():
        for row in rows:
            values = table.writable(row.model_dump(mode="json", exclude_none=True))
            names = list(values)
            cols = ", ".join(f'"{n}"' for n in names)
            marks = ", ".join(f"${i}" for i in range(1, len(names) + 1))
            sets = ", ".join(f'"{n}" = EXCLUDED."{n}"' for n in names if n != "slug") or 'slug = EXCLUDED.slug'
            fresh = await conn.fetchval(
                f"INSERT INTO {table.sql} ({cols}) VALUES ({marks}) ON CONFLICT (slug) DO UPDATE SET {sets} "
                "RETURNING (xmax = 0)", *values.values(),
            )
            inserted, updated = (inserted + 1, updated) if fresh else (inserted, updated + 1)
    return ImportReport(inserted, updated)


async def _write(settings: AssetSyncSettings, rows: list[AssetRow]) -> ImportReport:
    dsn = settings.database_url.get_secret_value()
    await migrate_database(dsn, schema_name(SERVICE), migrations_in("ferry_asset_sync"))
    conn = await connect(dsn)
    try:
        table = await AssetTable.load(conn, settings.table_sql, settings.asset_sync_table)
        return await upsert(conn, table, rows)
    except TableNotFound as exc:
        raise ImportRefused(str(exc)) from None
    except asyncpg.PostgresError as exc:
        raise ImportRefused(f"nothing imported: the database refused a row ({type(exc).__name__}: {exc})") from None
    finally:
        await conn.close()


def import_rows(raw: list[dict[str, Any]], settings: AssetSyncSettings | None = None) -> ImportReport:
    """Validate and upsert rows given as dicts (`ferry asset-sync add`)."""
    try:
        rows = [AssetRow.model_validate(r) for r in raw]
    except ValidationError as exc:
        raise ImportRefused(_describe(exc)) from None
    return asyncio.run(_write(settings or AssetSyncSettings(), rows))


def import_file(path: Path, file_format: str | None = None, settings: AssetSyncSettings | None = None) -> ImportReport:
    """Validate every row of a JSON-lines or CSV file, then upsert them all in one transaction."""
    rows = parse_rows(path.read_text(encoding="utf-8"), guess_format(path, file_format))
    return asyncio.run(_write(settings or AssetSyncSettings(), rows))


_VARIABLE_KEY = re.compile(r"^[^\s%:]{1,100}$")  # what the registry's `{%\s+([^\s%]+)\s+%}` can name


async def _put_variable(settings: AssetSyncSettings, key: str, value: str | None, default_value: str | None,
                        lang: str | None) -> None:
    dsn = settings.database_url.get_secret_value()
    schema = schema_name(SERVICE)
    await migrate_database(dsn, schema, migrations_in("ferry_asset_sync"))
    conn = await connect(dsn)
    try:
        await variables.put(conn, schema, key, value, default_value=default_value, lang=lang)
    finally:
        await conn.close()


def set_variable(key: str, value: str | None, *, default_value: str | None = None, lang: str | None = None,
                 settings: AssetSyncSettings | None = None) -> None:
    """Define (or redefine) one content variable (`ferry asset-sync set-variable`)."""
    if not _VARIABLE_KEY.match(key):
        raise ImportRefused(f"{key!r} cannot be a content variable's name: 1 to 100 characters, without spaces, "
                            "'%' or ':' (a README writes it as {% name %})")
    if value is None and default_value is None:
        raise ImportRefused(f"give content variable {key} a value or a --default")
    try:
        checked_lang = check_lang(lang) if lang is not None else None
    except ValueError as exc:
        raise ImportRefused(str(exc)) from None
    asyncio.run(_put_variable(settings or AssetSyncSettings(), key, value, default_value, checked_lang))
