"""The sandbox's REST resources: path -> answer, with GitHub's pagination, errors and media types.

Rate limits, auth and faults are applied around these by `ferry_sandbox.github`; here only
what the resource itself says (including 404 and 422 bodies).
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from ferry_sandbox import refs
from ferry_sandbox.config import RepoConfig
from ferry_sandbox.data import HTML, Pull, RepoData, repo_object, sha, user

DOCS = "https://docs.github.com/rest"
RAW_TYPES = ("application/vnd.github.raw", "application/vnd.github.v3.raw", "application/vnd.github.raw+json")
_STATES = ("open", "closed", "all")
_SORTS = ("created", "updated", "popularity", "long-running")
_REPO = r"(?:repos/(?P<owner>[^/]+)/(?P<name>[^/]+)|repositories/(?P<rid>\d+))"
_ROUTES = [
    (re.compile(rf"^{_REPO}$"), "repo"),
    (re.compile(rf"^{_REPO}/pulls$"), "pulls"),
    (re.compile(rf"^{_REPO}/pulls/(?P<number>\d+)$"), "pull"),
    (re.compile(rf"^{_REPO}/pulls/(?P<number>\d+)/(?P<sub>reviews|commits|files)$"), "pull_sub"),
    (re.compile(rf"^{_REPO}/readme$"), "readme"),
    (re.compile(rf"^{_REPO}/contents(?:/(?P<path>.*))?$"), "contents"),
    *refs.ROUTES,
]


@dataclass
class Answer:
    """A resource's answer before rate-limit headers and the ETag are added."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None  # set for raw media types; `body` is then unused

    encoded: bytes | None = field(default=None, repr=False)

    def payload(self) -> bytes:
        """The bytes sent: the raw content, or the body as compact JSON (encoded once)."""
        if self.raw is not None:
            return self.raw
        if self.encoded is None:
            self.encoded = json.dumps(self.body, separators=(",", ":")).encode()
        return self.encoded


def error(status: int, message: str, **extra: Any) -> Answer:
    return Answer(status, {"message": message, "documentation_url": DOCS, "status": str(status), **extra})


def not_found() -> Answer:
    return error(404, "Not Found")


def invalid(field_name: str, value: str) -> Answer:
    errors = [{"resource": "PullRequest", "field": field_name, "code": "invalid", "value": value}]
    return error(422, "Validation Failed", errors=errors)


class Resources:
    """Serves the generated repositories (rebuilt when the config's repositories change)."""

    def __init__(self, repos: list[RepoConfig], seed: int) -> None:
        self.repos = [RepoData(r, seed) for r in repos]

    def _find(self, match: re.Match[str], login: str | None) -> RepoData | None:
        for data in self.repos:
            repo = data.repo
            if match["rid"] is not None:
                hit = str(repo.repo_id) == match["rid"]
            else:
                hit = repo.full_name.lower() == f"{match['owner']}/{match['name']}".lower()
            if hit:
                visible = repo.visible_to is None or (login is not None and login in repo.visible_to)
                return data if visible else None  # GitHub answers 404, not 403, for what you may not see
        return None

    def answer(self, path: str, query: dict[str, str], accept: str, login: str | None, api: str) -> Answer:
        path = path.strip("/")
        if path == "user":
            return user_answer(login, api)
        for pattern, kind in _ROUTES:
            match = pattern.match(path)
            if match is None:
                continue
            data = self._find(match, login)
            if data is None:
                return not_found()
            return self._dispatch(kind, data, match, query, accept, api)
        return not_found()

    def _dispatch(self, kind: str, data: RepoData, match: re.Match[str], query: dict[str, str], accept: str,
                  api: str) -> Answer:
        rid = data.repo.repo_id
        if kind == "repo":
            return Answer(200, repo_object(data.repo, api))
        if kind == "pulls":
            return list_pulls(data, query, api)
        if kind in ("matching_refs", "ref"):
            return ref_answer(data, kind, match, api)
        if kind in ("readme", "contents"):
            path = "README.md" if kind == "readme" else (match["path"] or "")
            return contents(data, path, accept, api, query.get("ref"))
        pull = data.by_number.get(int(match["number"]))
        if pull is None:
            return not_found()
        if kind == "pull":
            return Answer(200, pull.detail(api))
        sub = match["sub"]
        items = getattr(pull, sub)(api)
        return paginate(items, query, api, f"repositories/{rid}/pulls/{pull.number}/{sub}")


def user_answer(login: str | None, api: str) -> Answer:
    if login is None:
        return error(401, "Requires authentication")
    return Answer(200, {**user(login, api), "name": login.replace("-", " ").title(), "public_repos": 3})


def _sort_key(sort: str) -> Any:
    if sort == "updated":
        return lambda p: (p.updated, p.number)
    if sort == "popularity":
        return lambda p: (p.comments, p.number)
    if sort == "long-running":
        return lambda p: ((p.updated - p.created).total_seconds(), p.number)
    return lambda p: (p.created, p.number)


def list_pulls(data: RepoData, query: dict[str, str], api: str) -> Answer:
    state = query.get("state", "open")
    sort = query.get("sort", "created")
    if state not in _STATES:
        return invalid("state", state)
    if sort not in _SORTS:
        return invalid("sort", sort)
    default_direction = "desc" if sort == "created" or "sort" not in query else "asc"
    direction = query.get("direction", default_direction)
    if direction not in ("asc", "desc"):
        return invalid("direction", direction)
    pulls: list[Pull] = [p for p in data.pulls if state == "all" or p.state == state]
    if "base" in query:
        pulls = [p for p in pulls if query["base"] == data.repo.default_branch]
    pulls.sort(key=_sort_key(sort), reverse=direction == "desc")
    page = paginate(pulls, query, api, f"repositories/{data.repo.repo_id}/pulls")
    page.body = [p.summary(api) for p in page.body]  # render only the page asked for
    return page


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def paginate(items: list[Any], query: dict[str, str], api: str, link_path: str) -> Answer:
    """One page of `items` with GitHub's Link header (its URLs use the /repositories/{id} form)."""
    per_page = min(max(_int(query.get("per_page"), 30), 1), 100)
    page = max(_int(query.get("page"), 1), 1)
    last = max(1, -(-len(items) // per_page))
    chunk = items[(page - 1) * per_page: page * per_page]
    headers: dict[str, str] = {}
    if last > 1 or page > 1:
        def url(n: int) -> str:
            return f"{api}/{link_path}?{urlencode({**query, 'per_page': str(per_page), 'page': str(n)})}"

        rels: list[tuple[str, int]] = []
        if page > 1:
            rels.append(("prev", min(page - 1, last)))
        if page < last:
            rels += [("next", page + 1), ("last", last)]
        if page > 1:
            rels.append(("first", 1))
        headers["link"] = ", ".join(f'<{url(n)}>; rel="{rel}"' for rel, n in rels)
    return Answer(200, chunk, headers)


def wrap64(data: bytes) -> str:
    """Base64 wrapped every 60 characters, as GitHub's contents API sends it."""
    text = base64.b64encode(data).decode()
    return "".join(text[i: i + 60] + "\n" for i in range(0, len(text), 60))


def _entry(data: RepoData, path: str, api: str, kind: str, size: int) -> dict[str, Any]:
    full, ref = data.repo.full_name, data.repo.default_branch
    digest = sha(full, path, kind)
    url = f"{api}/repos/{full}/contents/{path}?ref={ref}"
    html = f"{HTML}/{full}/{'blob' if kind == 'file' else 'tree'}/{ref}/{path}"
    git = f"{api}/repos/{full}/git/{'blobs' if kind == 'file' else 'trees'}/{digest}"
    download = f"https://raw.githubusercontent.com/{full}/{ref}/{path}" if kind == "file" else None
    return {"type": kind, "name": path.rsplit("/", 1)[-1], "path": path, "sha": digest, "size": size, "url": url,
            "html_url": html, "git_url": git, "download_url": download,
            "_links": {"self": url, "git": git, "html": html}}


def ref_answer(data: RepoData, kind: str, match: re.Match[str], api: str) -> Answer:
    """`git/matching-refs/{heads|tags}/{prefix}` (a list, maybe empty) or `git/ref/...` (one, or 404)."""
    prefix, heads_or_tags = match["prefix"] or "", match["kind"]
    names = refs.refs_of(data.repo, heads_or_tags)
    if kind == "ref":
        return Answer(200, refs.ref_object(data.repo, heads_or_tags, prefix, api)) if prefix in names else not_found()
    return Answer(200, [refs.ref_object(data.repo, heads_or_tags, n, api) for n in names if n.startswith(prefix)])


def contents(data: RepoData, path: str, accept: str, api: str, ref: str | None = None) -> Answer:
    """A file (base64 JSON, or raw bytes for the raw media type) or a directory listing, on `ref`."""
    files = refs.files_at(data.repo, data.files(), ref)
    if files is None:
        return error(404, f"No commit found for the ref {ref}")
    path = path.strip("/")
    if path in files:
        raw = files[path].encode()
        if any(t in accept for t in RAW_TYPES):
            return Answer(200, raw=raw, headers={"content-type": "application/vnd.github.raw; charset=utf-8"})
        body = {**_entry(data, path, api, "file", len(raw)), "content": wrap64(raw), "encoding": "base64"}
        return Answer(200, body)
    prefix = f"{path}/" if path else ""
    children: dict[str, dict[str, Any]] = {}
    for name, text in sorted(files.items()):
        if name.startswith(prefix):
            head, _, rest = name[len(prefix):].partition("/")
            child = prefix + head
            children.setdefault(child, _entry(data, child, api, "dir" if rest else "file", 0 if rest else len(text)))
    return Answer(200, list(children.values())) if children else not_found()
