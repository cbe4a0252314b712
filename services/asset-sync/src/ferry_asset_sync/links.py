"""GitHub links in a README that only the asset's owner can open (docs/asset-sync.md, cleaning step 3).

Two rules, in this order, on the prose (code is set aside by the cleaning before they run):

1. a `raw.githubusercontent.com/...?token=...` link (a private file's raw link, with its access
   token) becomes the repository's `github.com/.../blob/...?raw=true` form: no token is ever
   published, whatever else is set;
2. with FERRY_ASSET_SYNC_INTERNAL_LINK_URL set and an asset that has an owner, as the registry's
   `replace_private_github_urls` does: every `https://github.com/...` or
   `https://raw.githubusercontent.com/...` URL (up to whitespace, `)`, `"`, `'` or `]`) that names a
   file (`github.com/{org}/{repo}/blob/{branch}/{path}` or
   `raw.githubusercontent.com/{org}/{repo}/{branch}/{path}`) of the asset's own repository (the org
   and repository of its readme_url) becomes `<internal link URL>?id=<asset id>&path=<path>`, which
   the registry serves with the owner's credentials. As in the registry the branch is the one
   segment after `blob/`; the path is taken without the URL's query (a `?raw=true` or `?token=`
   would otherwise end up inside `path=`), and a `#fragment` is kept at the end of the new link.
   Other repositories' links, and links to a repository's page, tree or issues, stay as written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from ferry_asset_sync.urls import GITHUB_HOSTS

_PRIVATE_RAW = re.compile(
    r"https://raw\.githubusercontent\.com/(?P<org>[\w.-]+)/(?P<repo>[\w.-]+)/(?P<rest>[^\s)\"'?#]+)"
    r"\?token=[\w.-]+"
)
# The registry's pattern; \x00 also ends a URL: it opens the cleaning's placeholder for code set aside.
_GITHUB_URL = re.compile(r"https://github\.com/[^\s)\"'\]\x00]+|https://raw\.githubusercontent\.com/[^\s)\"'\]\x00]+")


@dataclass(frozen=True)
class InternalLinks:
    """Where the registry serves an asset's private files: its internal-link URL, and the asset."""

    url: str
    """FERRY_ASSET_SYNC_INTERNAL_LINK_URL, e.g. `https://api.example.com/v1/registry/asset/internal-link`."""
    asset_id: int
    readme_url: str


def rewrite_token_links(text: str) -> tuple[str, int]:
    """Rule 1: raw links carrying a `?token=` become `blob/...?raw=true` links, without the token."""

    def public(m: re.Match[str]) -> str:
        return f"https://github.com/{m['org']}/{m['repo']}/blob/{m['rest']}?raw=true"

    return _PRIVATE_RAW.subn(public, text)


def _repository(url: str) -> tuple[str, str] | None:
    """(org, repo) of a github.com or raw.githubusercontent.com URL, lower-cased (GitHub's names are
    not case-sensitive); None for any other URL."""
    parts = urlsplit(url)
    if (parts.hostname or "").lower() not in (*GITHUB_HOSTS, "raw.githubusercontent.com"):
        return None
    segments = [s for s in parts.path.split("/") if s]
    return (segments[0].lower(), segments[1].lower().removesuffix(".git")) if len(segments) >= 2 else None


def _file_path(url: str) -> str | None:
    """The path in its repository of the file a blob or raw URL names; None when it names no file."""
    parts = urlsplit(url)
    segments = parts.path.split("/")  # "", org, repo, ...
    if (parts.hostname or "").lower() in GITHUB_HOSTS:
        if len(segments) < 6 or segments[3] != "blob":  # /org/repo/blob/branch/path...
            return None
        path = "/".join(segments[5:])
    else:  # raw.githubusercontent.com/org/repo/branch/path...
        path = "/".join(segments[4:]) if len(segments) >= 5 else ""
    return path or None


def internal_links(text: str, links: InternalLinks) -> tuple[str, int]:
    """Rule 2: the asset's own repository's file URLs become internal links; how many were."""
    own = _repository(links.readme_url)
    if own is None:
        return text, 0
    count = 0

    def one(found: re.Match[str]) -> str:
        nonlocal count
        url = found[0]
        path = _file_path(url)
        if path is None or _repository(url) != own:
            return url
        count += 1
        fragment = urlsplit(url).fragment
        return f"{links.url}?id={links.asset_id}&path={path}" + (f"#{fragment}" if fragment else "")

    return _GITHUB_URL.sub(one, text), count
