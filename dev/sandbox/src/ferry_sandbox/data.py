"""Deterministic fake GitHub data: pull requests with their reviews, commits and files.

Everything is derived from (seed, repository, pull number) with a seeded `random.Random`,
so the same config always serves byte-identical answers (stable ETags across restarts).
Objects carry GitHub's field names; list items omit the detail-only fields as GitHub does.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

from ferry_sandbox.config import RepoConfig, stable_id

HTML = "https://github.com"
_EPOCH = datetime(2022, 1, 3, 9, 0, tzinfo=UTC)
_NOW = datetime(2025, 6, 30, 18, 0, tzinfo=UTC)  # the dataset's "today": nothing is later
_FIRST = [
    "ada", "linus", "grace", "ken", "barbara", "dennis", "margaret", "guido", "radia", "alan", "frances", "edsger",
]
_LAST = ["dev", "codes", "hacks", "ops", "io", "eng", "builds", "ships"]
_VERBS = ["Fix", "Add", "Refactor", "Improve", "Remove", "Update", "Speed up", "Document", "Test", "Rework"]
_THINGS = [
    "session recording export", "feature flag evaluation", "funnel query", "cohort calculation",
    "ingestion retry", "billing webhook", "insight caching", "dashboard filters", "plugin server",
    "person merge", "batch exports", "toolbar auth", "query runner", "event definitions",
]
_DIRS = ["frontend/src/scenes", "posthog/api", "posthog/models", "plugin-server/src", "ee/clickhouse", "docs"]
_EXTS = [".py", ".ts", ".tsx", ".sql", ".md", ".json"]
_REVIEW_STATES = ["APPROVED", "APPROVED", "COMMENTED", "CHANGES_REQUESTED", "COMMENTED"]


def iso(moment: datetime) -> str:
    """GitHub's timestamp format: 2024-05-01T12:00:00Z."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def sha(*parts: object) -> str:
    return hashlib.sha1(":".join(map(str, parts)).encode(), usedforsecurity=False).hexdigest()


def user(login: str, api: str) -> dict[str, Any]:
    """A user object as GitHub nests it in pull requests, reviews and commits."""
    uid = stable_id("user:" + login)
    return {
        "login": login, "id": uid, "node_id": f"U_kgDO{uid:08d}",
        "avatar_url": f"https://avatars.githubusercontent.com/u/{uid}?v=4", "gravatar_id": "",
        "url": f"{api}/users/{login}", "html_url": f"{HTML}/{login}", "type": "User", "site_admin": False,
    }


def repo_object(repo: RepoConfig, api: str) -> dict[str, Any]:
    """The repository object (GET /repos/{o}/{r}, and nested in head/base)."""
    full = repo.full_name
    return {
        "id": repo.repo_id, "node_id": f"R_kgDO{repo.repo_id:08d}", "name": repo.name, "full_name": full,
        "private": repo.visible_to is not None, "owner": user(repo.owner, api), "html_url": f"{HTML}/{full}",
        "description": f"Sandbox copy of {full}", "fork": False, "url": f"{api}/repos/{full}",
        "pulls_url": f"{api}/repos/{full}/pulls{{/number}}", "default_branch": repo.default_branch,
        "visibility": "private" if repo.visible_to is not None else "public",
        "created_at": iso(_EPOCH - timedelta(days=400)), "updated_at": iso(_NOW), "pushed_at": iso(_NOW),
    }


@dataclass(frozen=True)
class Pull:
    """One generated pull request's facts; the JSON shapes are built on demand."""

    repo: RepoConfig
    seed: int
    number: int
    created: datetime
    state: str  # open | closed
    merged: bool
    closed: datetime | None
    updated: datetime
    author: str
    title: str
    draft: bool
    comments: int
    _extra: dict[Any, Any] = field(default_factory=dict, compare=False)  # renders kept for speed

    def rng(self, what: str) -> random.Random:
        return random.Random(f"{self.seed}:{self.repo.full_name}:{self.number}:{what}")  # noqa: S311 - data, not crypto

    def _branch(self, api: str, which: str) -> dict[str, Any]:
        owner_login = self.author if which == "head" else self.repo.owner
        ref = f"{self.author}/pr-{self.number}" if which == "head" else self.repo.default_branch
        return {
            "label": f"{owner_login}:{ref}", "ref": ref, "sha": sha(self.repo.full_name, self.number, which),
            "user": user(owner_login, api), "repo": repo_object(self.repo, api),
        }

    def summary(self, api: str) -> dict[str, Any]:
        """The pull request as the list endpoint shows it (built once per API base URL)."""
        cached: dict[str, Any] | None = self._extra.get(("summary", api))
        if cached is None:
            cached = self._extra[("summary", api)] = self._summary(api)
        return cached

    def _summary(self, api: str) -> dict[str, Any]:
        full, n = self.repo.full_name, self.number
        base = f"{api}/repos/{full}"
        merged_at = iso(self.closed) if self.merged and self.closed else None
        return {
            "url": f"{base}/pulls/{n}", "id": self.repo.repo_id * 10_000 + n, "node_id": f"PR_kwDO{n:010d}",
            "html_url": f"{HTML}/{full}/pull/{n}", "diff_url": f"{HTML}/{full}/pull/{n}.diff",
            "patch_url": f"{HTML}/{full}/pull/{n}.patch", "issue_url": f"{base}/issues/{n}",
            "commits_url": f"{base}/pulls/{n}/commits", "review_comments_url": f"{base}/pulls/{n}/comments",
            "review_comment_url": f"{base}/pulls/comments{{/number}}", "comments_url": f"{base}/issues/{n}/comments",
            "statuses_url": f"{base}/statuses/{sha(full, n, 'head')}",
            "number": n, "state": self.state, "locked": False, "title": self.title, "user": user(self.author, api),
            "body": f"## Summary\n\n{self.title}.\n\nCloses #{max(1, n - 3)}.", "labels": [], "milestone": None,
            "active_lock_reason": None, "created_at": iso(self.created), "updated_at": iso(self.updated),
            "closed_at": iso(self.closed) if self.closed else None, "merged_at": merged_at,
            "merge_commit_sha": sha(full, n, "merge") if self.state == "closed" or n % 2 else None,
            "assignee": None, "assignees": [], "requested_reviewers": [], "requested_teams": [],
            "head": self._branch(api, "head"), "base": self._branch(api, "base"),
            "_links": {
                "self": {"href": f"{base}/pulls/{n}"}, "html": {"href": f"{HTML}/{full}/pull/{n}"},
                "commits": {"href": f"{base}/pulls/{n}/commits"}, "comments": {"href": f"{base}/issues/{n}/comments"},
            },
            "author_association": "CONTRIBUTOR", "auto_merge": None, "draft": self.draft,
        }

    def detail(self, api: str) -> dict[str, Any]:
        """The pull request as GET /pulls/{n} shows it (with counts matching the sub-resources)."""
        files = self.files(api)
        merged_by = user(self.repo.owner, api) if self.merged else None
        return {
            **self.summary(api), "merged": self.merged, "mergeable": None if self.state == "closed" else True,
            "rebaseable": None if self.state == "closed" else True, "mergeable_state": "clean",
            "merged_by": merged_by, "comments": self.comments, "review_comments": len(self.reviews(api)),
            "maintainer_can_modify": False, "commits": len(self.commits(api)),
            "additions": sum(f["additions"] for f in files), "deletions": sum(f["deletions"] for f in files),
            "changed_files": len(files),
        }

    def reviews(self, api: str) -> list[dict[str, Any]]:
        rng = self.rng("reviews")
        full, n = self.repo.full_name, self.number
        out = []
        for i in range(rng.choice([0, 1, 1, 2, 2, 3, 4, 6])):
            rid = self.repo.repo_id * 100_000 + n * 10 + i
            when = self.created + timedelta(hours=2 + i * rng.randint(1, 20))
            out.append({
                "id": rid, "node_id": f"PRR_kwDO{rid:012d}", "user": user(_login(rng), api),
                "body": rng.choice(["LGTM", "", "A few nits inline.", "Please add a test for the edge case."]),
                "state": rng.choice(_REVIEW_STATES), "html_url": f"{HTML}/{full}/pull/{n}#pullrequestreview-{rid}",
                "pull_request_url": f"{api}/repos/{full}/pulls/{n}", "author_association": "MEMBER",
                "submitted_at": iso(min(when, self.updated)), "commit_id": sha(full, n, "commit", 0),
                "_links": {"html": {"href": f"{HTML}/{full}/pull/{n}#pullrequestreview-{rid}"},
                           "pull_request": {"href": f"{api}/repos/{full}/pulls/{n}"}},
            })
        return out

    def commits(self, api: str) -> list[dict[str, Any]]:
        rng = self.rng("commits")
        full, n = self.repo.full_name, self.number
        out: list[dict[str, Any]] = []
        for i in range(rng.choice([1, 1, 2, 3, 4, 6, 9, 14])):
            digest = sha(full, n, "commit", i)
            parent = out[-1]["sha"] if out else sha(full, n, "base")
            when = iso(self.created - timedelta(minutes=30 * (i + 1)))
            person = {"name": self.author.title(), "email": f"{self.author}@users.noreply.github.com", "date": when}
            out.append({
                "sha": digest, "node_id": f"C_kwDO{digest[:16]}", "url": f"{api}/repos/{full}/commits/{digest}",
                "html_url": f"{HTML}/{full}/commit/{digest}",
                "comments_url": f"{api}/repos/{full}/commits/{digest}/comments",
                "commit": {
                    "author": person, "committer": person, "message": f"{self.title} (part {i + 1})",
                    "tree": {"sha": sha(digest, "tree"), "url": f"{api}/repos/{full}/git/trees/{sha(digest, 'tree')}"},
                    "url": f"{api}/repos/{full}/git/commits/{digest}", "comment_count": 0,
                    "verification": {"verified": False, "reason": "unsigned", "signature": None, "payload": None},
                },
                "author": user(self.author, api), "committer": user(self.author, api),
                "parents": [{"sha": parent, "url": f"{api}/repos/{full}/commits/{parent}"}],
            })
        return out

    def files(self, api: str) -> list[dict[str, Any]]:
        if "files" in self._extra:
            return list(self._extra["files"])
        rng = self.rng("files")
        full = self.repo.full_name
        count = rng.randint(101, 160) if rng.random() < 0.03 else rng.choice([1, 1, 2, 3, 4, 5, 8, 12, 20, 35])
        out = []
        for i in range(count):
            name = f"{rng.choice(_DIRS)}/{rng.choice(_THINGS).replace(' ', '_')}_{i}{rng.choice(_EXTS)}"
            status = rng.choice(["modified"] * 6 + ["added"] * 2 + ["removed", "renamed"])
            adds = 0 if status == "removed" else rng.randint(0, 80)
            dels = 0 if status == "added" else rng.randint(0, 40)
            blob = sha(full, self.number, name)
            patch_lines = [f"@@ -1,{dels} +1,{adds} @@"] + [f"-old line {k}" for k in range(min(dels, 3))]
            patch_lines += [f"+new line {k}" for k in range(min(adds, 3))]
            entry: dict[str, Any] = {
                "sha": blob, "filename": name, "status": status, "additions": adds, "deletions": dels,
                "changes": adds + dels, "blob_url": f"{HTML}/{full}/blob/{blob}/{name}",
                "raw_url": f"{HTML}/{full}/raw/{blob}/{name}",
                "contents_url": f"{api}/repos/{full}/contents/{name}?ref={blob}", "patch": "\n".join(patch_lines),
            }
            if status == "renamed":
                entry["previous_filename"] = name.replace("_", "-", 1)
            out.append(entry)
        self._extra["files"] = out
        return list(out)


def _login(rng: random.Random) -> str:
    return f"{rng.choice(_FIRST)}-{rng.choice(_LAST)}"


class RepoData:
    """The generated pull requests of one repository, oldest first."""

    def __init__(self, repo: RepoConfig, seed: int) -> None:
        self.repo = repo
        self.seed = seed

    @cached_property
    def pulls(self) -> list[Pull]:
        rng = random.Random(f"{self.seed}:{self.repo.full_name}")  # noqa: S311 - data, not crypto
        count = self.repo.pulls
        span = (_NOW - timedelta(days=3) - _EPOCH).total_seconds()
        out, number = [], 0
        for i in range(count):
            number += rng.choice([1, 1, 1, 2, 3])  # issues share the numbering, so there are gaps
            created = _EPOCH + timedelta(seconds=span * (i + rng.random() * 0.9) / max(count, 1))
            recent = i >= count * 0.9
            roll = rng.random()
            state, merged = ("open", False) if roll < (0.55 if recent else 0.04) else ("closed", roll < 0.8)
            closed = None if state == "open" else min(created + timedelta(hours=rng.randint(1, 24 * 21)), _NOW)
            updated = min((closed or created) + timedelta(minutes=rng.randint(0, 60 * 24 * 5)), _NOW)
            title = f"{rng.choice(_VERBS)} {rng.choice(_THINGS)}"
            out.append(Pull(self.repo, self.seed, number, created, state, merged, closed, updated,
                            _login(rng), title, state == "open" and rng.random() < 0.15, rng.randint(0, 12)))
        return out

    @cached_property
    def by_number(self) -> dict[int, Pull]:
        return {p.number: p for p in self.pulls}

    def readme(self) -> str:
        lines = [f"# {self.repo.name}", "", f"Sandbox copy of {self.repo.full_name}: {len(self.pulls)} pull requests.",
                 "", "![logo](docs/logo.png)", "", "<!-- hide -->", "Hidden from the rendered page.",
                 "<!-- endhide -->", "", "## Getting started", "", "Run `make dev`."]
        return "\n".join(lines) + "\n"

    def files(self) -> dict[str, str]:
        return {"README.md": self.readme(), **self.repo.files}
