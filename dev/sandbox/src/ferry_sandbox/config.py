"""The sandbox's configuration: accounts and their tokens, repositories, and injected faults.

A config is plain JSON (a pydantic model), given to `create_app` or read from a file by
`ferry-sandbox --config`, and changed at run time with `POST /_sandbox/config`.
"""

from __future__ import annotations

import zlib
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


def stable_id(text: str, low: int = 1_000_000, span: int = 90_000_000) -> int:
    """A deterministic positive id for a name (same on every run and every machine)."""
    return low + zlib.crc32(text.encode()) % span


class AccountConfig(_Model):
    """One GitHub account: its tokens share one primary quota, as on GitHub."""

    login: str = Field(description="The account's login (what GET /user answers).")
    id: int | None = Field(None, description="Numeric user id; derived from the login when omitted.")
    tokens: list[str] = Field(description="Tokens that authenticate as this account.")
    limit: int = Field(5000, ge=0, description="Primary quota: requests per window.")
    window_s: float = Field(3600.0, gt=0, description="Length of the quota window in seconds.")

    @property
    def user_id(self) -> int:
        return self.id if self.id is not None else stable_id("user:" + self.login)


class RepoConfig(_Model):
    """One repository with `pulls` generated pull requests and a few files."""

    owner: str
    name: str
    id: int | None = Field(None, description="Repository id (for /repositories/{id}); derived when omitted.")
    pulls: int = Field(250, ge=0, description="How many pull requests to generate.")
    default_branch: str = "main"
    files: dict[str, str] = Field(
        default_factory=dict, description="path -> text; README.md is generated when not given."
    )
    branches: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="Other branches: name -> their files (path -> text)."
    )
    tags: dict[str, dict[str, str]] = Field(default_factory=dict, description="Tags: name -> their files.")
    visible_to: list[str] | None = Field(
        None, description="Logins allowed to see this (private) repository; others get 404. None: public."
    )

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    @property
    def repo_id(self) -> int:
        return self.id if self.id is not None else stable_id("repo:" + self.full_name.lower())


class Faults(_Model):
    """Switches that make the sandbox misbehave the way GitHub sometimes does."""

    latency_ms: float = Field(0.0, ge=0, description="Added to every API request.")
    error_rate: float = Field(0.0, ge=0, le=1, description="Fraction of requests answered `error_status`.")
    fail_next: int = Field(0, ge=0, description="Answer the next N API requests with `error_status`.")
    error_status: int = Field(502, ge=500, le=599, description="Status of injected server errors.")
    secondary_every: int | None = Field(
        None, ge=1, description="Every Nth request of an account trips a secondary limit (None: never)."
    )
    secondary_pause_s: float = Field(60.0, gt=0, description="How long a tripped secondary limit lasts.")
    secondary_retry_after: bool = Field(True, description="Send Retry-After with secondary-limit answers.")
    secondary_status: Literal[403, 429] = Field(403, description="Status of secondary-limit answers.")
    revoked_tokens: list[str] = Field(default_factory=list, description="Tokens answered 401 Bad credentials.")


class SandboxConfig(_Model):
    """Everything the sandbox serves and how it behaves."""

    accounts: list[AccountConfig] = Field(default_factory=list)
    repos: list[RepoConfig] = Field(default_factory=list)
    faults: Faults = Field(default_factory=Faults)
    seed: int = Field(7, description="Seed of the generated data (same seed, same pull requests).")
    anonymous_limit: int = Field(60, ge=0, description="Quota of unauthenticated requests per window.")
    anonymous_window_s: float = Field(3600.0, gt=0)

    @model_validator(mode="after")
    def _tokens_unique(self) -> SandboxConfig:
        seen: set[str] = set()
        for account in self.accounts:
            for token in account.tokens:
                if token in seen:
                    raise ValueError(f"a token is listed under two accounts (account {account.login})")
                seen.add(token)
        return self

    def merged(self, patch: dict[str, Any]) -> SandboxConfig:
        """This config with `patch` applied: `faults` merges field by field, other keys replace."""
        data = self.model_dump()
        for key, value in patch.items():
            if key == "faults" and isinstance(value, dict):
                data["faults"] = {**data["faults"], **value}
            else:
                data[key] = value
        return SandboxConfig.model_validate(data)

    def public_dump(self) -> dict[str, Any]:
        """The config without token values (only how many each account has)."""
        data = self.model_dump()
        for account in data["accounts"]:
            account["tokens"] = len(account["tokens"])
        data["faults"]["revoked_tokens"] = len(data["faults"]["revoked_tokens"])
        return data


def default_config() -> SandboxConfig:
    """What `ferry-sandbox` serves without --config: three accounts and a few repositories.

    GitHub's quota (5,000 an hour) paced evenly allows ~1.4 requests/s per account: a demo
    crawl of 250 pull requests would take minutes. The demo accounts get 5,000 per 10 minutes
    instead; `--config` with `window_s: 3600` gives GitHub's real pace.
    """
    from ferry_sandbox.refs import demo_repos  # refs builds on this module's RepoConfig

    demo_tokens = {
        "octo-alice": "ghp_sandboxAlice000000000000000000000001",
        "octo-bob": "ghp_sandboxBob00000000000000000000000002",
        "octo-carol": "ghp_sandboxCarol000000000000000000000003",
    }
    return SandboxConfig(
        accounts=[AccountConfig(login=login, tokens=[token], window_s=600.0) for login, token in demo_tokens.items()],
        repos=[
            RepoConfig(owner="posthog", name="posthog", pulls=250),
            RepoConfig(owner="posthog", name="posthog-js", pulls=120),
            RepoConfig(owner="ferry-demo", name="tiny", pulls=7),
            *demo_repos(),  # what the demo assets point at (ferry_sandbox.refs)
        ],
    )
