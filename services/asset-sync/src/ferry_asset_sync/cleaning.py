r"""Cleaning a README the way the registry does (docs/asset-sync.md has the rules), in this order:

1. relative image paths (`./` or `../`, right after `(`, `'` or `"`, ending .png .jpg .jpeg .svg
   .gif) become `dirname(readme_url) + "/" + path + "?raw=true"`;
2. `<!-- hide -->` ... `<!-- endhide -->` blocks are removed; an odd number of markers (or an
   `endhide` before its `hide`) is a cleaning error;
3. private GitHub URLs (`links.py`): raw links carrying a `?token=` lose it; with an internal-link
   URL set and an asset that has an owner, the asset's own repository's file links become the
   registry's internal links;
4. the first level-1 heading is removed when it is the first thing after the front matter (which
   is kept);
5. content variables: `{% name %}` or `{% name:default %}` (the registry's pattern,
   `{%\s+([^\s%]+)\s+%}`: no space inside the name or default) becomes the variable's value (its
   `value`, else its `default_value`), else the default written after the first `:`, taken as
   written, quotes included; a variable neither defined nor given a default is left as
   `{% name %}` and reported as missing, without failing the cleaning (the registry logs it and
   carries on). The variables are those of the asset's language and those of none
   (`asset_sync.content_variable`); the asset's language wins over none.

Code is left as written: fenced and indented code blocks and inline code spans are found with a
CommonMark parser (markdown-it-py) and set aside before any rule runs, so an example of a hide
marker or of an image inside code is never touched.

`render_html` renders the cleaned README as the registry's `html` (front matter left out).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache

from markdown_it import MarkdownIt
from mdit_py_plugins.front_matter import front_matter_plugin

from ferry_asset_sync.errors import CleaningError
from ferry_asset_sync.links import InternalLinks, internal_links, rewrite_token_links
from ferry_asset_sync.urls import readme_dir

TOO_MANY_HIDES = "Readme with to many <!-- hide -> comments"
"""The registry's own message for unbalanced hide markers (its spelling, kept for whoever greps it)."""

_HIDE = re.compile(r"<!--\s*(end)?hide\s*-->")
_IMAGE = re.compile(r"""(?<=[("'])(\.\.?/[^\s()"'<>?#]*?\.(?:png|jpe?g|svg|gif))(?![\w?#])""", re.IGNORECASE)
_VARIABLE = re.compile(r"{%\s+([^\s%]+)\s+%}")
_INLINE_CODE = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.DOTALL)
_PLACEHOLDER = "\x00{kind}{n}\x00"
_RESTORE = re.compile(r"\x00([BI])(\d+)\x00")


@cache
def commonmark() -> MarkdownIt:
    """The CommonMark parser (front matter recognised), made once: a parse keeps no state in it."""
    return MarkdownIt("commonmark").use(front_matter_plugin)


@dataclass(frozen=True)
class Cleaned:
    text: str
    images: int
    hidden_blocks: int
    private_urls: int
    h1_removed: bool
    variables: int = 0
    missing_variables: tuple[str, ...] = field(default=())
    internal_links: int = 0


class _Shelf:
    """Code set aside behind placeholders while the rules run, then put back verbatim."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def put(self, kind: str, text: str) -> str:
        self.items.append(text)
        return _PLACEHOLDER.format(kind=kind, n=len(self.items) - 1)

    def restore(self, text: str) -> str:
        return _RESTORE.sub(lambda m: self.items[int(m[2])], text)


def _shelve_code(text: str, shelf: _Shelf) -> str:
    """The text with code blocks (whole lines) and inline code spans replaced by placeholders."""
    lines = text.splitlines(keepends=True)
    blocks = [t.map for t in commonmark().parse(text) if t.type in ("fence", "code_block") and t.map]
    out: list[str] = []
    at = 0
    for start, end in blocks:
        out.append(_shelve_inline("".join(lines[at:start]), shelf))
        block = "".join(lines[start:end])
        ending = "\n" if block.endswith("\n") else ""
        out.append(shelf.put("B", block.removesuffix("\n")) + ending)
        at = end
    out.append(_shelve_inline("".join(lines[at:]), shelf))
    return "".join(out)


def _shelve_inline(prose: str, shelf: _Shelf) -> str:
    return _INLINE_CODE.sub(lambda m: shelf.put("I", m[0]), prose)


def absolute_images(text: str, readme_url: str) -> tuple[str, int]:
    base = readme_dir(readme_url)
    return _IMAGE.subn(lambda m: f"{base}/{m[1]}?raw=true", text)


def remove_hidden(text: str) -> tuple[str, int]:
    markers = list(_HIDE.finditer(text))
    if len(markers) % 2:
        raise CleaningError(TOO_MANY_HIDES)
    out, at = [], 0
    for opening, closing in zip(markers[::2], markers[1::2], strict=True):
        if opening[1] is not None or closing[1] is None:  # endhide first, or hide twice in a row
            raise CleaningError(TOO_MANY_HIDES)
        out.append(text[at:opening.start()])
        at = closing.end()
    out.append(text[at:])
    return "".join(out), len(markers) // 2


def replace_variables(text: str, variables: Mapping[str, str | None]) -> tuple[str, int, tuple[str, ...]]:
    """The text with its content variables replaced; how many were, and the names left as they were."""
    replaced, missing = 0, []

    def one(found: re.Match[str]) -> str:
        nonlocal replaced
        name, colon, default = found[1].strip().partition(":")
        name = name.strip()
        value = variables.get(name, default.strip() if colon else None)
        if value is None:
            if name not in missing:
                missing.append(name)
            return found[0] if name in variables else "{% " + name + " %}"
        replaced += 1
        return value

    return _VARIABLE.sub(one, text), replaced, tuple(missing)


def strip_first_h1(text: str) -> tuple[str, bool]:
    """Remove the first block when it is a level-1 heading (ATX or setext) after the front matter."""
    first = next((t for t in commonmark().parse(text) if t.level == 0 and t.nesting >= 0 and t.type != "front_matter"),
                 None)
    if first is None or first.type != "heading_open" or first.tag != "h1" or not first.map:
        return text, False
    start, end = first.map
    lines = text.splitlines(keepends=True)
    return "".join(lines[:start] + lines[end:]), True


def render_html(text: str) -> str:
    """The README as HTML, its front matter left out (the registry renders it after cleaning)."""
    return str(commonmark().render(text)).strip("\n")


def clean(raw: str, readme_url: str, variables: Mapping[str, str | None] | None = None,
          links: InternalLinks | None = None) -> Cleaned:
    """The cleaned README; CleaningError (with the registry's message) when it cannot be cleaned.
    `links`: where the asset's private files are served (None: its links are left as they are,
    but for their tokens).

    Content variables are replaced with the rest of the prose, before the code is put back (so an
    example `{% tag %}` in code stays); the registry replaces them after stripping the H1, which
    gives the same text, since a heading is removed whatever it says."""
    shelf = _Shelf()
    text = _shelve_code(raw, shelf)
    text, images = absolute_images(text, readme_url)
    text, hidden = remove_hidden(text)
    text, private = rewrite_token_links(text)
    text, internal = internal_links(text, links) if links is not None else (text, 0)
    text, replaced, missing = replace_variables(text, variables or {})
    text = shelf.restore(text)
    text, h1 = strip_first_h1(text)
    return Cleaned(text, images, hidden, private, h1, replaced, missing, internal)
