"""GitHub's rate-limit rules and Link parsing as pure functions."""

from __future__ import annotations

from email.utils import formatdate

import pytest

from ferry.github.pagination import parse_link
from ferry.github.ratelimits import (
    RateLimitInfo,
    Verdict,
    WaitPolicy,
    classify,
    exhausted_until,
    feedback,
    parse_headers,
    wait_seconds,
)

NOW = 1_700_000_000.0
POLICY = WaitPolicy(min_secondary_s=60, max_secondary_s=900, reset_margin_s=1)


@pytest.mark.parametrize(
    ("status", "info", "message", "verdict"),
    [
        (403, RateLimitInfo(remaining=0, reset_at=NOW + 30), "API rate limit exceeded", Verdict.PRIMARY),
        (429, RateLimitInfo(remaining=0, reset_at=NOW + 30), "", Verdict.PRIMARY),
        (403, RateLimitInfo(remaining=4000), "You have exceeded a secondary rate limit.", Verdict.SECONDARY),
        (403, RateLimitInfo(remaining=4000), "You have triggered an abuse detection mechanism.", Verdict.SECONDARY),
        (429, RateLimitInfo(remaining=10), "Too many requests", Verdict.SECONDARY),
        (403, RateLimitInfo(remaining=4000, retry_after_s=30), "", Verdict.SECONDARY),
        (403, RateLimitInfo(remaining=4000), "Resource not accessible by integration", Verdict.OK),
        (404, RateLimitInfo(remaining=0), "Not Found", Verdict.OK),
    ],
)
def test_classify(status: int, info: RateLimitInfo, message: str, verdict: Verdict) -> None:
    assert classify(status, info, message) is verdict


def test_waits_follow_githubs_order() -> None:
    both = RateLimitInfo(remaining=0, reset_at=NOW + 500, retry_after_s=7)
    assert wait_seconds(Verdict.PRIMARY, both, now=NOW, strikes=1, policy=POLICY) == 7  # Retry-After first
    reset = RateLimitInfo(remaining=0, reset_at=NOW + 500)
    assert wait_seconds(Verdict.PRIMARY, reset, now=NOW, strikes=1, policy=POLICY) == 501
    bare = RateLimitInfo(remaining=100)
    waits = [wait_seconds(Verdict.SECONDARY, bare, now=NOW, strikes=n, policy=POLICY) for n in range(1, 7)]
    assert waits == [60, 120, 240, 480, 900, 900]
    assert exhausted_until(reset, now=NOW, policy=POLICY) == NOW + 501
    assert exhausted_until(RateLimitInfo(remaining=1, reset_at=NOW + 5), now=NOW, policy=POLICY) is None


def test_headers_and_feedback() -> None:
    headers = {"x-ratelimit-limit": "5000", "x-ratelimit-remaining": "0", "x-ratelimit-used": "5000",
               "x-ratelimit-reset": str(int(NOW) + 60), "x-ratelimit-resource": "core",
               "retry-after": formatdate(NOW + 30, usegmt=True)}
    info = parse_headers(headers, NOW)
    assert (info.limit, info.remaining, info.used, info.reset_at) == (5000, 0, 5000, NOW + 60)
    assert info.retry_after_s == pytest.approx(30, abs=1)
    report = feedback("github:octo", 403, info, Verdict.PRIMARY)
    assert report is not None
    assert report.remaining == 0
    assert report.reset_at == NOW + 60
    assert not report.secondary
    secondary = feedback("github:octo", 429, RateLimitInfo(), Verdict.SECONDARY)
    assert secondary is not None
    assert secondary.secondary
    assert secondary.retry_after_s is None
    assert feedback("github:octo", 502, RateLimitInfo(), Verdict.OK) is None
    assert parse_headers({"retry-after": "soon"}, NOW).retry_after_s is None


def test_parse_link() -> None:
    header = ('<https://api.github.com/repositories/1/pulls?state=all&page=2>; rel="next", '
              '<https://api.github.com/repositories/1/pulls?state=all&page=5>; rel="last"')
    assert parse_link(header) == {
        "next": "https://api.github.com/repositories/1/pulls?state=all&page=2",
        "last": "https://api.github.com/repositories/1/pulls?state=all&page=5",
    }
    assert parse_link(None) == {}
    assert parse_link("") == {}
