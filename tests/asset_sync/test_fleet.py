"""Several replicas on one job: each asset exactly once, --delay honoured fleet-wide, secondary limits
pause every replica."""

from __future__ import annotations

import itertools
import re
from collections import Counter

from tests.asset_sync.harness import (
    ALICE,
    BOB,
    add_assets,
    api_calls,
    many_lessons,
    query,
    run_job,
    sandbox_config,
    serve_sandbox,
    service,
    settings,
    with_repos,
)
from tests.gh_seeder.harness import rate_limiter
from tests.runtime.harness import EventTap
from tests.support.infra import Infra

_CONTENTS = re.compile(r"contents/(lessons/l\d{4}/README\.md)$")


def contents_hits(calls: list[dict[str, object]]) -> Counter[str]:
    return Counter(m[1] for c in calls if (m := _CONTENTS.search(str(c["path"]))))


async def test_two_replicas_share_one_job_and_process_every_asset_exactly_once(infra: Infra) -> None:
    repo, assets = many_lessons(40)
    async with serve_sandbox(with_repos(sandbox_config(latency_ms=5), repo)) as box, rate_limiter(infra), \
            service(settings(infra, box, tokens=[ALICE])), service(settings(infra, box, tokens=[BOB])), \
            EventTap.open(infra) as tap:
        await add_assets(infra, assets)
        final = await run_job(tap, delay=0, batch_size=10)
        messages = [e.message for e in tap.of(final.job_id)]
        calls = api_calls(box)
        outcomes = await query(infra, "SELECT pulled, cleaned, count(*) AS n FROM asset_sync.job_assets "
                                      "WHERE job_id = $1 GROUP BY 1, 2", final.job_id)
    assert final.type == "completed", final.message
    assert (final.total, final.succeeded, final.failed, final.skipped) == (40, 40, 0, 0)
    assert {(r["pulled"], r["cleaned"]): r["n"] for r in outcomes} == {("pulled", "cleaned"): 40}
    # the seed's output: assets found, batch information, each asset's result, progress every 5 assets
    assert "Found 40 assets to process, in 4 batches of up to 10" in messages
    assert [m for m in messages if m.startswith("Processing batch")] == [
        f"Processing batch {b + 1}/4: assets {b * 10 + 1}-{b * 10 + 10} (10)" for b in range(4)]
    assert sum(1 for m in messages if m.startswith("✓ lesson-") and "cleaned" in m) == 40
    assert [int(m.split("Progress: ")[1].split("/")[0]) for m in messages if "Progress: " in m] == list(range(5, 41, 5))
    hits = contents_hits(calls)
    assert set(hits.values()) == {1}
    assert len(hits) == 40
    # each replica has its own token (account): both worked on the job
    accounts = Counter(c["account"] for c in calls if _CONTENTS.search(str(c["path"])))
    assert set(accounts) == {"octo-alice", "octo-bob"}, accounts


async def test_delay_is_honoured_across_replicas_and_batches_wait_twice_as_long(infra: Infra) -> None:
    repo, assets = many_lessons(8)
    delay = 0.25
    async with serve_sandbox(with_repos(sandbox_config(), repo)) as box, rate_limiter(infra), \
            service(settings(infra, box)), service(settings(infra, box)), EventTap.open(infra) as tap:
        await add_assets(infra, assets)
        final = await run_job(tap, delay=delay, batch_size=4)
        calls = sorted(api_calls(box), key=lambda c: float(str(c["t"])))
    assert final.type == "completed", final.message
    assert final.succeeded == 8
    times = [float(str(c["t"])) for c in calls]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # The limiter grants the job's slots exactly --delay apart, fleet-wide; a call leaves a few ms after
    # its grant, later when this loaded test process (sandbox, limiter, both replicas) is busy: so the
    # spacing is checked over the whole job and over every three calls in a row (a call sent late
    # shortens the gap after it, never the next grant). Without the job's bucket they come ~5 ms apart.
    assert times[-1] - times[0] >= (len(times) - 1) * delay * 0.98, gaps
    # (each replica's first call also opens its HTTP connection after its grant: the first gaps are left out)
    # A call that leaves late (CI seen: 83 ms, at load 7) shortens the gap after it, and so the pair of
    # gaps starting there, by that much; the 100 ms allowed is still far from the ~10 ms of ungated calls.
    assert min(a + b for a, b in itertools.pairwise(gaps[2:])) >= 2 * delay - 0.1, gaps
    # the first call of the second batch waits two extra slots after the first batch's last call
    last_of_first = max(i for i, c in enumerate(calls) if re.search(r"l000[0-3]/README", str(c["path"])))
    assert gaps[last_of_first] >= 3 * delay * 0.9, gaps


async def test_a_secondary_limit_mid_job_pauses_every_replica(infra: Infra) -> None:
    repo, assets = many_lessons(30)
    config = with_repos(sandbox_config(secondary_every=17, secondary_pause_s=2.0, secondary_retry_after=True), repo)
    async with serve_sandbox(config) as box, rate_limiter(infra), service(settings(infra, box)), \
            service(settings(infra, box)), EventTap.open(infra) as tap:
        await add_assets(infra, assets)
        final = await run_job(tap, delay=0, batch_size=10, timeout=90)
        stats = box.stats()["accounts"]
        log = list(box.state.log)
    assert final.type == "completed", final.message
    assert (final.total, final.succeeded, final.failed) == (30, 30, 0)
    assert stats["octo-alice"]["secondary_limited"] + stats["octo-bob"]["secondary_limited"] >= 2, stats
    # Requests already in flight when a pause began still meet it (up to one per running step); after
    # that, neither replica sends anything to the paused account until the pause is over.
    for account in ("octo-alice", "octo-bob"):
        mine = [e for e in log if e["account"] == account]
        pauses: list[float] = []
        for entry in mine:
            if entry["status"] == 403 and (not pauses or entry["t"] >= pauses[-1] + 2.0):
                pauses.append(entry["t"])
        for start in pauses:
            late = [e for e in mine if start + 0.3 < e["t"] < start + 1.9]
            assert late == [], (account, start, late)
