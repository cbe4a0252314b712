"""A fake GitHub REST API for tests, benchmarks and `docker compose up` without real tokens."""

from ferry_sandbox.config import AccountConfig, Faults, RepoConfig, SandboxConfig, default_config
from ferry_sandbox.github import create_app

__all__ = ["AccountConfig", "Faults", "RepoConfig", "SandboxConfig", "create_app", "default_config"]
