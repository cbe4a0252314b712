"""`ferry jobs` at a usual terminal width: one line a job, every short column whole, the message cut."""

from __future__ import annotations

from rich.console import Console

from ferry.cli.render import jobs_table

JOB_ID = "9ddf9084-c399-45c6-9558-0fffa355302d"
LONG = "Successfully deleted 10,000 LearnPackWebhook records with status 'ERROR' " + "and more " * 20


def rendered(width: int, **job: object) -> list[str]:
    console = Console(width=width, record=True, color_system=None)
    base = {"job_id": JOB_ID, "service": "telemetry-janitor", "command": "clear", "status": "completed",
            "progress": 100.0, "created_at": "2026-12-03T08:05:42+00:00", "duration_s": 0.5, "message": LONG}
    jobs_table(console, {"items": [{**base, **job}], "total": 1})
    return [line for line in console.export_text().splitlines() if "telemetry" in line or JOB_ID[:8] in line]


def test_at_150_columns_every_short_column_is_whole_and_the_message_is_cut() -> None:
    [row] = rendered(150)
    for whole in (JOB_ID, "telemetry-janitor", "clear", "completed", "100.0%", "0.5s"):
        assert whole in row
    assert "Successfully deleted" in row
    assert row.rstrip(" │").endswith("…")
    assert len(row) <= 150


def test_a_dry_run_shows_what_it_found_on_its_one_line() -> None:
    [row] = rendered(150, progress=0.0, processed=0, options={"dry_run": True}, result={"found": 10000})
    assert "dry run: 10,000 found" in row


def test_a_narrower_terminal_shows_the_start_of_the_id_and_keeps_the_other_columns_whole() -> None:
    [row] = rendered(130)
    assert JOB_ID[:8] in row
    assert JOB_ID not in row
    for whole in ("telemetry-janitor", "clear", "completed", "2026-12-03 08:05:42"):
        assert whole in row
