"""A LearnPack configuration's fields, rule by rule, as the registry sets them at pull."""

from __future__ import annotations

from typing import Any

import pytest

from ferry_asset_sync.errors import AssetError
from ferry_asset_sync.learnpack import ONLY_PROJECTS, from_config

PREVIEW = {"preview": "https://example.com/p.png"}


def fields(config: dict[str, Any], **asset: Any) -> dict[str, Any]:
    asset = {"lang": "en", "asset_type": "EXERCISE", **asset}
    return from_config({**PREVIEW, **config}, asset, path="learn.json").updates


def test_a_plain_title_replaces_an_english_assets_or_an_empty_one_only() -> None:
    config = {"title": "Hello", "description": "Say hello"}
    assert (fields(config, title="Old")["title"], fields(config, lang="us")["description"]) == ("Hello", "Say hello")
    spanish = fields(config, lang="es", title="Hola", description="Di hola")
    assert "title" not in spanish
    assert "description" not in spanish
    assert fields(config, lang="es", title="", description=None)["title"] == "Hello"


def test_a_per_language_title_gives_the_assets_language_only() -> None:
    config = {"title": {"us": "Hello", "es": "Hola"}, "description": {"es": "Di hola"}}
    assert fields(config, lang="es")["title"] == "Hola"
    assert fields(config, lang="us")["title"] == "Hello"
    assert "title" not in fields(config, lang="en")  # an object is looked up by the language as written
    assert "description" not in fields(config, lang="it")


def test_the_preview_is_required() -> None:
    with pytest.raises(AssetError, match=r"^Missing preview URL in learn.json$"):
        from_config({"title": "x"}, {"lang": "en", "asset_type": "EXERCISE"}, path="learn.json")


def test_video_id_is_the_solution_video_and_bare_ids_are_youtube_videos() -> None:
    got = fields({"video-id": "abc123"})
    assert (got["solution_video_url"], got["with_video"]) == ("https://www.youtube.com/watch?v=abc123", True)
    loom = fields({"video": {"intro": "https://www.loom.com/embed/xyz"}})
    assert loom["intro_video_url"] == "https://www.loom.com/share/xyz"
    assert "with_video" not in loom  # an intro alone is not a video solution


def test_intro_and_solution_videos_per_language_with_en_and_us_standing_for_each_other() -> None:
    config = {"video": {"intro": {"en": "https://v/intro-en", "es": "https://v/intro-es"},
                        "solution": {"us": "https://v/sol-us"}}}
    us = fields(config, lang="us")
    assert (us["intro_video_url"], us["solution_video_url"]) == ("https://v/intro-en", "https://v/sol-us")
    assert (us["with_video"], us["with_solutions"]) == (True, True)
    assert fields(config, lang="en")["solution_video_url"] == "https://v/sol-us"
    es = fields(config, lang="es")
    assert es["intro_video_url"] == "https://v/intro-es"
    assert "solution_video_url" not in es
    assert "with_solutions" not in es
    plain = fields({"video": {"solution": "https://v/sol"}}, lang="es")
    assert (plain["solution_video_url"], plain["with_video"], plain["with_solutions"]) == ("https://v/sol", True, True)


def test_duration_and_difficulty() -> None:
    got = fields({"duration": 3, "difficulty": "intermediate"})
    assert (got["duration"], got["difficulty"]) == (3, "INTERMEDIATE")


def test_template_url_is_for_projects_and_cleared_when_absent() -> None:
    assert fields({"template_url": "https://github.com/a/t"}, asset_type="PROJECT")["template_url"] == (
        "https://github.com/a/t")
    assert fields({}, asset_type="PROJECT")["template_url"] is None
    exercise = from_config({**PREVIEW, "template_url": "https://github.com/a/t"},
                           {"lang": "en", "asset_type": "EXERCISE"}, path="learn.json")
    assert "template_url" not in exercise.updates  # left as it was
    assert exercise.warnings == (ONLY_PROJECTS,)


def test_video_solutions_agent_and_solution_url() -> None:
    assert {k: fields({"videoSolutions": True})[k] for k in ("with_solutions", "with_video")} == {
        "with_solutions": True, "with_video": True}
    assert fields({"editor": {"agent": "vscode"}})["agent"] == "vscode"
    plain = fields({"solution": "https://github.com/a/solution"}, lang="es")
    assert (plain["solution_url"], plain["with_solutions"]) == ("https://github.com/a/solution", True)
    per_lang = {"solution": {"us": "https://s/us", "en": "https://s/en", "es": "https://s/es"}}
    assert fields(per_lang, lang="us")["solution_url"] == "https://s/en"  # English: en wins over us
    assert fields(per_lang, lang="es")["solution_url"] == "https://s/es"
    missing = fields({"solution": {"es": "https://s/es"}}, lang="it")
    assert ("solution_url" in missing, missing["with_solutions"]) == (False, True)


@pytest.mark.parametrize(("config", "interactive", "gitpod"), [
    ({}, False, None),                                                     # no grading, not a tutorial
    ({"projectType": "project"}, False, None),
    ({"projectType": "tutorial"}, True, True),
    ({"grading": "isolated"}, True, True),
    ({"grading": "incremental", "localhostOnly": True}, True, False),
    ({"projectType": "tutorial", "localhostOnly": True}, True, False),
    ({"grading": "none"}, None, None),                                     # graded otherwise: left as it was
    ({"grading": "isolated", "gitpod": "false"}, True, False),             # said outright, it wins
])
def test_interactive_and_gitpod(config: dict[str, Any], interactive: bool | None, gitpod: bool | None) -> None:
    got = fields(config)
    assert (got.get("interactive"), got.get("gitpod")) == (interactive, gitpod)


def test_technologies_are_replaced_even_by_none() -> None:
    assert fields({"technologies": ["html", "css"]})["technologies"] == ["html", "css"]
    assert fields({"technologies": []})["technologies"] == []
    assert "technologies" not in fields({})


def test_delivery() -> None:
    got = fields({"delivery": {"instructions": {"es": "Sube tu URL"}, "formats": ["url", "zip"],
                               "regex": "^https:\\\\/\\\\/github"}}, lang="es")
    assert (got["delivery_instructions"], got["delivery_formats"]) == ("Sube tu URL", "url,zip")
    assert got["delivery_regex_url"] == "^https:\\/\\/github"
    none = fields({})
    assert (none["delivery_instructions"], none["delivery_formats"], none["delivery_regex_url"]) == ("", "url", "")
    files = fields({"delivery": {"formats": "zip", "regex": "x"}})
    assert files["delivery_formats"] == "zip"
    assert "delivery_regex_url" not in files  # a pattern only for URL deliveries
