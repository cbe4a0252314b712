"""The JSON checkpoint file of `seed_real_projects --checkpoint-file`, read and written compatibly.

One file holds one repository's progress:

    {"repo": "posthog/posthog", "fetched_pr_numbers": [1, 2, 5], "last_updated": "2025-...",
     "total_prs_found": 250, "completed": false}

ferry's own checkpoint is in Postgres (`fetched_prs`); the file is for compatibility with runs of
the old command and for people who look at it. A job crawling several repositories keeps one file
per repository beside the given path (`repo_path`). Paths are on the worker's filesystem, inside
its checkpoint directory (`ferry_gh_seeder.files` confines them); messages name a file by `label`
(its name in that directory) and never carry the operating system's error text, which goes to the
worker's log instead: job events are readable without a token.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog

from ferry_gh_seeder.errors import CheckpointInvalid

log = structlog.get_logger("ferry_gh_seeder.checkpoint")


def _now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass
class SeedingCheckpoint:
    """One repository's progress, in the field names and order of the original format."""

    repo: str
    fetched_pr_numbers: list[int] = field(default_factory=list)
    last_updated: str = field(default_factory=_now)
    total_prs_found: int = 0
    completed: bool = False

    def is_fetched(self, number: int) -> bool:
        return number in set(self.fetched_pr_numbers)

    def add_fetched_pr(self, number: int) -> None:
        if number not in self.fetched_pr_numbers:
            self.fetched_pr_numbers.append(number)
        self.last_updated = _now()

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any, source: str = "checkpoint") -> SeedingCheckpoint:
        """Parse a decoded checkpoint; CheckpointInvalid says which field is wrong."""
        if not isinstance(data, dict):
            raise CheckpointInvalid(f"{source}: expected a JSON object, found {type(data).__name__}")
        repo = data.get("repo")
        numbers = data.get("fetched_pr_numbers", [])
        if not isinstance(repo, str) or not repo:
            raise CheckpointInvalid(f"{source}: 'repo' must be a non-empty string")
        if not isinstance(numbers, list) or not all(isinstance(n, int) and not isinstance(n, bool) for n in numbers):
            raise CheckpointInvalid(f"{source}: 'fetched_pr_numbers' must be a list of integers")
        total = data.get("total_prs_found", 0)
        if not isinstance(total, int) or isinstance(total, bool):
            raise CheckpointInvalid(f"{source}: 'total_prs_found' must be an integer")
        return cls(
            repo=repo,
            fetched_pr_numbers=list(numbers),
            last_updated=str(data.get("last_updated") or _now()),
            total_prs_found=total,
            completed=bool(data.get("completed", False)),
        )


def load(path: str | Path, repo: str, *, label: str | None = None) -> SeedingCheckpoint | None:
    """The checkpoint at `path` if it is `repo`'s (names compared case-insensitively).

    None when the file does not exist or belongs to another repository (a fresh start, as the
    original did); CheckpointInvalid when it exists but cannot be read as a checkpoint.
    """
    file = Path(path)
    name = label or file.name
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        log.warning("cannot read checkpoint file", path=str(file), error=str(exc))
        raise CheckpointInvalid(f"cannot read checkpoint file {name!r} (the worker's log has the reason)") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CheckpointInvalid(f"checkpoint file {name!r} is not JSON: {exc.msg} (line {exc.lineno})") from None
    checkpoint = SeedingCheckpoint.from_json(data, source=f"checkpoint file {name!r}")
    return checkpoint if checkpoint.repo.lower() == repo.lower() else None


def save(path: str | Path, checkpoint: SeedingCheckpoint) -> None:
    """Write atomically (a temporary file renamed over the old one): readers never see half a file."""
    file = Path(path)
    checkpoint.last_updated = _now()
    payload = json.dumps(checkpoint.to_json(), indent=2) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=f".{file.name}.", suffix=".tmp", dir=file.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(payload)
        os.replace(tmp, file)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def repo_path(path: str | Path, repo: str, repos: list[str]) -> Path:
    """Where `repo`'s checkpoint lives: `path` itself for a one-repository job, else beside it."""
    file = Path(path)
    if len(repos) <= 1:
        return file
    owner, _, name = repo.partition("/")
    return file.with_name(f"{file.stem}.{owner}__{name}{file.suffix}")
