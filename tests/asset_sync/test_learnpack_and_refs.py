"""LearnPack packages (README per language, learn.json / bc.json) and branches or tags with dots and slashes."""

from __future__ import annotations

import json

from tests.asset_sync.harness import OTHERS, add_assets, assets_by_slug, run_job, sandbox_config, stack
from tests.runtime.harness import EventTap
from tests.support.infra import Infra


async def test_learnpack_configs_and_refs_then_a_forced_run_costs_nothing(infra: Infra) -> None:
    async with stack(infra, sandbox_config()) as box, EventTap.open(infra) as tap:
        await add_assets(infra, OTHERS)
        first = await run_job(tap, delay=0)
        got = await assets_by_slug(infra)
        used = sum(a["quota_used"] for a in box.stats()["accounts"].values())
        again = await run_job(tap, delay=0, force=True)
        used_again = sum(a["quota_used"] for a in box.stats()["accounts"].values())
        paths = [e["path"] + "?" + e["query"] for e in box.state.log]
    assert first.type == "completed", first.message
    assert (first.total, first.succeeded, first.failed) == (5, 5, 0)  # no-url is never selected
    hello = got["html-hello-es"]
    assert hello["readme_raw"].startswith("# Hola HTML")  # README.es.md beside the URL's path
    assert (hello["title"], hello["description"]) == ("Hola HTML", "Hola HTML, paso a paso.")
    assert (hello["difficulty"], hello["duration"], hello["intro_video_url"]) == ("BEGINNER", 2, "https://youtu.be/intro")
    assert hello["solution_video_url"] == "https://youtu.be/solution"
    assert hello["preview"].endswith("preview.png")
    assert hello["technologies"] == ["html", "css"]
    assert json.loads(hello["config"])["slug"] == "hello-html"
    assert hello["template_url"] is None  # projects only
    assert hello["readme"].startswith("\n![preview](https://github.com/4geeks-demo/html-hello/blob/main/./preview.png")
    todo = got["todo-project"]
    assert todo["readme_raw"].startswith("# Todo list")  # the default branch (master), no blob/ in the URL
    assert todo["template_url"] == "https://github.com/4geeks-demo/react-template"  # from .learn/bc.json
    assert "Old." in got["intro-v1"]["readme_raw"]  # the tag v1.0
    assert got["intro-v1"]["title"] == "Intro (v1.0)"
    assert "Draft." in got["new-intro"]["readme_raw"]  # the branch feature/new-intro
    assert any("contents/docs/intro.md?ref=feature%2Fnew-intro" in p for p in paths)
    assert again.type == "completed", again.message
    assert (again.detail["result"]["unchanged"], again.detail["result"]["pulled"]) == (5, 0)
    assert used_again == used
