"""A webhook receiver on loopback, as Slack's incoming webhooks behave: a JSON POST answered 200 `ok`,
or a 500 the first times it is told to fail."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Delivery:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    answered: int


@dataclass
class Receiver:
    port: int
    fail_first: int = 0
    """Each job's first `fail_first` POSTs are answered 500."""
    always: int | None = None
    """Answer every POST with this status (e.g. 410: a webhook revoked)."""
    delay_s: float = 0.0
    """How long each answer takes (so that two replicas' claims overlap a POST in flight)."""
    deliveries: list[Delivery] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def answer(self, path: str, headers: dict[str, str], raw: bytes) -> int:
        body = json.loads(raw)
        time.sleep(self.delay_s)
        with self._lock:
            seen = sum(1 for d in self.deliveries if d.body.get("job_id") == body.get("job_id"))
            code = self.always or (500 if seen < self.fail_first else 200)
            self.deliveries.append(Delivery(path, headers, body, code))
        return code

    def accepted(self) -> Counter[str]:
        """How many POSTs were answered 200, per job id."""
        with self._lock:
            return Counter(d.body["job_id"] for d in self.deliveries if d.answered == 200)

    def all(self) -> list[Delivery]:
        with self._lock:
            return list(self.deliveries)


@contextmanager
def receiver(**options: Any) -> Iterator[Receiver]:
    holder: list[Receiver] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            code = holder[0].answer(self.path, {k.lower(): v for k, v in self.headers.items()}, raw)
            payload = b"ok" if code == 200 else b"internal_error"
            self.send_response(code)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: the test reads the deliveries

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder.append(Receiver(server.server_address[1], **options))
    thread = threading.Thread(target=server.serve_forever, name="webhook-receiver", daemon=True)
    thread.start()
    try:
        yield holder[0]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
