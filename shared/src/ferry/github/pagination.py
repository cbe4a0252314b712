"""GitHub's `Link` header: `<url>; rel="next", <url>; rel="last"` -> {"next": url, "last": url}.

Follow the URLs as given: after the first page GitHub may switch them to the
`/repositories/{id}/...` form, and they already carry every query parameter.
"""

from __future__ import annotations

import re

_PART = re.compile(r'<(?P<url>[^>]*)>\s*((?:;\s*[^;,]+)*)')
_REL = re.compile(r'rel\s*=\s*"?(?P<rel>[^";]+)"?')

PER_PAGE = 100  # GitHub's maximum: the fewest requests for a listing


def parse_link(header: str | None) -> dict[str, str]:
    """The URLs of a Link header by relation (empty when absent)."""
    links: dict[str, str] = {}
    if not header:
        return links
    for match in _PART.finditer(header):
        rel = _REL.search(match.group(2) or "")
        if rel is not None:
            for name in rel["rel"].split():
                links.setdefault(name, match["url"].strip())
    return links
