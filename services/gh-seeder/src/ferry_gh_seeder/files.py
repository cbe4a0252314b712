"""Keeping `--checkpoint-file`s in step with the Postgres checkpoint, inside one directory.

Postgres (`fetched_prs`) is the truth; a file is its picture for one repository, written
atomically from what is committed. While a crawl runs, each worker rewrites a job's files at most
every `every_s` seconds; the job's end writes them once more with `completed` set.

Anyone allowed to start a job names the file, so names are confined to the worker's checkpoint
directory (FERRY_GH_SEEDER_CHECKPOINT_DIR): the options accept only relative names without `..`,
and here a name whose real path (symbolic links followed) leaves the directory is refused. What
goes wrong on the file system is logged on the worker; the job's events (readable without a token)
only name the file.
"""

from __future__ import annotations

import time
from pathlib import Path

import asyncpg
import structlog

from ferry.db import Conn
from ferry_gh_seeder import checkpoint, store
from ferry_gh_seeder.checkpoint import SeedingCheckpoint
from ferry_gh_seeder.errors import CheckpointInvalid, CheckpointUnwritable

log = structlog.get_logger("ferry_gh_seeder.files")


class CheckpointFiles:
    """A job's checkpoint files in `directory`, rewritten at most every `every_s` seconds per name."""

    def __init__(self, directory: Path, pool: asyncpg.Pool, every_s: float) -> None:
        self.directory = Path(directory)
        self.pool = pool
        self.every_s = every_s
        self._last: dict[str, float] = {}

    def locate(self, name: str) -> Path:
        """Where the file called `name` is; CheckpointInvalid when that is outside the directory."""
        root = self.directory.resolve()
        relative = Path(name)
        if relative.is_absolute() or ".." in relative.parts or not relative.parts:
            raise CheckpointInvalid(f"checkpoint file {name!r}: give a name inside the checkpoint directory")
        path = root / relative
        if not path.resolve().is_relative_to(root):
            raise CheckpointInvalid(f"checkpoint file {name!r} leads out of the checkpoint directory")
        return path

    def paths(self, name: str, repos: list[str]) -> dict[str, Path]:
        """Each repository's checkpoint file for a job given `--checkpoint-file name`."""
        return {repo: self.locate(checkpoint.repo_path(name, repo, repos).as_posix()) for repo in repos}

    def read(self, name: str, repos: list[str]) -> dict[str, list[int]]:
        """The pull request numbers the job's checkpoint files list as fetched, by repository.

        A several-repository job also accepts `name` itself when it is one of its repositories'
        checkpoint (a file written by the original command for that repository).
        """
        found: dict[str, list[int]] = {}
        given = self.locate(name)
        for repo, path in self.paths(name, repos).items():
            numbers: set[int] = set()
            for candidate in dict.fromkeys([path, given]):
                loaded = checkpoint.load(candidate, repo, label=self._label(candidate))
                if loaded is not None:
                    numbers.update(loaded.fetched_pr_numbers)
            found[repo] = sorted(numbers)
        return found

    def check_writable(self, name: str) -> None:
        """CheckpointInvalid unless the file's folder (made when missing) can be written on this worker."""
        folder = self.locate(name).parent
        probe = folder / f".{Path(name).name}.probe"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self.locate(name)  # the folders just made are real ones, but check again after making them
            probe.write_text("")
            probe.unlink()
        except OSError as exc:
            log.warning("cannot write checkpoint file", path=str(folder), error=str(exc))
            raise CheckpointInvalid(
                f"cannot write checkpoint file {name!r} in the checkpoint directory (the worker's log has the reason)"
            ) from None

    async def write(self, conn: Conn, name: str, repos: list[str], *, completed: dict[str, bool] | None = None) -> None:
        """Write every repository's file from the checkpoint as `conn` sees it (CheckpointUnwritable)."""
        for repo, path in self.paths(name, repos).items():
            numbers = await store.fetched_numbers(conn, repo)
            found = await store.known_pulls(conn, repo)
            done = bool(completed and completed.get(store.repo_key(repo)))
            total = max(found, len(numbers))
            try:
                checkpoint.save(path, SeedingCheckpoint(repo, numbers, total_prs_found=total, completed=done))
            except OSError as exc:
                log.warning("cannot write checkpoint file", path=str(path), error=str(exc))
                raise CheckpointUnwritable(
                    f"the worker could not write {self._label(path)!r} (its log has the reason)") from None

    async def maybe_write(self, name: str, repos: list[str]) -> bool:
        """`write` unless this process wrote `name` less than `every_s` seconds ago."""
        now = time.monotonic()
        if now - self._last.get(name, float("-inf")) < self.every_s:
            return False
        self._last[name] = now
        # A connection of its own: only committed pull requests go into the file, never one
        # whose step could still roll back.
        async with self.pool.acquire() as conn:
            await self.write(conn, name, repos)
        return True

    def _label(self, path: Path) -> str:
        try:
            return path.relative_to(self.directory.resolve()).as_posix()
        except ValueError:
            return path.name
