"""Reading an asset's `readme_url`: `https://github.com/{org}/{repo}/blob/{branch}/{path}`.

A branch may itself hold slashes or dots (`feature/x`, `v1.0`), so `blob/feature/x/docs/README.md`
cannot be split by pattern alone: the segments after `blob/` are split against the repository's
actual refs (`split_ref`), the longest ref that matches winning, as git itself resolves them.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from ferry_asset_sync.errors import AssetError

GITHUB_HOSTS = frozenset({"github.com", "www.github.com"})


@dataclass(frozen=True)
class ReadmeURL:
    """A GitHub `readme_url`, taken apart; `after_blob` is None when it names no `blob/...`."""

    org: str
    repo: str
    after_blob: tuple[str, ...] | None

    @property
    def full_name(self) -> str:
        return f"{self.org}/{self.repo}"


def invalid_url(slug: str) -> AssetError:
    return AssetError(f"Missing or invalid URL on {slug}, it does not belong to github.com")


def parse(url: str | None, slug: str) -> ReadmeURL:
    """The URL's parts, or the registry's error for a missing or non-GitHub URL."""
    if not url or not url.strip():
        raise invalid_url(slug)
    parts = urlsplit(url.strip() if "://" in url else "https://" + url.strip())
    if parts.scheme not in ("http", "https") or (parts.hostname or "").lower() not in GITHUB_HOSTS:
        raise invalid_url(slug)
    segments = [unquote(s) for s in parts.path.split("/") if s]
    if len(segments) < 2:
        raise invalid_url(slug)
    org, repo = segments[0], segments[1].removesuffix(".git")
    if len(segments) >= 3 and segments[2] in ("blob", "tree"):
        rest = tuple(segments[3:])
        return ReadmeURL(org, repo, rest if rest else ())
    if len(segments) > 2:
        raise invalid_url(slug)
    return ReadmeURL(org, repo, None)


def split_ref(after_blob: tuple[str, ...], refs: set[str]) -> tuple[str, str] | None:
    """(ref, path) for the longest ref among `refs` that the segments start with, leaving a path."""
    for cut in range(len(after_blob) - 1, 0, -1):
        ref = "/".join(after_blob[:cut])
        if ref in refs:
            return ref, "/".join(after_blob[cut:])
    return None


def readme_dir(url: str) -> str:
    """`dirname(readme_url)` without its query: where relative images of the README live."""
    parts = urlsplit(url.strip())
    return parts._replace(path=posixpath.dirname(parts.path), query="", fragment="").geturl()


def learnpack_readme(base: str, lang: str) -> str:
    """`README.md` for en/us, else `README.<lang>.md`, in the folder `base` of the repository."""
    name = "README.md" if lang in ("en", "us") else f"README.{lang}.md"
    return posixpath.join(base, name) if base else name


LEARNPACK_CONFIGS = ("learn.json", ".learn/learn.json", "bc.json", ".learn/bc.json")
"""Where a LearnPack package keeps its configuration, in the order they are tried."""
