"""The Procfile's local stack: readable console logs under honcho, and a development API token.

Each Procfile line is run by /bin/sh as honcho runs it, with the service's console script
replaced by a stand-in that prints the environment it was started with.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEV_TOKEN = "local-demo-token"


def procfile() -> dict[str, str]:
    entries: dict[str, str] = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, command = line.partition(":")
            entries[name.strip()] = command.strip()
    return entries


FERRY_PROCESSES = sorted(name for name, command in procfile().items() if re.search(r"exec ferry-(?!sandbox)", command))


def run_line(name: str, tmp_path: Path, **env: str) -> tuple[dict[str, str], str]:
    """Run Procfile line `name`; returns the stand-in's environment and what the line printed."""
    script = re.search(r"exec (ferry-[a-z-]+)", procfile()[name])
    assert script, f"Procfile {name!r} does not exec a ferry console script"
    stand_in = tmp_path / script[1]
    stand_in.write_text("#!/bin/sh\nexec python3 -c 'import json, os; print(json.dumps(dict(os.environ)))'\n")
    stand_in.chmod(0o755)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FERRY_")}
    result = subprocess.run(
        ["/bin/sh", "-c", procfile()[name]],
        env={**clean, "PATH": f"{tmp_path}:{clean['PATH']}", **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    *said, last = result.stdout.strip().splitlines()
    return json.loads(last), "\n".join(said) + result.stderr


def test_every_ferry_process_logs_in_the_console_format_under_honcho(tmp_path: Path) -> None:
    assert "status" in FERRY_PROCESSES
    for name in FERRY_PROCESSES:
        env, _ = run_line(name, tmp_path)
        assert env.get("FERRY_LOG_FORMAT") == "console", name
        chosen, _ = run_line(name, tmp_path, FERRY_LOG_FORMAT="json")
        assert chosen["FERRY_LOG_FORMAT"] == "json", name


def test_the_status_process_gets_the_development_token_and_says_so(tmp_path: Path) -> None:
    env, said = run_line("status", tmp_path)
    assert env["FERRY_API_TOKEN"] == DEV_TOKEN
    assert f"FERRY_API_TOKEN is not set: the status API accepts the development token '{DEV_TOKEN}'" in said
    assert "local demo only" in said


def test_a_token_of_ones_own_is_kept_and_not_printed(tmp_path: Path) -> None:
    token = "my-own-token-123"
    env, said = run_line("status", tmp_path, FERRY_API_TOKEN=token)
    assert env["FERRY_API_TOKEN"] == token
    assert token not in said
    assert DEV_TOKEN not in said


def test_compose_gives_the_same_development_token() -> None:
    assert f"FERRY_API_TOKEN: ${{FERRY_API_TOKEN:-{DEV_TOKEN}}}" in (ROOT / "compose.yaml").read_text()
