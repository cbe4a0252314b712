"""The confirmation prompt: a dry-run counts, the user confirms that count, the real job is pinned.

The status API is faked here (an httpx transport answering the counting job as completed);
the commands go to the real broker and are read back from it.
"""

from __future__ import annotations

from typing import Any

from ferry.contracts import ClearOptions, Command, WebhookStatus
from tests.cli.conftest import FakeStatus, Ferry, declare_queues, job, job_ids, only_json, published
from tests.support.infra import Infra

QUESTION = "Are you sure you want to delete 1,234 LearnPackWebhook records with status 'PENDING'? (yes/no): "


def counted(found: int, up_to_id: int | None, summary: dict[str, int] | None = None) -> FakeStatus:
    result: dict[str, Any] = {"status": "PENDING", "found": found, "deleted": 0, "up_to_id": up_to_id, "dry_run": True}
    if summary is not None:
        result["status_summary"] = summary
    # The first poll: the janitor has not accepted the job yet; then it has finished.
    return FakeStatus(lambda _id, call: None if call == 0 else job("completed", result=result))


def commands(infra: Infra) -> list[Command[ClearOptions]]:
    return [Command[ClearOptions].model_validate_json(m.body) for m in published(infra)]


def test_yes_publishes_the_real_job_pinned_to_the_counted_rows(ferry: Ferry, infra: Infra) -> None:
    status = counted(1234, up_to_id=98765)
    result = ferry("telemetry-janitor", "clear", "--batch-size", "300", input="yes\n", terminal=True, status=status)
    assert result.exit_code == 0, result.output
    assert QUESTION in result.stdout
    [(real_id, _)] = job_ids(result.stdout)

    counting, real = commands(infra)
    assert counting.options.dry_run is True
    assert counting.options.up_to_id is None
    assert status.calls[str(counting.job_id)] >= 2  # it waited for the counting job to finish
    assert str(real.job_id) == real_id
    assert real.job_id != counting.job_id
    assert real.options == ClearOptions(status=WebhookStatus.PENDING, batch_size=300, up_to_id=98765)


def test_y_is_yes_too(ferry: Ferry, infra: Infra) -> None:
    result = ferry("telemetry-janitor", "clear", input="Y\n", terminal=True, status=counted(1234, up_to_id=7))
    assert result.exit_code == 0, result.output
    assert [c.options.dry_run for c in commands(infra)] == [True, False]


def test_no_cancels_and_deletes_nothing(ferry: Ferry, infra: Infra) -> None:
    result = ferry("telemetry-janitor", "clear", input="no\n", terminal=True, status=counted(1234, up_to_id=7))
    assert result.exit_code == 1
    assert QUESTION in result.stdout
    assert "Operation cancelled." in result.stdout
    assert job_ids(result.stdout) == []
    [counting] = commands(infra)
    assert counting.options.dry_run is True


def test_an_empty_answer_is_no(ferry: Ferry, infra: Infra) -> None:
    result = ferry("telemetry-janitor", "clear", input="", terminal=True, status=counted(1234, up_to_id=7))
    assert result.exit_code == 1
    assert "Operation cancelled." in result.stdout
    assert [c.options.dry_run for c in commands(infra)] == [True]


def test_nothing_found_prints_the_summary_and_does_not_ask(ferry: Ferry, infra: Infra) -> None:
    summary = {"DONE": 1234, "ERROR": 56, "IGNORED": 23}
    result = ferry(
        "telemetry-janitor",
        "clear",
        "--show-summary",
        input="yes\n",
        terminal=True,
        status=counted(0, up_to_id=None, summary=summary),
    )
    assert result.exit_code == 0, result.output
    assert "Are you sure" not in result.stdout
    expected = "\n".join(
        [
            "No LearnPackWebhook records found with status 'PENDING'",
            "",
            "Current LearnPackWebhook status summary:",
            "-" * 40,
            "DONE: 1,234 records",
            "ERROR: 56 records",
            "IGNORED: 23 records",
            "-" * 40,
            "Total: 1,313 records",
        ]
    )
    assert expected in result.stdout
    [counting] = commands(infra)
    assert counting.options.dry_run is True
    assert counting.options.show_summary is True


def test_a_failed_count_deletes_nothing(ferry: Ferry, infra: Infra) -> None:
    status = FakeStatus(lambda _id, _call: job("failed", error="table assignments_learnpackwebhook does not exist"))
    result = ferry("telemetry-janitor", "clear", input="yes\n", terminal=True, status=status)
    assert result.exit_code == 1
    assert "does not exist" in result.stderr
    assert "Are you sure" not in result.stdout
    assert [c.options.dry_run for c in commands(infra)] == [True]


def test_json_mode_keeps_stdout_machine_readable(ferry: Ferry, infra: Infra) -> None:
    declare_queues(infra)
    result = ferry("telemetry-janitor", "clear", "--json", input="yes\n", terminal=True, status=counted(1234, 5))
    assert result.exit_code == 0, result.output
    printed = only_json(result.stdout)
    assert printed["options"]["up_to_id"] == 5
    assert QUESTION in result.stderr
    assert [str(c.job_id) for c in commands(infra)][1] == printed["job_id"]


def test_the_counting_job_is_marked_and_ferry_jobs_hides_it_unless_all(ferry: Ferry, infra: Infra) -> None:
    ferry("telemetry-janitor", "clear", input="no\n", terminal=True, status=counted(1234, up_to_id=7))
    [counting] = commands(infra)
    assert counting.requested_by.endswith(" (count for a confirmation prompt)")

    dry = {"found": 1234, "deleted": 0, "dry_run": True}
    rows = [
        {**job("completed", total=1234, processed=0, progress=0.0, result=dry), "job_id": str(counting.job_id),
         "requested_by": counting.requested_by, "options": {"dry_run": True}},
        {**job("completed", total=99, processed=0, progress=0.0, result={**dry, "found": 99}),
         "job_id": "abcd0000-0000-4000-8000-000000000001", "requested_by": "cli:me", "options": {"dry_run": True}},
    ]
    listing = FakeStatus(lambda _id, _call: None, listing=rows)
    shown = ferry("jobs", status=listing, env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    assert str(counting.job_id) not in shown.stdout
    assert "1 confirmation prompts' counting jobs hidden; --all shows them" in shown.stdout
    assert "dry run: 99 found" in shown.stdout
    assert "0.0%" not in shown.stdout
    every = ferry("jobs", "--all", status=listing, env={"COLUMNS": "200"})
    assert str(counting.job_id) in every.stdout
    assert "dry run: 1,234 found" in every.stdout
