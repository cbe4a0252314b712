"""`ferry-sandbox`: serve the fake GitHub API over HTTP with uvicorn (and the fake Peloton API under /peloton).

    ferry-sandbox [--host 127.0.0.1] [--port 8765] [--config sandbox.json] [--print-config]

Port: --port, else FERRY_SANDBOX_PORT, else 8765. Config: --config FILE, else
FERRY_SANDBOX_CONFIG (a file path or inline JSON), else the built-in default (accounts
octo-alice, octo-bob, octo-carol; repositories posthog/posthog with 250 pull requests,
posthog/posthog-js, ferry-demo/tiny). `--print-config` prints the config in use, tokens
included (they are the sandbox's own fake tokens), and exits.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import uvicorn

from ferry_sandbox.config import SandboxConfig, default_config
from ferry_sandbox.github import create_app
from ferry_sandbox.peloton import PELOTON_PREFIX, create_peloton_app

DEFAULT_PORT = 8765


def load_config(source: str | None) -> SandboxConfig:
    """A config from a file path or inline JSON; the default config when `source` is empty."""
    if not source:
        return default_config()
    text = source if source.lstrip().startswith("{") else Path(source).read_text()
    return SandboxConfig.model_validate(json.loads(text))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="ferry-sandbox", description="A fake GitHub REST API.")
    parser.add_argument("--host", default=os.environ.get("FERRY_SANDBOX_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("FERRY_SANDBOX_PORT", DEFAULT_PORT)))
    parser.add_argument("--config", default=os.environ.get("FERRY_SANDBOX_CONFIG"),
                        help="JSON file or inline JSON (SandboxConfig)")
    parser.add_argument("--print-config", action="store_true", help="print the config in use and exit")
    args = parser.parse_args(argv)
    config = load_config(args.config)
    if args.print_config:
        print(config.model_dump_json(indent=2))
        return
    app = create_app(config)
    app.mount(PELOTON_PREFIX, create_peloton_app())  # the fake Peloton API, beside GitHub's
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
