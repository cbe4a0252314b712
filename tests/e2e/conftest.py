"""The whole stack as real processes: RabbitMQ, Postgres, `ferry-status`, `ferry-telemetry-janitor`,
and the `ferry` CLI run as a user would run it."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from ferry_telemetry_janitor.settings import DEFAULT_TABLE
from tests.support.infra import Infra
from tests.support.processes import BIN, ServiceProcess, running_service

TOKEN = "e2e-token"
STATUSES = ("PENDING", "DONE", "IGNORED", "ERROR")


@dataclass
class Stack:
    infra: Infra
    status: ServiceProcess
    janitor: ServiceProcess
    tmp_path: Path

    @property
    def env(self) -> dict[str, str]:
        return self.infra.env(FERRY_STATUS_URL=self.status.url, FERRY_API_TOKEN=TOKEN)

    def ferry(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run the `ferry` console script with no terminal on stdin."""
        return subprocess.run(
            [str(BIN / "ferry"), *args], env=self.env, capture_output=True, text=True, timeout=timeout,
            stdin=subprocess.DEVNULL, check=False,
        )

    def ferry_at_terminal(self, *args: str, answer: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run `ferry` with a pseudo-terminal on stdin, typing `answer` once it asks."""
        master, slave = pty.openpty()
        try:
            cli = subprocess.Popen(
                [str(BIN / "ferry"), *args], env=self.env, stdin=slave, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, text=True,
            )
            os.write(master, answer.encode() + b"\n")  # the terminal buffers it until the CLI reads
            out, err = cli.communicate(timeout=timeout)
        finally:
            os.close(master)
            os.close(slave)
        return subprocess.CompletedProcess(cli.args, cli.returncode, out, err)

    def job(self, job_id: str) -> dict[str, Any]:
        response = httpx.get(f"{self.status.url}/jobs/{job_id}", timeout=10)
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def wait_job(self, job_id: str, statuses: set[str], timeout: float = 120) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            response = httpx.get(f"{self.status.url}/jobs/{job_id}", timeout=10)
            if response.status_code == 200 and response.json()["status"] in statuses:
                body: dict[str, Any] = response.json()
                return body
            assert time.monotonic() < deadline, f"job {job_id} not in {statuses}: {response.text[:500]}"
            time.sleep(0.2)

    def sql(self, query: str, *args: Any) -> Any:
        async def run() -> Any:
            conn = await asyncpg.connect(self.infra.database_url)
            try:
                return await conn.fetch(query, *args)
            finally:
                await conn.close()

        return asyncio.run(run())

    def counts(self) -> dict[str, int]:
        rows = self.sql(f"SELECT status, count(*) AS n FROM {DEFAULT_TABLE} GROUP BY status")
        found = {r["status"]: r["n"] for r in rows}
        return {s: found.get(s, 0) for s in STATUSES}

    def seed(self, rows: int) -> dict[str, int]:
        """Fill the table through the janitor's own seed-demo job; the counts per status."""
        result = self.ferry("telemetry-janitor", "seed-demo", "--rows", str(rows), "--wait", "--json")
        assert result.returncode == 0, result.stdout + result.stderr
        return self.counts()


def final_json(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The JSON document a `--json` command printed on stdout."""
    body: dict[str, Any] = json.loads(result.stdout)
    return body


@pytest.fixture
def stack(infra: Infra, tmp_path: Path) -> Iterator[Stack]:
    with (
        running_service("ferry-status", infra, tmp_path, FERRY_API_TOKEN=TOKEN) as status,
        running_service("ferry-telemetry-janitor", infra, tmp_path, FERRY_JANITOR_MAX_LOCK_MS="500") as janitor,
    ):
        yield Stack(infra, status, janitor, tmp_path)
