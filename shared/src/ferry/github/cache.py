"""The client's ETag cache: answers kept for conditional requests, bounded by their size in bytes.

A 304 costs no quota on GitHub, so an answer worth asking for again is kept with its ETag and
revalidated with `If-None-Match`. Bounding by entries let a few thousand large bodies (pull request
files with their patches) hold hundreds of megabytes, so the bound is in bytes: the least recently
used answers leave first, and an answer larger than the whole bound is not kept at all. Answers a
caller will not ask for again (a crawl's pages) should not be offered (`GitHubClient.get(cache=False)`).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

DEFAULT_MAX_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class CachedAnswer:
    """One kept answer: its ETag, body and the headers worth replaying on a 304."""

    etag: str
    content: bytes
    headers: dict[str, str]

    @property
    def size(self) -> int:
        return len(self.etag) + len(self.content) + sum(len(k) + len(v) for k, v in self.headers.items())


class EtagCache:
    """Least recently used first out, never more than `max_bytes` of kept answers."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if max_bytes < 0:
            raise ValueError(f"the ETag cache bound must be >= 0 bytes, not {max_bytes}")
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple[str, str], CachedAnswer] = OrderedDict()
        self._bytes = 0

    @property
    def size_bytes(self) -> int:
        """Bytes the kept answers take (bodies, ETags, headers and keys)."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: tuple[str, str]) -> CachedAnswer | None:
        found = self._entries.get(key)
        if found is not None:
            self._entries.move_to_end(key)
        return found

    def put(self, key: tuple[str, str], answer: CachedAnswer) -> None:
        self.discard(key)
        size = answer.size + _key_size(key)
        if size > self.max_bytes:
            return
        self._entries[key] = answer
        self._bytes += size
        while self._bytes > self.max_bytes:
            old_key, old = self._entries.popitem(last=False)
            self._bytes -= old.size + _key_size(old_key)

    def discard(self, key: tuple[str, str]) -> None:
        old = self._entries.pop(key, None)
        if old is not None:
            self._bytes -= old.size + _key_size(key)


def _key_size(key: tuple[str, str]) -> int:
    return len(key[0]) + len(key[1])
