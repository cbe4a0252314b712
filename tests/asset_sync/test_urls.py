"""Reading readme_url: GitHub only, branches with dots and slashes resolved against the refs."""

from __future__ import annotations

import pytest

from ferry_asset_sync.errors import AssetError
from ferry_asset_sync.urls import learnpack_readme, parse, split_ref


def test_a_blob_url_is_taken_apart() -> None:
    url = parse("https://github.com/acme/my.repo/blob/feature/x/docs/README.es.md", "s")
    assert (url.org, url.repo, url.after_blob) == ("acme", "my.repo", ("feature", "x", "docs", "README.es.md"))
    assert parse("https://github.com/acme/repo", "s").after_blob is None
    assert parse("https://github.com/acme/repo.git", "s").repo == "repo"


@pytest.mark.parametrize("url", [None, "", "https://gitlab.com/a/b/blob/main/README.md", "ftp://github.com/a/b",
                                 "https://github.com/acme", "https://github.com/acme/repo/issues/3"])
def test_missing_or_foreign_urls_are_the_registrys_error(url: str | None) -> None:
    with pytest.raises(AssetError, match=r"^Missing or invalid URL on les-1, it does not belong to github\.com$"):
        parse(url, "les-1")


def test_the_longest_matching_ref_wins() -> None:
    refs = {"main", "feature", "feature/x", "v1.0"}
    assert split_ref(("feature", "x", "docs", "a.md"), refs) == ("feature/x", "docs/a.md")
    assert split_ref(("feature", "y.md"), refs) == ("feature", "y.md")
    assert split_ref(("v1.0", "README.md"), refs) == ("v1.0", "README.md")
    assert split_ref(("nope", "README.md"), refs) is None
    assert split_ref(("main",), refs) is None  # a ref with no path names no file


def test_learnpack_readmes_per_language() -> None:
    assert learnpack_readme("", "en") == "README.md"
    assert learnpack_readme("", "us") == "README.md"
    assert learnpack_readme("exercises/01", "es") == "exercises/01/README.es.md"
