"""What a pulled asset's own files say about it: a README's front matter, a LearnPack package's
`learn.json` / `bc.json`. Each becomes the asset fields (columns) to update, as the registry maps them.

Front matter is the YAML between the `---` lines that open a README (found by the same CommonMark
parser as the cleaning, so a `---` rule further down is never taken for it).
"""

from __future__ import annotations

from typing import Any

import yaml
from markdown_it import MarkdownIt
from mdit_py_plugins.front_matter import front_matter_plugin

from ferry_asset_sync.errors import AssetError

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def front_matter(raw: str, path: str) -> dict[str, Any]:
    """The README's front matter as a mapping ({} when it has none); AssetError when it is not YAML."""
    tokens = MarkdownIt("commonmark").use(front_matter_plugin).parse(raw)
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


def _text(value: Any) -> str | None:
    return None if value is None else str(value).strip()


def _flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    return True if text in _TRUE else False if text in _FALSE else None


def _names(value: Any) -> list[str]:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    return []


def from_front_matter(meta: dict[str, Any]) -> dict[str, Any]:
    """Columns to update from front matter: title; excerpt, else description, else subtitle; slug;
    table_of_contents; video; authors; tags or technologies."""
    out: dict[str, Any] = {}
    if _text(meta.get("title")):
        out["title"] = _text(meta["title"])
    for key in ("excerpt", "description", "subtitle"):
        if _text(meta.get(key)):
            out["description"] = _text(meta[key])
            break
    if _text(meta.get("slug")):
        out["slug"] = _text(meta["slug"])
    if "table_of_contents" in meta and _flag(meta["table_of_contents"]) is not None:
        out["enable_table_of_content"] = _flag(meta["table_of_contents"])
    if _text(meta.get("video")):
        out["intro_video_url"] = _text(meta["video"])
    if meta.get("authors"):
        out["authors_username"] = ",".join(_names(meta["authors"]))
    technologies = meta.get("tags") or meta.get("technologies")
    if technologies:
        out["technologies"] = _names(technologies)
    return out


def _per_lang(value: Any, lang: str) -> str | None:
    """A LearnPack string, or its translation for `lang` (falling back to English, then the first)."""
    if isinstance(value, dict):
        for key in (lang, "us" if lang == "en" else "en", "en"):
            if _text(value.get(key)):
                return _text(value[key])
        return next((_text(v) for v in value.values() if _text(v)), None)
    return _text(value)


def from_learnpack(config: dict[str, Any], *, lang: str, asset_type: str, path: str) -> dict[str, Any]:
    """Columns to update from a LearnPack configuration; AssetError when it names no `preview`."""
    out: dict[str, Any] = {"config": config}
    title = _per_lang(config.get("title"), lang)
    if title:
        out["title"] = title
    description = _per_lang(config.get("description"), lang)
    if description:
        out["description"] = description
    if not _text(config.get("preview")):
        raise AssetError(f"Missing preview URL in {path}")
    out["preview"] = _text(config["preview"])
    if _text(config.get("difficulty")):
        out["difficulty"] = str(config["difficulty"]).strip().upper()
    duration = config.get("duration")
    if isinstance(duration, int | float) or (isinstance(duration, str) and duration.strip().isdigit()):
        out["duration"] = int(float(duration))
    video = config.get("video")
    if isinstance(video, dict):
        if _text(video.get("intro")):
            out["intro_video_url"] = _text(video["intro"])
        if _text(video.get("solution")):
            out["solution_video_url"] = _text(video["solution"])
    if config.get("technologies"):
        out["technologies"] = _names(config["technologies"])
    delivery = config.get("delivery")
    formats = delivery.get("formats") if isinstance(delivery, dict) else delivery
    if formats:
        out["delivery_formats"] = ",".join(_names(formats))
    if asset_type == "PROJECT" and _text(config.get("template_url")):
        out["template_url"] = _text(config["template_url"])
    return out
