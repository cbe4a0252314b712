"""The content variables a README is cleaned with (`asset_sync.content_variable`, the registry's
ContentVariable): those of the asset's language and those of none, the language's own winning; each
one's `value`, else its `default_value` (None when it has neither: the `{% key %}` stays)."""

from __future__ import annotations

from ferry.db import Conn


async def for_lang(conn: Conn, schema: str, lang: str | None) -> dict[str, str | None]:
    rows = await conn.fetch(
        f"""SELECT key, coalesce(value, default_value) AS value FROM {schema}.content_variable
            WHERE lang IS NULL OR lang = $1 ORDER BY lang IS NOT NULL, key""", lang,
    )
    return {str(r["key"]): r["value"] for r in rows}  # a language's own row comes last and wins


async def put(conn: Conn, schema: str, key: str, value: str | None, *, default_value: str | None = None,
              lang: str | None = None) -> None:
    """Define (or redefine) one variable."""
    await conn.execute(
        f"""INSERT INTO {schema}.content_variable (key, value, default_value, lang) VALUES ($1, $2, $3, $4)
            ON CONFLICT ON CONSTRAINT content_variable_key_lang
            DO UPDATE SET value = excluded.value, default_value = excluded.default_value, updated_at = now()""",
        key, value, default_value, lang,
    )
