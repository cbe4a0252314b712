"""The janitor's own settings (same `FERRY_` prefix as every ferry setting).

Where the janitor works: the webhook table lives in the database of `FERRY_DATABASE_URL`, and the
janitor keeps its job state (jobs, steps, outbox, measured delete rates) in its own
`telemetry_janitor` schema of that SAME database. That is what lets each batch's DELETE commit in
one transaction with the step's checkpoint: killed in the middle, a batch is either deleted and
counted, or neither. So to clean an existing Django database, point `FERRY_DATABASE_URL` of the
janitor at it and set `FERRY_JANITOR_TABLE=public.assignments_learnpackwebhook`: the janitor then
creates its `telemetry_janitor` schema there (its runtime tables and an empty demo table of its own)
and never creates or alters the application's table, which must already exist.
"""

from __future__ import annotations

from pydantic import Field

from ferry.db import TableName, qualified
from ferry.settings import FerrySettings

DEFAULT_TABLE = "telemetry_janitor.assignments_learnpackwebhook"
"""ferry's own table, created by the janitor's migrations (for demos, tests and benchmarks)."""


class JanitorSettings(FerrySettings):
    """Settings of `ferry-telemetry-janitor`, on top of every service's `FERRY_*` settings."""

    janitor_table: TableName = Field(
        DEFAULT_TABLE,
        description=(
            "`schema.table` (or `table`, meaning `public.table`) with the layout of Django's "
            "assignments_learnpackwebhook, in the database of FERRY_DATABASE_URL."
        ),
    )
    janitor_max_lock_ms: int = Field(
        500,
        ge=10,
        le=600_000,
        description="Longest a delete transaction may hold its row locks; batches are sized to stay under it.",
    )

    @property
    def table_sql(self) -> str:
        """The table as a quoted, validated SQL name: `"schema"."table"`."""
        return qualified(self.janitor_table)

    @property
    def is_own_table(self) -> bool:
        """Whether the janitor works on ferry's own table (the one its migrations create)."""
        return self.table_sql == qualified(DEFAULT_TABLE)
