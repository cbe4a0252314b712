"""Open Trivia DB sources end to end: each `response_code` as the API defines it, and each encoding.

The sandbox's sites behave like opentdb.com (tests/content_fetch/harness.py serves them); sites made
here answer without the 5 s per-client interval unless a test is about it, so the tests stay fast.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from ferry_sandbox.content_data import CATEGORIES
from tests.content_fetch.harness import FINAL, Box, by_source, serve_content, stack, start, trivia_source
from tests.runtime.harness import EventTap
from tests.support.infra import Infra, query

FAST = {"min_interval_s": 0}
"""A source option: no pacing of its own (the site's limit, when a test sets one, is what answers)."""


def stored(rows: list[Any]) -> set[tuple[str, ...]]:
    return {(r["category"], r["type"], r["difficulty"], r["question"], r["correct_answer"],
             *json.loads(r["incorrect_answers"])) for r in rows}


def bank_of(box: Box, site: str, category: int) -> set[tuple[str, ...]]:
    """The site's questions of `category` as plain text: what a correct client stores, whatever the encoding."""
    return {(CATEGORIES[q.category], q.type, q.difficulty, q.question, q.correct_answer, *q.incorrect_answers)
            for q in box.state.trivia[site].bank if q.category == category}


@pytest.mark.parametrize("encode", [None, "url3986", "base64"])
async def test_each_encoding_is_decoded_to_the_plain_text(infra: Infra, encode: str | None) -> None:
    # Five questions a category, all asked for: the whole of category 9, whose texts carry quotes, `&`, `<b>`,
    # accented and non-Latin letters (HTML entities by default, percent-escapes, base64 on the wire).
    async with serve_content() as box:
        await box.trivia_site("enc", per_category=5, min_interval_s=0)
        sources = [trivia_source(box, "enc", site="enc", amount=5, category=9, encode=encode, use_token=False, **FAST)]
        async with stack(infra, sources) as _, EventTap.open(infra) as tap:
            done = await tap.until(await start(tap, type="mcq"), FINAL, timeout=60)
        asked = [entry["query"].get("encode") for entry in box.state.log if entry["path"].endswith("api.php")]
        expected = bank_of(box, "enc", 9)
    assert done.type == "completed", done.message
    assert asked == [encode]
    rows = await query(infra, "SELECT category, type, difficulty, question, correct_answer, "
                              "incorrect_answers::text AS incorrect_answers FROM content_fetch.mcq_questions")
    assert stored(rows) == expected
    assert any("Łódź" in q[3] for q in expected)  # the characters the encodings exist for were on the wire
    assert any('"Fish & Chips"' in q[3] for q in expected)
    assert by_source(done.detail["result"])["enc"]["new"] == 5


async def test_codes_1_and_2_and_a_5xx_are_their_source_s_error_and_the_others_finish(infra: Infra) -> None:
    async with serve_content() as box:
        await box.trivia_site("small", per_category=3, min_interval_s=0)   # 3 questions: amount=10 gets code 1
        await box.trivia_site("down", min_interval_s=0, fail_next=5)       # an HTML 503 page, not the JSON API
        await box.trivia_site("fine", per_category=10, min_interval_s=0)
        sources = [
            trivia_source(box, "too-many", site="small", amount=10, category=9, use_token=False, **FAST),
            trivia_source(box, "no-such-category", site="fine", amount=5, category=99, use_token=False, **FAST),
            trivia_source(box, "unavailable", site="down", amount=5, use_token=False, **FAST),
            trivia_source(box, "good", site="fine", amount=5, category=23, use_token=False, **FAST),
        ]
        async with stack(infra, sources) as _, EventTap.open(infra) as tap:
            done = await tap.until(await start(tap, type="mcq"), FINAL, timeout=60)
        codes = {site: box.trivia_stats(site)["by_code"] for site in ("small", "fine")}
    assert done.type == "completed", done.message
    assert codes == {"small": {"1": 1}, "fine": {"2": 1, "0": 1}}
    result = done.detail["result"]
    logs = by_source(result)
    assert logs["too-many"]["error"].startswith("not enough questions for this query (response code 1")
    assert logs["no-such-category"]["error"].startswith("invalid parameter (response code 2)")
    assert logs["unavailable"]["error"].startswith("HTTP 503 from 127.0.0.1:")
    assert (logs["good"]["error"], logs["good"]["new"]) == (None, 5)
    assert result["mcq_status"].startswith("✗ Failed: ")
    for name in ("too-many", "no-such-category", "unavailable"):
        assert f"{name}: {logs[name]['error']}" in result["mcq_status"]
        assert f"{name}: {logs[name]['error']}" in result["error_message"]
    assert result["current_affairs_status"] == "skipped"
    assert (result["error_count"], result["success_count"], done.failed, done.succeeded) == (3, 5, 3, 5)
    assert len(await query(infra, "SELECT 1 FROM content_fetch.mcq_questions")) == 5


async def test_code_3_an_expired_token_is_replaced_and_the_fetch_goes_on(infra: Infra) -> None:
    async with serve_content() as box:
        await box.trivia_site("forgetful", per_category=20, min_interval_s=0, token_idle_s=0.5)
        sources = [trivia_source(box, "general", site="forgetful", amount=5, category=9, **FAST)]
        async with stack(infra, sources) as _, EventTap.open(infra) as tap:
            first = await tap.until(await start(tap, type="mcq"), FINAL, timeout=60)
            token = (await query(infra, "SELECT token FROM content_fetch.trivia_tokens"))[0]["token"]
            await asyncio.sleep(1.0)  # unused longer than the site keeps tokens: it deletes it
            second = await tap.until(await start(tap, type="mcq"), FINAL, timeout=60)
        stats = box.trivia_stats("forgetful")
    assert (first.type, second.type) == ("completed", "completed"), (first.message, second.message)
    assert stats["by_code"] == {"0": 2, "3": 1}
    assert stats["tokens_issued"] == 2
    log = by_source(second.detail["result"])["general"]
    assert (log["error"], log["fetched"], log["requests"]) == (None, 5, 3)  # the old token, a new one, again
    # a new token starts afresh, so it may give a question the old one gave: stored once, counted duplicate
    assert log["new"] + log["duplicates"] == 5
    assert len(await query(infra, "SELECT 1 FROM content_fetch.mcq_questions")) == 5 + log["new"]
    assert (await query(infra, "SELECT token FROM content_fetch.trivia_tokens"))[0]["token"] != token


async def test_code_4_an_exhausted_token_is_reset_and_the_fetch_tried_again(infra: Infra) -> None:
    # Four questions in category 9, three a fetch: the second fetch's token has only one unseen left.
    async with serve_content() as box:
        await box.trivia_site("narrow", per_category=4, min_interval_s=0)
        sources = [trivia_source(box, "general", site="narrow", amount=3, category=9, **FAST)]
        async with stack(infra, sources) as _, EventTap.open(infra) as tap:
            first = await tap.until(await start(tap, type="mcq"), FINAL, timeout=60)
            second = await tap.until(await start(tap, type="mcq"), FINAL, timeout=60)
        stats = box.trivia_stats("narrow")
    assert (first.type, second.type) == ("completed", "completed"), (first.message, second.message)
    assert stats["by_code"] == {"0": 2, "4": 1}
    assert (stats["tokens_issued"], stats["tokens_reset"]) == (1, 1)
    log = by_source(second.detail["result"])["general"]
    assert log["error"] is None
    assert log["warning"] == "the session token had returned every matching question; it was reset"
    assert log["fetched"] == 3
    assert log["new"] + log["duplicates"] == 3
    rows = await query(infra, "SELECT 1 FROM content_fetch.mcq_questions")
    assert len(rows) == 3 + log["new"]
    assert second.detail["result"]["mcq_status"] == "✓ Completed"


async def test_code_5_pauses_the_source_and_fetches_once_the_interval_has_passed(infra: Infra) -> None:
    # The site allows one request per client every 5 s; the source does not pace itself, so its question
    # request right after the token request is refused (code 5, HTTP 429). The step parks until the pause
    # the limiter took from that answer is over, then fetches: one refusal, no failure.
    async with serve_content() as box:
        await box.trivia_site("strict", per_category=20, min_interval_s=5)
        sources = [trivia_source(box, "general", site="strict", amount=5, category=9, **FAST)]
        async with stack(infra, sources) as _, EventTap.open(infra) as tap:
            done = await tap.until(await start(tap, type="mcq"), FINAL, timeout=60)
        statuses = [entry["status"] for entry in box.state.log if "/trivia/strict/" in entry["path"]]
        stats = box.trivia_stats("strict")
    assert done.type == "completed", done.message
    assert statuses == [200, 429, 200]  # token, refused, questions: nothing sent while paused
    assert stats["by_code"] == {"5": 1, "0": 1}
    assert (done.succeeded, done.failed) == (5, 0)
    log = by_source(done.detail["result"])["general"]
    assert (log["error"], log["new"]) == (None, 5)
    assert done.detail["result"]["mcq_status"] == "✓ Completed"
