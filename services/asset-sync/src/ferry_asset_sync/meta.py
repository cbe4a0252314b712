"""What a pulled README's front matter says about its asset: the asset fields (columns) to update,
as the registry maps them (a LearnPack configuration's are in `learnpack.py`).

Front matter is the YAML between the `---` lines that open a README (found by the same CommonMark
parser as the cleaning, so a `---` rule further down is never taken for it).
"""

from __future__ import annotations

from typing import Any

import yaml

from ferry_asset_sync.cleaning import commonmark
from ferry_asset_sync.errors import AssetError

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def front_matter(raw: str, path: str) -> dict[str, Any]:
    """The README's front matter as a mapping ({} when it has none); AssetError when it is not YAML."""
    tokens = commonmark().parse(raw)
    found = next((t for t in tokens if t.type == "front_matter"), None)
    if found is None:
        return {}
    try:
        data = yaml.safe_load(found.content)
    except yaml.YAMLError as exc:
        raise AssetError(f"Invalid front matter in {path}: {str(exc).splitlines()[0]}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise AssetError(f"Invalid front matter in {path}: expected key: value pairs, got {type(data).__name__}")
    return data


def as_text(value: Any) -> str | None:
    return None if value is None else str(value).strip()


def _flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    return True if text in _TRUE else False if text in _FALSE else None


def as_names(value: Any) -> list[str]:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    return []


def from_front_matter(meta: dict[str, Any]) -> dict[str, Any]:
    """Columns to update from front matter: title; excerpt, else description, else subtitle; slug;
    table_of_contents; video; authors; tags or technologies."""
    out: dict[str, Any] = {}
    if as_text(meta.get("title")):
        out["title"] = as_text(meta["title"])
    for key in ("excerpt", "description", "subtitle"):
        if as_text(meta.get(key)):
            out["description"] = as_text(meta[key])
            break
    if as_text(meta.get("slug")):
        out["slug"] = as_text(meta["slug"])
    if "table_of_contents" in meta and _flag(meta["table_of_contents"]) is not None:
        out["enable_table_of_content"] = _flag(meta["table_of_contents"])
    if as_text(meta.get("video")):
        out["intro_video_url"] = as_text(meta["video"])
    if meta.get("authors"):
        out["authors_username"] = ",".join(as_names(meta["authors"]))
    technologies = meta.get("tags") or meta.get("technologies")
    if technologies:
        out["technologies"] = as_names(technologies)
    return out
