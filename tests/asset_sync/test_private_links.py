"""Links to the asset's own repository's files become the registry's internal links (with an owner
and FERRY_ASSET_SYNC_INTERNAL_LINK_URL); other repositories' links, code, and tokens' removal."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ferry_asset_sync.cleaning import clean
from ferry_asset_sync.links import InternalLinks
from ferry_asset_sync.settings import AssetSyncSettings

URL = "https://github.com/acme/course/blob/main/lessons/intro/README.md"
PROXY = "https://api.example.com/v1/registry/asset/internal-link"
LINKS = InternalLinks(PROXY, 42, URL)


def test_blob_and_raw_links_to_the_assets_own_repository_become_internal_links() -> None:
    raw = ("See [the notes](https://github.com/acme/course/blob/main/docs/notes.md) and\n"
           "![chart](https://raw.githubusercontent.com/acme/course/main/img/chart.png).\n"
           '<img src="https://github.com/Acme/Course/blob/dev/img/a.png?raw=true"> '
           "[part](https://github.com/acme/course/blob/main/docs/notes.md#part-2)\n")
    cleaned = clean(raw, URL, links=LINKS)
    assert cleaned.text == (
        f"See [the notes]({PROXY}?id=42&path=docs/notes.md) and\n"
        f"![chart]({PROXY}?id=42&path=img/chart.png).\n"
        f'<img src="{PROXY}?id=42&path=img/a.png"> '
        f"[part]({PROXY}?id=42&path=docs/notes.md#part-2)\n")
    assert cleaned.internal_links == 4


def test_other_repositories_and_links_that_name_no_file_stay() -> None:
    raw = ("[other](https://github.com/acme/other/blob/main/docs/notes.md) "
           "[fork](https://raw.githubusercontent.com/someone/course/main/a.md) "
           "[repo](https://github.com/acme/course) [tree](https://github.com/acme/course/tree/main/docs) "
           "[issue](https://github.com/acme/course/issues/3) [no path](https://github.com/acme/course/blob/main)\n")
    cleaned = clean(raw, URL, links=LINKS)
    assert cleaned.text == raw
    assert cleaned.internal_links == 0


def test_without_internal_links_the_links_stay_but_tokens_still_go() -> None:
    raw = ("[a](https://github.com/acme/course/blob/main/docs/a.md) "
           "[b](https://raw.githubusercontent.com/acme/course/main/docs/b.md?token=GHSAT0AAA123)\n")
    assert clean(raw, URL).text == ("[a](https://github.com/acme/course/blob/main/docs/a.md) "
                                    "[b](https://github.com/acme/course/blob/main/docs/b.md?raw=true)\n")
    with_links = clean(raw, URL, links=LINKS).text
    assert with_links == f"[a]({PROXY}?id=42&path=docs/a.md) [b]({PROXY}?id=42&path=docs/b.md)\n"
    assert "GHSAT" not in with_links


def test_links_in_code_are_left_as_written() -> None:
    raw = ("Text https://github.com/acme/course/blob/main/a.md\n\n"
           "```sh\ncurl https://raw.githubusercontent.com/acme/course/main/setup.sh\n```\n\n"
           "Inline `https://github.com/acme/course/blob/main/b.md`, then https://github.com/acme/course/blob/main/c.md\n")
    text = clean(raw, URL, links=LINKS).text
    assert text == (f"Text {PROXY}?id=42&path=a.md\n\n"
                    "```sh\ncurl https://raw.githubusercontent.com/acme/course/main/setup.sh\n```\n\n"
                    f"Inline `https://github.com/acme/course/blob/main/b.md`, then {PROXY}?id=42&path=c.md\n")


def test_relative_images_made_absolute_are_linked_internally_too() -> None:
    # step 1 makes them blob URLs of the asset's repository; step 3 then links them through the proxy
    text = clean("![d](./img/d.png)\n", URL, links=LINKS).text
    assert text == f"![d]({PROXY}?id=42&path=lessons/intro/./img/d.png)\n"


@pytest.mark.parametrize("bad", ["api.example.com/link", "ftp://api.example.com/link", "https://x.example/l?a=1"])
def test_the_internal_link_setting_must_be_a_plain_http_url(bad: str) -> None:
    with pytest.raises(ValidationError, match="asset_sync_internal_link_url"):
        AssetSyncSettings(asset_sync_internal_link_url=bad)
    assert AssetSyncSettings(asset_sync_internal_link_url=PROXY + "/").asset_sync_internal_link_url == PROXY
