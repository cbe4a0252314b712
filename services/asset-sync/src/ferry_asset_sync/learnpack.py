"""A LearnPack package's configuration (`learn.json` / `bc.json`) as the asset fields it sets, by the
registry's own rules for it (docs/asset-sync.md lists them). Applied at every pull that brings the
file, before the README is cleaned; the registry's cleaning has no configuration step.

Fields are the registry's Asset fields; one the assets table lacks is not written (`AssetTable`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ferry_asset_sync.errors import AssetError
from ferry_asset_sync.meta import as_names, as_text

ENGLISH = ("", "us", "en")
"""The languages whose assets take a configuration's plain-string title and description."""
ONLY_PROJECTS = "Only asset types projects can have templates"
_LOOM_EMBED = re.compile(r"(https?://www\.loom\.com/)embed(/.+)")


@dataclass(frozen=True)
class ConfigFields:
    """The columns a configuration sets, and what it said that is reported but not an error."""

    updates: dict[str, Any]
    warnings: tuple[str, ...] = field(default=())


def video_url(value: Any) -> str:
    """A video as a URL: a bare id is a YouTube video; a Loom embed link becomes its share link."""
    text = str(value).strip()
    if not re.search(r"https?://", text):
        return "https://www.youtube.com/watch?v=" + text
    return _LOOM_EMBED.sub(r"\1share\2", text)


def _translated(value: Any, lang: str, current: Any) -> str | None:
    """A title or description: a string replaces an English asset's, or one still empty; a
    per-language object gives the asset's language's, if it has one."""
    if isinstance(value, str):
        return value if lang in ENGLISH or not current else None
    if isinstance(value, dict) and lang in value:
        return as_text(value[lang])
    return None


def _for_lang(value: Any, lang: str) -> Any:
    """A per-language video: `en` and `us` stand for each other; None when the language has none."""
    if not isinstance(value, dict):
        return None
    choices = dict(value)
    if "en" in choices:
        choices["us"] = choices["en"]
    elif "us" in choices:
        choices["en"] = choices["us"]
    return choices.get(lang)


def _videos(config: dict[str, Any], lang: str, out: dict[str, Any]) -> None:
    if "video-id" in config:
        out["solution_video_url"] = video_url(config["video-id"])
        out["with_video"] = True
    video = config.get("video")
    if not isinstance(video, dict):
        return
    intro = video.get("intro")
    intro = intro if isinstance(intro, str) else _for_lang(intro, lang)
    if intro is not None:
        out["intro_video_url"] = video_url(intro)
    solution = video.get("solution")
    solution = solution if isinstance(solution, str) else _for_lang(solution, lang)
    if solution is not None:
        out.update(solution_video_url=video_url(solution), with_video=True, with_solutions=True)


def _solution(config: dict[str, Any], lang: str, out: dict[str, Any]) -> None:
    if "solution" not in config:
        return
    out["with_solutions"] = True
    solution = config["solution"]
    if isinstance(solution, str):
        out["solution_url"] = solution
    elif isinstance(solution, dict):
        keys = ("us", "en") if lang in ("us", "en") else (lang,)  # for English, `en` wins over `us`
        for key in keys:
            if key in solution:
                out["solution_url"] = as_text(solution[key])


def _interactive(config: dict[str, Any], out: dict[str, Any]) -> None:
    tutorial = config.get("projectType") == "tutorial"
    if "grading" not in config and not tutorial:
        out["interactive"] = False
    elif tutorial or config["grading"] in ("isolated", "incremental"):
        out["interactive"] = True
        out["gitpod"] = not config.get("localhostOnly")
    if "gitpod" in config:  # said outright, it wins
        if config["gitpod"] in (True, "True", "true", "1"):
            out["gitpod"] = True
        elif config["gitpod"] in (False, "False", "false", "0"):
            out["gitpod"] = False


def _delivery(config: dict[str, Any], asset: Mapping[str, Any], lang: str, out: dict[str, Any]) -> None:
    delivery = config.get("delivery")
    if not isinstance(delivery, dict):
        out.update(delivery_instructions="", delivery_formats="url", delivery_regex_url="")
        return
    instructions = delivery.get("instructions")
    if isinstance(instructions, str):
        out["delivery_instructions"] = instructions
    elif isinstance(instructions, dict) and lang in instructions:
        out["delivery_instructions"] = as_text(instructions[lang])
    formats = delivery.get("formats")
    if isinstance(formats, list | str):
        out["delivery_formats"] = ",".join(as_names(formats))
    url_delivered = "url" in (out.get("delivery_formats", asset.get("delivery_formats")) or "")
    if url_delivered and isinstance(delivery.get("regex"), str):
        out["delivery_regex_url"] = delivery["regex"].replace("\\\\", "\\")  # as written in JSON, unescaped once


def from_config(config: dict[str, Any], asset: Mapping[str, Any], *, path: str) -> ConfigFields:
    """The columns a configuration sets on `asset` (its row, with what its front matter just set);
    AssetError when it names no `preview`."""
    lang, asset_type = str(asset.get("lang") or ""), str(asset.get("asset_type"))
    out: dict[str, Any] = {"config": config}
    warnings: list[str] = []
    for key in ("title", "description"):
        value = _translated(config.get(key), lang, asset.get(key))
        if value:
            out[key] = value
    if not as_text(config.get("preview")):
        raise AssetError(f"Missing preview URL in {path}")
    out["preview"] = as_text(config["preview"])
    _videos(config, lang, out)
    duration = config.get("duration")
    if isinstance(duration, int | float) or (isinstance(duration, str) and duration.strip().isdigit()):
        out["duration"] = int(float(duration))
    if "template_url" not in config:
        out["template_url"] = None
    elif asset_type == "PROJECT":
        out["template_url"] = as_text(config["template_url"])
    else:
        warnings.append(ONLY_PROJECTS)
    if as_text(config.get("difficulty")):
        out["difficulty"] = str(config["difficulty"]).strip().upper()
    if "videoSolutions" in config:
        out.update(with_solutions=True, with_video=True)
    editor = config.get("editor")
    if isinstance(editor, dict) and "agent" in editor:
        out["agent"] = as_text(editor["agent"])
    _solution(config, lang, out)
    _interactive(config, out)
    if "technologies" in config:
        out["technologies"] = as_names(config["technologies"])
    _delivery(config, asset, lang, out)
    return ConfigFields(out, tuple(warnings))
