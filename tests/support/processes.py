"""Running a ferry service as a real subprocess, the way the Procfile and the images run it.

Tests that kill, restart or flood a service need it in its own process: `ServiceProcess` starts a
console script (`ferry-status`, `ferry-telemetry-janitor`) from this venv with a test's
environment, sends its output to a log file, and waits for `/readyz` to answer 200.
`running_service` does that on a free port and stops the process when the test is done.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from signal import SIGKILL, Signals
from typing import IO

import httpx

from tests.support.infra import Infra, free_port

BIN = Path(sys.executable).parent


class ServiceFailed(RuntimeError):
    """The service exited, or did not become ready in time; the message ends with its log."""


class ServiceProcess:
    """One ferry service process listening on `port` for /healthz, /readyz and /metrics.

    `ready_path` is what `wait_ready` polls: /readyz for ferry's services, another path for a
    process without one (the sandbox's `/_sandbox/stats`).
    """

    def __init__(
        self, script: str, env: dict[str, str], port: int, log_path: Path, *, ready_path: str = "/readyz"
    ) -> None:
        self.script = script
        self.env = {**env, "FERRY_HTTP_PORT": str(port)}
        self.port = port
        self.log_path = log_path
        self.ready_path = ready_path
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self._running().pid

    def start(self, *args: str) -> ServiceProcess:
        """Start the script (with `args`, e.g. `migrate`); output is appended to the log file."""
        if self.process is not None and self.process.poll() is None:
            raise RuntimeError(f"{self.script} is already running (pid {self.process.pid})")
        executable = BIN / self.script
        if not executable.exists():
            raise FileNotFoundError(f"no console script {executable}: is the package installed (uv sync)?")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._close_log()
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [str(executable), *args],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a signal from the terminal (Ctrl-C) stays with pytest
        )
        return self

    def wait_ready(self, timeout: float = 30) -> None:
        """Poll `ready_path` until it answers 200; ServiceFailed if the process exits or time runs out."""
        process = self._running()
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        with httpx.Client(timeout=2) as client:
            while time.monotonic() < deadline:
                if process.poll() is not None:
                    raise ServiceFailed(self._report(f"exited with code {process.returncode} before it was ready"))
                try:
                    response = client.get(f"{self.url}{self.ready_path}")
                except httpx.HTTPError as exc:
                    last = f"{type(exc).__name__}: {exc}"
                else:
                    if response.status_code == 200:
                        return
                    last = f"{response.status_code} {response.text[:300]}"
                time.sleep(0.1)
        raise ServiceFailed(self._report(f"not ready after {timeout:g} s (last {self.ready_path}: {last})"))

    def kill(self, signal: Signals = SIGKILL, *, wait: bool = True) -> None:
        """Send `signal` (SIGKILL unless told otherwise) and, unless `wait=False`, wait for the exit."""
        process = self._running()
        if process.poll() is None:
            process.send_signal(signal)
        if wait:
            process.wait(timeout=30)
            self._close_log()

    def terminate(self, timeout: float = 30) -> int:
        """SIGTERM, wait up to `timeout` for a clean exit (then SIGKILL); the exit code."""
        process = self._running()
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=30)
        self._close_log()
        return process.returncode

    def wait(self, timeout: float | None = 60) -> int:
        """Wait for the process to exit by itself (e.g. after `migrate`); its exit code."""
        code = self._running().wait(timeout=timeout)
        self._close_log()
        return code

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def logs(self) -> str:
        """Everything the process has written so far."""
        if not self.log_path.exists():
            return ""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        """Terminate if still running; safe to call more than once."""
        if self.alive():
            self.terminate()
        self._close_log()

    def _running(self) -> subprocess.Popen[bytes]:
        if self.process is None:
            raise RuntimeError(f"{self.script} was never started")
        return self.process

    def _report(self, what: str, lines: int = 60) -> str:
        tail = "\n".join(self.logs().splitlines()[-lines:])
        return f"{self.script} on port {self.port} {what}; last lines of {self.log_path}:\n{tail}"

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


@contextmanager
def running_service(
    script: str, infra: Infra, tmp_path: Path, *, ready_timeout: float = 30, **env: str
) -> Iterator[ServiceProcess]:
    """`script` started on a free port with the test's servers (and `env`), ready; stopped at exit."""
    port = free_port()
    service = ServiceProcess(script, infra.env(**env), port, tmp_path / f"{script}-{port}.log")
    service.start()
    try:
        service.wait_ready(ready_timeout)
        yield service
    finally:
        service.stop()
