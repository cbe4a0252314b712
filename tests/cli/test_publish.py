"""`ferry` publishes valid, persistent commands to the real broker, and nothing when refused."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest

from ferry.contracts import CancelCommand, ClearOptions, Command, SeedDemoOptions, WebhookStatus
from tests.cli.conftest import Ferry, declare_queues, job_ids, only_json, published
from tests.support.infra import Infra, free_port


@pytest.mark.parametrize(
    ("args", "flag", "allowed"),
    [
        (["--status", "FOO"], "--status", ["PENDING", "DONE", "IGNORED", "ERROR", "ALL"]),
        (["--batch-size", "0"], "--batch-size", ["1<=x<=1000000"]),
        (["--batch-size", "1000001"], "--batch-size", ["1<=x<=1000000"]),
        (["--batch-size", "many"], "--batch-size", ["integer"]),
    ],
)
def test_a_bad_flag_is_refused_before_anything_is_published(
    ferry: Ferry, infra: Infra, args: list[str], flag: str, allowed: list[str]
) -> None:
    declare_queues(infra)
    result = ferry("telemetry-janitor", "clear", "--force", *args)
    assert result.exit_code == 2
    assert f"'{flag}'" in result.stderr
    for value in allowed:
        assert value in result.stderr
    assert published(infra) == []


def test_seed_demo_rows_out_of_range_is_refused(ferry: Ferry, infra: Infra) -> None:
    declare_queues(infra)
    result = ferry("telemetry-janitor", "seed-demo", "--rows", "0")
    assert result.exit_code == 2
    assert "'--rows'" in result.stderr
    assert "1<=x<=100000000" in result.stderr
    assert published(infra) == []


def test_force_publishes_a_persistent_clear_command_with_the_flags(ferry: Ferry, infra: Infra) -> None:
    # No queue declared beforehand: the CLI declares the service's queue itself, so the
    # command waits there for a janitor that is not running yet.
    result = ferry(
        "telemetry-janitor",
        "clear",
        "--force",
        "--status",
        "error",
        "--batch-size",
        "500",
        "--use-cursor",
        "--show-summary",
    )
    assert result.exit_code == 0, result.output
    [(job_id, routing_key)] = job_ids(result.stdout)
    assert routing_key == "telemetry-janitor.clear"

    [message] = published(infra)
    assert message.routing_key == "telemetry-janitor.clear"
    assert message.persistent
    assert message.content_type == "application/json"
    command = Command[ClearOptions].model_validate_json(message.body)
    assert command.job_id == UUID(job_id)
    assert message.message_id == job_id
    assert command.requested_by.startswith("cli")
    assert command.options == ClearOptions(
        status=WebhookStatus.ERROR, batch_size=500, use_cursor=True, show_summary=True, dry_run=False, up_to_id=None
    )


def test_dry_run_needs_no_confirmation_and_json_prints_only_json(ferry: Ferry, infra: Infra) -> None:
    chosen = uuid4()
    result = ferry("telemetry-janitor", "clear", "--dry-run", "--json", "--job-id", str(chosen))
    assert result.exit_code == 0, result.output
    printed = only_json(result.stdout)
    assert printed["job_id"] == str(chosen)
    assert printed["routing_key"] == "telemetry-janitor.clear"
    assert printed["options"]["dry_run"] is True

    [message] = published(infra)
    command = Command[ClearOptions].model_validate_json(message.body)
    assert command.job_id == chosen
    assert command.options.dry_run is True
    assert command.options.status is WebhookStatus.PENDING
    assert command.options.batch_size == 10_000


def test_without_a_terminal_and_without_force_nothing_is_deleted(ferry: Ferry, infra: Infra) -> None:
    declare_queues(infra)
    result = ferry("telemetry-janitor", "clear", "--status", "DONE", input="yes\n", terminal=False)
    assert result.exit_code == 2
    assert "--force" in result.stderr
    assert "Are you sure" not in result.output
    assert published(infra) == []


def test_seed_demo_publishes_its_options(ferry: Ferry, infra: Infra) -> None:
    result = ferry("telemetry-janitor", "seed-demo", "--rows", "2500", "--pending", "0.25")
    assert result.exit_code == 0, result.output
    [(job_id, routing_key)] = job_ids(result.stdout)
    assert routing_key == "telemetry-janitor.seed-demo"
    [message] = published(infra)
    assert message.routing_key == "telemetry-janitor.seed-demo"
    command = Command[SeedDemoOptions].model_validate_json(message.body)
    assert str(command.job_id) == job_id
    assert command.options.rows == 2500
    assert command.options.pending == 0.25


def test_cancel_with_service_publishes_a_cancel_command(ferry: Ferry, infra: Infra) -> None:
    target = uuid4()
    result = ferry("cancel", "--service", "telemetry-janitor", str(target))
    assert result.exit_code == 0, result.output
    assert str(target) in result.stdout
    [message] = published(infra)
    assert message.routing_key == "telemetry-janitor.cancel"
    assert message.persistent
    assert CancelCommand.model_validate_json(message.body).job_id == target


def test_cancel_refuses_an_unknown_service(ferry: Ferry, infra: Infra) -> None:
    declare_queues(infra)
    result = ferry("cancel", "--service", "nope", str(uuid4()))
    assert result.exit_code == 2
    assert "'--service'" in result.stderr
    assert "telemetry-janitor" in result.stderr
    assert published(infra) == []


def test_an_unreachable_broker_is_one_clear_line_without_the_password(ferry: Ferry) -> None:
    url = f"amqp://guest:s3cr3t-pw@127.0.0.1:{free_port()}/"
    result = ferry("telemetry-janitor", "clear", "--force", env={"FERRY_AMQP_URL": url})
    assert result.exit_code == 3
    assert "FERRY_AMQP_URL" in result.stderr
    assert "s3cr3t-pw" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1


def test_an_unreachable_status_service_names_ferry_status_url(ferry: Ferry) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    for args in (["job", str(uuid4())], ["jobs"], ["watch", str(uuid4())]):
        result = ferry(*args, env={"FERRY_STATUS_URL": url})
        assert result.exit_code == 3, (args, result.output)
        assert "FERRY_STATUS_URL" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_seed_demo_shares_adding_up_to_more_than_1_are_refused(ferry: Ferry, infra: Infra) -> None:
    declare_queues(infra)
    result = ferry("telemetry-janitor", "seed-demo", "--pending", "0.9", "--done", "0.9")
    assert result.exit_code == 2, result.output
    for named in ("--pending", "--done", "--ignored", "at most 1", "1.9"):
        assert named in result.stderr, named
    assert published(infra) == []


def test_gh_seeder_refuses_a_project_that_is_no_preset(ferry: Ferry, infra: Infra) -> None:
    declare_queues(infra, "gh-seeder")
    result = ferry("gh-seeder", "seed", "--project", "nope")
    assert result.exit_code == 2, result.output
    for named in ("'--project'", "'nope'", "FERRY_GH_SEEDER_PROJECTS", "demo", "posthog"):
        assert named in result.stderr, named
    assert published(infra, "gh-seeder") == []

    presets = '{"mine": ["octo/one"]}'
    mine = ferry("gh-seeder", "seed", "--project", "mine", env={"FERRY_GH_SEEDER_PROJECTS": presets})
    assert mine.exit_code == 0, mine.output
    [message] = published(infra, "gh-seeder")
    assert message.routing_key == "gh-seeder.seed"
    refused = ferry("gh-seeder", "seed", "--project", "posthog", env={"FERRY_GH_SEEDER_PROJECTS": presets})
    assert refused.exit_code == 2
    assert "mine" in refused.stderr
    assert published(infra, "gh-seeder") == []
