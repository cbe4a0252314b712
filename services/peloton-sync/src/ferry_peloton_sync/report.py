"""The sync's report in `sync_class_library`'s words: connection, window, per-discipline lines and
summaries, and the FINAL SUMMARY."""

from __future__ import annotations

from typing import Any

from ferry_peloton_sync.store import Tally

RULE = "=" * 60
PROGRESS = "  Progress: "
"""How a progress line begins: every 10 classes of a discipline, among its class lines."""


def progress_line(t: Tally, *, dry_run: bool) -> str:
    created = "would create" if dry_run else "created"
    return (f"{PROGRESS}{t.fetched} classes processed ({t.created} {created}, {t.updated} updated, "
            f"{t.skipped} skipped, {t.errors} errors)")


def _counts(row: dict[str, Any], dry_run: bool, indent: str) -> list[str]:
    created = "Would create" if dry_run else "Created"
    return [f"{indent}Fetched: {row['fetched']}", f"{indent}{created}: {row['created']}",
            f"{indent}Updated: {row['updated']}", f"{indent}Skipped: {row['skipped']}",
            f"{indent}Errors: {row['errors']}"]


def build(connection: str, window_label: str, rows: list[dict[str, Any]], *, dry_run: bool,
          limit_reached: bool = False, failed: str | None = None) -> list[str]:
    lines = []
    if dry_run:
        lines.append("DRY RUN MODE - no changes will be made")
    lines += [f"Using connection for user: {connection}", window_label]
    for row in rows:
        name = str(row["discipline"]).upper()
        lines += ["", f"Processing {name} classes...", RULE]
        shown = list(row.get("lines") or [])
        lines += shown
        total = int(row["created"]) + int(row["updated"]) + int(row["errors"])
        classes_shown = sum(1 for line in shown if not str(line).startswith(PROGRESS))
        if total > classes_shown:
            lines.append(f"  ... and {total - classes_shown} more")
        lines += ["", f"  {name} Summary:", *_counts(row, dry_run, "    ")]
    totals = {k: sum(int(r[k]) for r in rows) for k in ("fetched", "created", "updated", "skipped", "errors")}
    lines += ["", RULE, "FINAL SUMMARY", RULE, f"Total rides fetched: {totals['fetched']}",
              *_counts(totals, dry_run, "")[1:]]
    if limit_reached:
        lines.append("Stopped at --limit")
    if failed:
        lines.append(f"Stopped: {failed}")
    return lines


def summary(rows: list[dict[str, Any]], *, dry_run: bool) -> str:
    t = {k: sum(int(r[k]) for r in rows) for k in ("fetched", "created", "updated", "skipped", "errors")}
    created = "would create" if dry_run else "created"
    return (f"Total rides fetched: {t['fetched']}, {created}: {t['created']}, updated: {t['updated']}, "
            f"skipped: {t['skipped']}, errors: {t['errors']}")
