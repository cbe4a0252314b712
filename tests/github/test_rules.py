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


@pytest.mark.parametrize(
    ("headers", "asked"),
    [
        ({"retry-after": "9" * 400}, "Retry-After beyond any bound"),  # float() of it is inf
        ({"retry-after": "1000000000"}, "Retry-After 1000000000s"),
        ({"retry-after": formatdate(NOW + 10 * 365 * 86400, usegmt=True)}, "Retry-After 315360000s"),
        ({"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) + 86400)}, "x-ratelimit-reset 86400s away"),
        ({"x-ratelimit-remaining": "0", "x-ratelimit-reset": "9" * 400}, "x-ratelimit-reset beyond any bound"),
    ],
)
def test_no_wait_from_an_answer_goes_beyond_the_cap(headers: dict[str, str], asked: str) -> None:
    info = parse_headers(headers, NOW, max_wait_s=3600)
    assert info.capped == f"{asked}, capped at 3600s"
    if info.retry_after_s is not None:
        assert info.retry_after_s == 3600
    if info.reset_at is not None:
        assert info.reset_at == NOW + 3600
    policy = WaitPolicy(max_upstream_s=3600)
    for verdict in (Verdict.PRIMARY, Verdict.SECONDARY):
        assert wait_seconds(verdict, info, now=NOW, strikes=1, policy=policy) <= 3600
    report = feedback("github:octo", 403, info, Verdict.SECONDARY)
    assert report is not None
    assert (report.retry_after_s or 0) <= 3600
    assert (report.reset_at or NOW) <= NOW + 3600
    assert parse_headers({"retry-after": "3600"}, NOW, max_wait_s=3600).capped is None  # at the cap: as given


def test_the_default_cap_is_one_hour_and_backoff_never_overflows() -> None:
    assert parse_headers({"retry-after": "7200"}, NOW).retry_after_s == 3600
    bare = RateLimitInfo(remaining=100)
    assert wait_seconds(Verdict.SECONDARY, bare, now=NOW, strikes=10_000, policy=POLICY) == 900
