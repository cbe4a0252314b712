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
from starlette.applications import Starlette
from starlette.routing import Mount

from ferry_sandbox.config import SandboxConfig, default_config
from ferry_sandbox.content import CONTENT_PREFIX, create_content_app
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
    uvicorn.run(create_sandbox_app(config), host=args.host, port=args.port, log_level="warning")


def create_sandbox_app(config: SandboxConfig) -> Starlette:
    """GitHub's fake at `/`, Peloton's at `/peloton`, the content fakes at `/content`. Those mounts come
    first: GitHub's app answers every path (its catch-all route), so mounted inside it their requests
    would reach GitHub's."""
    return Starlette(routes=[Mount(PELOTON_PREFIX, create_peloton_app()), Mount(CONTENT_PREFIX, create_content_app()),
                             Mount("/", create_app(config))])


if __name__ == "__main__":
    main()
