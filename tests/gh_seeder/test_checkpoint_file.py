"""The --checkpoint-file in seed_real_projects' JSON format: load, save, resume, completed."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from ferry.contracts.seeder import SeedOptions
from ferry_gh_seeder import checkpoint
from ferry_gh_seeder.checkpoint import SeedingCheckpoint
from ferry_gh_seeder.errors import CheckpointInvalid
from tests.gh_seeder.harness import FINAL, sandbox_config, stack, start
from tests.runtime.harness import EventTap
from tests.support.infra import Infra, query

FIELDS = ["repo", "fetched_pr_numbers", "last_updated", "total_prs_found", "completed"]


def test_save_then_load_keeps_every_field_in_the_original_format(tmp_path: Path) -> None:
    path = tmp_path / ".seeding_checkpoint.json"
    saved = SeedingCheckpoint("posthog/posthog", total_prs_found=250)
    saved.add_fetched_pr(12)
    saved.add_fetched_pr(7)
    saved.add_fetched_pr(12)  # twice: listed once
    checkpoint.save(path, saved)
    raw = json.loads(path.read_text())
    assert list(raw) == FIELDS
    assert raw["fetched_pr_numbers"] == [12, 7]
    assert raw["completed"] is False
    loaded = checkpoint.load(path, "PostHog/PostHog")  # names are case-insensitive, as on GitHub
    assert loaded is not None
    assert loaded.is_fetched(7)
    assert not loaded.is_fetched(8)
    assert (loaded.total_prs_found, loaded.completed) == (250, False)
    loaded.completed = True
    checkpoint.save(path, loaded)
    assert json.loads(path.read_text())["completed"] is True
    assert not list(tmp_path.glob("*.tmp"))  # written through a temporary file, renamed over


def test_a_missing_file_or_another_repositorys_is_a_fresh_start(tmp_path: Path) -> None:
    path = tmp_path / "cp.json"
    assert checkpoint.load(path, "a/b") is None
    checkpoint.save(path, SeedingCheckpoint("other/repo", [1, 2]))
    assert checkpoint.load(path, "a/b") is None


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"repo": "a/b", "fetched_pr_numbers": ["x"]}', "fetched_pr_numbers"),
        ('{"fetched_pr_numbers": []}', "'repo'"),
    ],
)
def test_a_broken_file_is_refused_with_the_reason(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "cp.json"
    path.write_text(text)
    with pytest.raises(CheckpointInvalid, match=says):
        checkpoint.load(path, "a/b")


def test_each_repository_of_a_project_gets_its_own_file(tmp_path: Path) -> None:
    base = tmp_path / "cp.json"
    assert checkpoint.repo_path(base, "a/b", ["a/b"]) == base
    assert checkpoint.repo_path(base, "a/b", ["a/b", "c/d"]) == tmp_path / "cp.a__b.json"


async def test_a_crawl_resumes_from_the_file_and_marks_it_completed(infra: Infra, tmp_path: Path) -> None:
    repo = "acme/widgets"
    path = tmp_path / ".seeding_checkpoint.json"
    async with stack(infra, sandbox_config((repo, 40)), gh_seeder_checkpoint_every_s=0.2,
                     gh_seeder_checkpoint_dir=tmp_path) as box, EventTap.open(infra) as tap:
        numbers = sorted(box.expected(repo))
        done_before = numbers[::3]  # as if an interrupted run of the old command had fetched these
        path.write_text(json.dumps({"repo": repo, "fetched_pr_numbers": done_before,
                                    "last_updated": "2025-12-22T10:00:00", "total_prs_found": 40, "completed": False}))
        snapshots: list[dict[str, Any]] = []
        watcher = asyncio.create_task(_watch(path, snapshots))
        job = await start(tap, repo=repo, checkpoint_file=path.name)
        final = await tap.until(job, FINAL, timeout=60)
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        hits = box.detail_hits()
        progress = [e for e in tap.of(job) if e.type == "progress"]
    assert final.type == "completed", final.message
    assert (final.total, final.succeeded, final.skipped) == (40, 40 - len(done_before), len(done_before))
    assert final.detail["result"]["from_checkpoint_file"] == len(done_before)
    assert final.detail["result"]["checkpoint_completed"] is True
    # the pull requests the file lists were never fetched; the others once each
    assert {n for (_, n) in hits} == set(numbers) - set(done_before)
    assert set(hits.values()) == {1}
    written = json.loads(path.read_text())
    assert list(written) == FIELDS
    assert (written["repo"], written["completed"]) == (repo, True)
    assert sorted(written["fetched_pr_numbers"]) == numbers
    assert written["total_prs_found"] == 40
    marked = await query(infra, "SELECT source, count(*) AS n FROM gh_seeder.fetched_prs GROUP BY source")
    by_source = {r["source"]: r["n"] for r in marked}
    assert by_source == {"checkpoint-file": len(done_before), "crawl": 40 - len(done_before)}
    assert progress, "progress events were published"
    # while the crawl ran, the file was rewritten with what was done so far, in the same format
    during = [s for s in snapshots if not s["completed"] and s["last_updated"] != "2025-12-22T10:00:00"]
    assert during, "the file was not rewritten during the crawl"
    assert all(list(s) == FIELDS for s in during)
    assert len({json.dumps(s["fetched_pr_numbers"]) for s in during}) >= 2
    assert all(set(done_before) <= set(s["fetched_pr_numbers"]) for s in during)


async def _watch(path: Path, snapshots: list[dict[str, Any]]) -> None:
    last = ""
    while True:
        with contextlib.suppress(OSError):
            text = path.read_text()
            if text != last:
                snapshots.append(json.loads(text))
                last = text
        await asyncio.sleep(0.02)


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("/etc/cron.d/x.json", "not an absolute path"),
        ("~/cp.json", "not an absolute path"),
        ("../cp.json", "'..' is not allowed"),
        ("runs/../../cp.json", "'..' is not allowed"),
        ("runs/", "names a folder"),
    ],
)
def test_a_checkpoint_name_outside_the_directory_is_refused_before_publishing(name: str, says: str) -> None:
    with pytest.raises(ValidationError, match=says):
        SeedOptions(repo="a/b", checkpoint_file=name)
    assert SeedOptions(repo="a/b", checkpoint_file="./runs//cp.json").checkpoint_file == "runs/cp.json"


async def test_checkpoint_files_stay_in_their_directory_and_events_carry_no_file_system_errors(
    infra: Infra, tmp_path: Path
) -> None:
    root, outside = tmp_path / "checkpoints", tmp_path / "outside"
    outside.mkdir()
    root.mkdir()
    (root / "escape").symlink_to(outside, target_is_directory=True)
    (root / "folder.json").mkdir()  # reading it fails with an operating-system error
    repo = "acme/widgets"
    async with stack(infra, sandbox_config((repo, 3)), gh_seeder_checkpoint_dir=root) as box, \
            EventTap.open(infra) as tap:
        escaping = await start(tap, repo=repo, checkpoint_file="escape/cp.json")
        escaped = await tap.until(escaping, FINAL, timeout=30)
        unreadable = await start(tap, repo=repo, checkpoint_file="folder.json")
        unread = await tap.until(unreadable, FINAL, timeout=30)
        nested = await start(tap, repo=repo, checkpoint_file="runs/2026/cp.json")
        done = await tap.until(nested, FINAL, timeout=30)
        events = [e for job in (escaping, unreadable, nested) for e in tap.of(job)]
        fetched = box.detail_hits()
    assert escaped.type == "failed"
    assert "'escape/cp.json' leads out of the checkpoint directory" in escaped.message
    assert list(outside.iterdir()) == []  # nothing was written through the link
    assert unread.type == "failed"
    assert unread.message.endswith("cannot read checkpoint file 'folder.json' (the worker's log has the reason)")
    assert done.type == "completed", done.message
    written = json.loads((root / "runs" / "2026" / "cp.json").read_text())  # its folders were made, inside
    assert (written["repo"], written["completed"], len(written["fetched_pr_numbers"])) == (repo, True, 3)
    assert len(fetched) == 3
    for event in events:  # no worker path and no operating-system reason in anything a job publishes
        text = json.dumps([event.message, event.detail])
        assert str(tmp_path) not in text
        assert "Errno" not in text
        assert "Is a directory" not in text
