"""End to end: an asset with an owner gets internal links to its own repository's files, one without
keeps them; every cleaned README is also rendered to `html`; a configuration's registry fields land."""

from __future__ import annotations

from ferry_sandbox import RepoConfig
from tests.asset_sync.harness import GH, add_assets, assets_by_slug, run_job, sandbox_config, stack, with_repos
from tests.runtime.harness import EventTap
from tests.support.infra import Infra

PROXY = "https://registry.example/v1/registry/asset/internal-link"
README = ("---\ntitle: Notes\n---\n\n# Notes\n\nRead [the guide](https://github.com/4geeks-demo/course/blob/main/guide.md)"
          " and [elsewhere](https://github.com/4geeks-demo/lessons/blob/main/x.md).\n\n"
          "```sh\ncurl https://raw.githubusercontent.com/4geeks-demo/course/main/setup.sh\n```\n")
COURSE = RepoConfig(owner="4geeks-demo", name="course", pulls=0, files={"notes/README.md": README})


def notes(slug: str, **extra: str) -> dict[str, str]:
    return {"slug": slug, "lang": "en", "asset_type": "LESSON", "status": "PUBLISHED",
            "readme_url": f"{GH}/course/blob/main/notes/README.md", **extra}


async def test_owned_assets_link_privately_and_every_readme_gets_its_html(infra: Infra) -> None:
    config = with_repos(sandbox_config(), COURSE)
    async with stack(infra, config, asset_sync_internal_link_url=PROXY), EventTap.open(infra) as tap:
        await add_assets(infra, [notes("owned", owner="carol"), notes("unowned"),
                                 {"slug": "html-hello-es", "lang": "es", "asset_type": "EXERCISE",
                                  "status": "PUBLISHED", "readme_url": f"{GH}/html-hello/blob/main/README.md"}])
        final = await run_job(tap, delay=0)
        got = await assets_by_slug(infra)
    assert final.type == "completed", final.message
    assert (final.total, final.succeeded, final.failed) == (3, 3, 0)
    owned, unowned = got["owned"], got["unowned"]
    assert f"[the guide]({PROXY}?id={owned['id']}&path=guide.md)" in owned["readme"]
    assert "[elsewhere](https://github.com/4geeks-demo/lessons/blob/main/x.md)" in owned["readme"]  # other repository
    assert "curl https://raw.githubusercontent.com/4geeks-demo/course/main/setup.sh" in owned["readme"]  # code
    assert "[the guide](https://github.com/4geeks-demo/course/blob/main/guide.md)" in unowned["readme"]  # no owner
    assert owned["html"].startswith("<p>Read <a href=")  # front matter and first H1 left out
    assert f'<a href="{PROXY}?id={owned["id"]}&amp;path=guide.md">the guide</a>' in owned["html"]
    assert '<pre><code class="language-sh">curl' in owned["html"]
    hello = got["html-hello-es"]
    assert "<p>Escribe tu primera página.</p>" in hello["html"]
    assert (hello["interactive"], hello["with_video"], hello["with_solutions"]) == (False, True, True)
    assert (hello["delivery_formats"], hello["delivery_instructions"]) == ("url", "")
