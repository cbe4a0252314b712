"""The registry's cleaning rules, one by one, and code left as written."""

from __future__ import annotations

import re

import pytest

from ferry_asset_sync.cleaning import TOO_MANY_HIDES, clean
from ferry_asset_sync.errors import CleaningError

URL = "https://github.com/acme/lessons/blob/main/lessons/intro/README.md"
BASE = "https://github.com/acme/lessons/blob/main/lessons/intro"


def test_relative_images_become_absolute_raw_urls_beside_the_readme() -> None:
    raw = "![a](./img/a.png) <img src=\"../b.JPG\"> <img src='./c.svg'> ![d](./d.gif) ![e](./e.jpeg)\n"
    text = clean(raw, URL).text
    assert f"![a]({BASE}/./img/a.png?raw=true)" in text
    assert f'<img src="{BASE}/../b.JPG?raw=true">' in text
    assert f"<img src='{BASE}/./c.svg?raw=true'>" in text
    assert f"{BASE}/./d.gif?raw=true" in text
    assert f"{BASE}/./e.jpeg?raw=true" in text


def test_other_links_are_left_alone() -> None:
    raw = "![x](https://cdn.example/x.png) ![y](img/y.png) [doc](./doc.md) ![z](./z.png?raw=true) ![w](./w.pdf)\n"
    assert clean(raw, URL).text == raw


def test_hide_blocks_are_removed_whatever_the_spacing() -> None:
    raw = "keep 1\n<!-- hide -->\nsecret\n<!--endhide-->\nkeep 2 <!--hide-->inline secret<!--  endhide  --> end\n"
    cleaned = clean(raw, URL)
    assert cleaned.text == "keep 1\n\nkeep 2  end\n"
    assert cleaned.hidden_blocks == 2


@pytest.mark.parametrize("raw", [
    "a\n<!-- hide -->\nb\n",
    "a\n<!-- hide -->\nb\n<!-- endhide -->\n<!-- endhide -->\n",
    "a\n<!-- endhide -->\nb\n<!-- hide -->\n",
])
def test_unbalanced_hide_markers_are_a_cleaning_error(raw: str) -> None:
    with pytest.raises(CleaningError, match=re.escape(TOO_MANY_HIDES)):
        clean(raw, URL)


def test_code_blocks_and_inline_code_are_untouched() -> None:
    raw = (
        "# Title\n\nText\n\n```md\n![x](./inside.png)\n<!-- hide -->\n# not a heading\n```\n\n"
        "    ![y](./indented.png) <!-- endhide -->\n\n"
        "Inline `![z](./inline.png)` and ``<!-- hide -->`` stay.\n"
    )
    text = clean(raw, URL).text
    assert "```md\n![x](./inside.png)\n<!-- hide -->\n# not a heading\n```" in text
    assert "    ![y](./indented.png) <!-- endhide -->" in text
    assert "Inline `![z](./inline.png)` and ``<!-- hide -->`` stay." in text
    assert not text.startswith("# Title")


def test_the_first_h1_goes_and_the_front_matter_stays() -> None:
    raw = "---\ntitle: Intro\nslug: intro\n---\n\n# Intro to things\n\nBody\n\n# Second H1\n"
    cleaned = clean(raw, URL)
    assert cleaned.h1_removed
    assert cleaned.text == "---\ntitle: Intro\nslug: intro\n---\n\n\nBody\n\n# Second H1\n"


def test_an_h1_that_is_not_first_or_an_h2_stays() -> None:
    assert clean("Intro text\n\n# Later\n", URL).text == "Intro text\n\n# Later\n"
    assert clean("## Sub\n\ntext\n", URL).text == "## Sub\n\ntext\n"
    assert clean("Setext title\n===\n\ntext\n", URL).text == "\ntext\n"


def test_private_raw_urls_lose_their_token() -> None:
    raw = "see https://raw.githubusercontent.com/acme/private-notes/main/docs/a.md?token=GHSAT0AAA123 now\n"
    cleaned = clean(raw, URL)
    assert cleaned.text == "see https://github.com/acme/private-notes/blob/main/docs/a.md?raw=true now\n"
    assert "GHSAT" not in cleaned.text


def test_rules_run_in_the_registrys_order() -> None:
    # the image inside a hidden block is rewritten first, then removed with the block; the H1 goes last
    raw = "# T\n<!-- hide -->\n![a](./a.png)\n<!-- endhide -->\n![b](./b.png)\n"
    cleaned = clean(raw, URL)
    assert cleaned.images == 2
    assert cleaned.hidden_blocks == 1
    assert cleaned.h1_removed
    assert cleaned.text == f"\n![b]({BASE}/./b.png?raw=true)\n"


# -- content variables (the registry's `{%\s+([^\s%]+)\s+%}`) ------------------------------------------

def test_a_defined_content_variable_is_replaced_by_its_value() -> None:
    cleaned = clean("Welcome to {% course %}, mail {% email %}.\n", URL, {"course": "Ferry 101", "email": "a@b.c"})
    assert cleaned.text == "Welcome to Ferry 101, mail a@b.c.\n"
    assert (cleaned.variables, cleaned.missing_variables) == (2, ())


def test_an_inline_default_is_used_only_when_the_variable_is_not_defined() -> None:
    raw = 'Cost: {% price:"$10" %} / {% seats:20 %}\n'
    assert clean(raw, URL).text == 'Cost: "$10" / 20\n'  # taken as written, quotes included
    assert clean(raw, URL, {"price": "$5"}).text == "Cost: $5 / 20\n"


def test_an_undefined_variable_without_a_default_stays_and_is_reported_but_cleaning_succeeds() -> None:
    cleaned = clean("Ask {% mentor %} or {% mentor %}.\n", URL, {"course": "x"})
    assert cleaned.text == "Ask {% mentor %} or {% mentor %}.\n"
    assert (cleaned.variables, cleaned.missing_variables) == (0, ("mentor",))


def test_a_variable_defined_with_neither_value_nor_default_leaves_the_text_as_written() -> None:
    cleaned = clean("Hi {%   who   %}!\n", URL, {"who": None})
    assert cleaned.text == "Hi {%   who   %}!\n"
    assert cleaned.missing_variables == ("who",)


@pytest.mark.parametrize("raw", [
    "{%course%}\n",                        # the registry's pattern needs a space on each side
    '{% course:"two words" %}\n',          # no space inside the name or its default
    "{% course %\n",
])
def test_what_the_registrys_pattern_does_not_match_stays(raw: str) -> None:
    assert clean(raw, URL, {"course": "X"}).text == raw


def test_variables_in_code_are_left_as_written() -> None:
    raw = "Use {% course %}.\n\n```liquid\n{% course %}\n```\n\nInline `{% course %}` too.\n"
    text = clean(raw, URL, {"course": "Ferry"}).text
    assert text == "Use Ferry.\n\n```liquid\n{% course %}\n```\n\nInline `{% course %}` too.\n"


def test_variables_are_replaced_after_the_hide_blocks_are_gone() -> None:
    raw = "<!-- hide -->\n{% secret %}\n<!-- endhide -->\n{% course %}\n"
    cleaned = clean(raw, URL, {"course": "C"})
    assert cleaned.text == "\nC\n"
    assert cleaned.missing_variables == ()  # the hidden one is never looked up
