"""`content-fetch.fetch` end to end: the content sandbox, the real rate limiter, broker and database."""

from __future__ import annotations

from tests.content_fetch.harness import FINAL, by_source, feed_source, serve_content, stack, start, trivia_source
from tests.runtime.harness import EventTap
from tests.status.conftest import job_when, running_status
from tests.support.infra import Infra, query


async def test_both_stores_mcqs_and_headlines_and_a_rerun_adds_nothing(infra: Infra) -> None:
    async with serve_content() as box:
        sources = [trivia_source(box, "general", amount=10, category=9),
                   feed_source(box, "world", "world"), feed_source(box, "tech", "tech")]
        async with stack(infra, sources) as _, EventTap.open(infra) as tap:
            first = await tap.until(await start(tap, type="both"), FINAL, timeout=60)
            second = await tap.until(await start(tap, type="both"), FINAL, timeout=60)
        feed_stats = box.state.stats()["feeds"]
        trivia_stats = box.trivia_stats("opentdb")
    assert first.type == "completed", first.message
    # paced by the limiter at the API's one request per 5 s: never refused (no code 5)
    assert trivia_stats["by_code"] == {"0": 2}
    assert trivia_stats["tokens_issued"] == 1
    result = first.detail["result"]
    assert result["mcq_status"] == "✓ Completed"
    assert result["current_affairs_status"] == "✓ Completed"
    assert (result["total_items"], result["new_items"], result["error_count"]) == (10 + 20 + 15, 45, 0)
    assert result["success_count"] == result["processed_items"] == 45
    assert result["timeout_s"] == 300  # the default: the old command's 5 minutes
    logs = by_source(result)
    assert (logs["general"]["fetched"], logs["general"]["new"]) == (10, 10)
    assert (logs["world"]["new"], logs["tech"]["new"]) == (20, 15)
    questions = await query(infra, "SELECT question, correct_answer FROM content_fetch.mcq_questions")
    assert len(questions) == 20  # ten from each run: the session token never returns a question twice
    assert all("&quot;" not in q["question"] and "&#039;" not in q["question"] for q in questions)
    headlines = await query(infra, "SELECT source, title FROM content_fetch.headlines")
    assert sorted({h["source"] for h in headlines}) == ["tech", "world"]
    assert len(headlines) == 35
    # the second run: the feeds answer 304 (nothing parsed), the token gives new questions only
    assert second.type == "completed", second.message
    again = second.detail["result"]
    assert by_source(again)["world"]["unchanged"]
    assert by_source(again)["tech"]["unchanged"]
    assert again["unchanged_sources"] == 2
    assert feed_stats["world"]["not_modified"] == 1
    assert feed_stats["tech"]["not_modified"] == 1
    assert (by_source(again)["general"]["new"], by_source(again)["general"]["duplicates"]) == (10, 0)
    assert len(await query(infra, "SELECT 1 FROM content_fetch.headlines")) == 35


async def test_one_type_skips_the_other_and_a_failing_source_leaves_the_rest_done(infra: Infra) -> None:
    async with serve_content() as box:
        await box.patch({"feeds": {"world": {"fail_next": 5}}})
        sources = [trivia_source(box, "general", amount=5),
                   feed_source(box, "world", "world"), feed_source(box, "broken", "broken"),
                   feed_source(box, "tech", "tech")]
        async with stack(infra, sources) as _, EventTap.open(infra) as tap:
            news = await tap.until(await start(tap, type="current_affairs"), FINAL, timeout=60)
            mcq = await tap.until(await start(tap, type="mcq"), FINAL, timeout=60)
    assert news.type == "completed", news.message
    result = news.detail["result"]
    assert result["mcq_status"] == "skipped"
    assert result["current_affairs_status"].startswith("✗ Failed: ")
    assert "world: HTTP 503" in result["current_affairs_status"]
    assert "broken: malformed feed: line 2, column 82: mismatched tag" in result["current_affairs_status"]
    logs = by_source(result)
    assert set(logs) == {"world", "broken", "tech"}
    assert logs["tech"]["new"] == 15
    assert logs["tech"]["error"] is None
    assert result["error_count"] == 2
    assert news.failed == 2
    assert mcq.detail["result"]["current_affairs_status"] == "skipped"
    assert mcq.detail["result"]["mcq_status"] == "✓ Completed"


async def test_a_job_past_its_timeout_fails_naming_the_source_still_running(infra: Infra) -> None:
    # The old command's 408: the status API shows the job failed, "timed out after N s", and what still ran.
    async with serve_content() as box:
        await box.patch({"feeds": {"slow": {"delay_s": 5.0}}})
        sources = [feed_source(box, "slow", "slow"), feed_source(box, "tech", "tech")]
        async with stack(infra, sources) as _, running_status(infra) as status, EventTap.open(infra) as tap:
            job_id = await start(tap, type="current_affairs", timeout_s=2)
            done = await tap.until(job_id, FINAL, timeout=60)
            shown = await job_when(status.client, job_id, lambda job: job["status"] == "failed")
    assert done.type == "failed"
    assert done.message.startswith("timed out after 2 s; still running: slow")
    assert shown["error"] == "timed out after 2 s; still running: slow"
    result = shown["result"]
    assert result["timed_out"] is True
    assert result["error_message"] == "timed out after 2 s; still running: slow"
    assert result["current_affairs_status"] == "✗ Failed: timed out after 2 s; still running: slow"
    assert result["mcq_status"] == "skipped"
    assert by_source(result)["tech"]["new"] == 15  # the source that finished in time keeps its items
    assert len(await query(infra, "SELECT 1 FROM content_fetch.headlines WHERE source = 'slow'")) == 0


async def test_questions_met_again_are_counted_as_duplicates_not_stored_twice(infra: Infra) -> None:
    # Without a session token, a bank of 2 questions per category answers amount=2 with the same two.
    async with serve_content() as box:
        await box.patch({"trivia": {"opentdb": {"per_category": 2}}})
        sources = [trivia_source(box, "tiny", amount=2, category=17, encode="base64", use_token=False)]
        async with stack(infra, sources) as _, EventTap.open(infra) as tap:
            first = await tap.until(await start(tap, type="mcq"), FINAL, timeout=60)
            second = await tap.until(await start(tap, type="mcq"), FINAL, timeout=60)
    assert (first.succeeded, first.skipped) == (2, 0), first.message
    assert (second.succeeded, second.skipped) == (0, 2), second.message
    assert by_source(second.detail["result"])["tiny"]["duplicates"] == 2
    rows = await query(infra, "SELECT category, question FROM content_fetch.mcq_questions")
    assert len(rows) == 2
    assert {r["category"] for r in rows} == {"Science & Nature"}  # base64 decoded


async def test_a_long_retry_after_does_not_keep_a_job_past_its_timeout(infra: Infra) -> None:
    # A feed says "come back in 10 minutes": the step parks only until the job's deadline, then fails it.
    async with serve_content() as box:
        await box.patch({"feeds": {"world": {"fail_next": 1, "fail_status": 429, "retry_after_s": 600}}})
        # tech as if on another host: a 429 pauses the host's bucket, here world's alone
        sources = [feed_source(box, "world", "world"), {**feed_source(box, "tech", "tech"), "rate_key": "http:tech"}]
        # the timeout from the setting (FERRY_CONTENT_FETCH_TIMEOUT_S) this time, no --timeout
        async with stack(infra, sources, content_fetch_timeout_s=3) as _, EventTap.open(infra) as tap:
            done = await tap.until(await start(tap, type="current_affairs"), FINAL, timeout=60)
        world = box.state.stats()["feeds"]["world"]
    assert done.type == "failed"
    assert done.message.startswith("timed out after 3 s; still running: world")
    assert (world["requests"], world["errors"]) == (1, 1)  # not asked again while it said to wait
    assert by_source(done.detail["result"])["tech"]["new"] == 15


async def test_a_dry_run_counts_what_would_be_new_and_stores_nothing(infra: Infra) -> None:
    async with serve_content() as box:
        sources = [feed_source(box, "world", "world"), feed_source(box, "tech", "tech")]
        async with stack(infra, sources) as _, EventTap.open(infra) as tap:
            dry = await tap.until(await start(tap, type="current_affairs", dry_run=True), FINAL, timeout=60)
            stored_after_dry = len(await query(infra, "SELECT 1 FROM content_fetch.headlines"))
            validators = len(await query(infra, "SELECT 1 FROM content_fetch.feed_validators"))
            real = await tap.until(await start(tap, type="current_affairs"), FINAL, timeout=60)
    assert dry.type == "completed", dry.message
    assert dry.message.startswith("Would store 35 new items of 35 fetched")
    assert (stored_after_dry, validators) == (0, 0)  # nor an ETag kept: the real run fetches in full
    assert by_source(real.detail["result"])["world"]["unchanged"] is False
    assert real.detail["result"]["new_items"] == 35


async def test_a_type_with_no_sources_configured_is_said_so(infra: Infra) -> None:
    async with serve_content() as box:
        sources = [feed_source(box, "tech", "tech")]
        async with stack(infra, sources) as _, EventTap.open(infra) as tap:
            both = await tap.until(await start(tap, type="both"), FINAL, timeout=60)
            mcq = await tap.until(await start(tap, type="mcq"), FINAL, timeout=60)
    assert both.type == "completed", both.message
    assert both.detail["result"]["mcq_status"] == "✗ Failed: no MCQ sources in FERRY_CONTENT_SOURCES"
    assert both.detail["result"]["current_affairs_status"] == "✓ Completed"
    assert mcq.type == "failed"
    assert mcq.message.startswith("no sources for --type mcq in FERRY_CONTENT_SOURCES")
