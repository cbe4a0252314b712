"""Which page of a newest-first list to ask for next, so a sync never asks for a page it does not need.

Peloton's archived list ignores date filters, so a window in the middle of the catalogue is found by
position. Pages fetched so far bound the air times of the pages between them; a page is still
needed only if those bounds meet the window. Among the needed pages the next one is:

- the page right after a fetched page that reaches into the window (the window goes on there);
- else, where the window's end (its newest class) should be, interpolated from the fetched pages
  around it (the first page's own spacing when nothing older is known yet), leaning a little
  towards older classes so that a near miss lands inside the window rather than before it.

Paging ends when no page can hold a class of the window: for a window ending in the past that is
the first page (to learn the list's length) plus the pages overlapping the window, and at most one
page more when an estimate misses.
"""

from __future__ import annotations

from dataclasses import dataclass

from ferry_peloton_sync.rules import Window


@dataclass(frozen=True)
class Seen:
    """A fetched page: its number, how many classes it had and its newest and oldest air times."""

    page: int
    count: int
    newest: int
    oldest: int


def _meets(window: Window, newest: float, oldest: float) -> bool:
    """Whether classes aired between `oldest` and `newest` can fall in the window."""
    return not (window.end is not None and oldest >= window.end) and not (
        window.start is not None and newest < window.start)


def next_page(window: Window, seen: list[Seen], page_count: int, limit: int) -> int | None:
    """The next page to fetch after `seen` (page 0 always among them), or None when paging is done."""
    pages = sorted(seen, key=lambda s: s.page)
    fetched = {s.page for s in pages}
    gaps: list[tuple[Seen, Seen | None]] = []
    for before, after in zip(pages, [*pages[1:], None], strict=True):
        last = after.page if after is not None else page_count
        if last - before.page > 1:
            newest, oldest = float(before.oldest), float(after.newest if after is not None else 0)
            if _meets(window, newest, oldest if after is not None else float("-inf")):
                gaps.append((before, after))
    for before, _after in gaps:  # continue a window already entered
        if window.end is None or before.oldest < window.end:
            return before.page + 1
    for before, after in gaps:
        guess = _estimate(window, pages, before, after, limit)
        high = (after.page - 1) if after is not None else page_count - 1
        page = max(before.page + 1, min(high, guess))
        if page not in fetched:
            return page
    return None


def _estimate(window: Window, pages: list[Seen], before: Seen, after: Seen | None, limit: int) -> int:
    """The page where the window's end should fall, between `before` and `after`."""
    assert window.end is not None  # a gap not yet entered is only searched for a window with an end
    first_index = before.page * limit + before.count - 1  # the index of `before`'s oldest class
    if after is not None:
        span_items = after.page * limit - first_index
        span_time = max(1.0, float(before.oldest - after.newest))
    else:
        top, bottom = pages[0], before
        if bottom.page > top.page:  # spacing over everything fetched
            span_items = bottom.page * limit + bottom.count - 1
            span_time = max(1.0, float(top.newest - bottom.oldest))
        else:  # the first page's own spacing
            span_items = max(1, top.count - 1)
            span_time = max(1.0, float(top.newest - top.oldest))
    per_item = span_time / span_items
    index = first_index + (before.oldest - window.end) / per_item
    lean = max(1, limit // 10)  # a near miss should land inside the window, not on a page before it
    return int((index + lean) // limit)
